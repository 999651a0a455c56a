"""Who may do what: roles, the permission table, the password and lockout policies, auth errors.

Pure data and arithmetic only. Hashing, clocks and storage live in ``runtime.auth_service`` and
``storage.users``; keeping the rules here lets the GUI, the CLI and the tests share one table
and lets a reviewer read the whole access policy in one screen.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType


class Role(enum.StrEnum):
    """Ordered from least to most privileged; a higher role holds every lower role's rights."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(f"unknown role {text!r}: use one of {', '.join(r.value for r in cls)}") from None


_RANKS = {Role.OPERATOR: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}


class Permission(enum.StrEnum):
    RESULTS_VIEW = "results.view"
    EXPORT = "export"
    ORDERS_EDIT = "orders.edit"
    QUARANTINE_EDIT = "quarantine.edit"
    SERVE = "serve"
    DEVICES_EDIT = "devices.edit"
    MAPPINGS_EDIT = "mappings.edit"
    USERS_EDIT = "users.edit"
    AUDIT_VIEW = "audit.view"
    TOKENS_ISSUE = "tokens.issue"


#: The least role that holds each permission (issue 9: data edits for supervisors and up,
#: exports and order entry for operators and up, the audit view for supervisors and up;
#: service tokens are made by an admin only).
PERMISSIONS: Mapping[Permission, Role] = MappingProxyType(
    {
        Permission.RESULTS_VIEW: Role.OPERATOR,
        Permission.EXPORT: Role.OPERATOR,
        Permission.ORDERS_EDIT: Role.OPERATOR,
        Permission.QUARANTINE_EDIT: Role.OPERATOR,
        Permission.SERVE: Role.OPERATOR,
        Permission.DEVICES_EDIT: Role.SUPERVISOR,
        Permission.MAPPINGS_EDIT: Role.SUPERVISOR,
        Permission.USERS_EDIT: Role.SUPERVISOR,
        Permission.AUDIT_VIEW: Role.SUPERVISOR,
        Permission.TOKENS_ISSUE: Role.ADMIN,
    }
)


def allowed(role: Role, permission: Permission) -> bool:
    return role.at_least(PERMISSIONS[permission])


# --------------------------------------------------------------------------- errors
class AuthError(Exception):
    """Base of every authentication and authorisation failure; the message is safe to show."""


class BadCredentialsError(AuthError):
    """Unknown user or wrong password: deliberately the same message, so names cannot be probed."""

    def __init__(self, message: str = "unknown user or wrong password; check both and try again") -> None:
        super().__init__(message)


class AccountLockedError(AuthError):
    def __init__(self, username: str, until: datetime) -> None:
        self.username = username
        self.until = until
        super().__init__(
            # Local time: the operator reading it compares it with the clock on their screen.
            f"user {username!r} is locked after repeated failed logins until "
            f"{until.astimezone():%Y-%m-%d %H:%M} (UTC{until.astimezone():%z}); "
            "wait, or ask a supervisor to run `benchlink users unlock`"
        )


class AccountDisabledError(AuthError):
    def __init__(self, username: str) -> None:
        self.username = username
        super().__init__(f"user {username!r} is disabled; ask a supervisor to enable the account")


class PermissionDeniedError(AuthError):
    def __init__(self, username: str, role: Role, permission: Permission) -> None:
        self.username = username
        self.permission = permission
        need = PERMISSIONS[permission]
        super().__init__(
            f"user {username!r} ({role.value}) may not {permission.value}: it needs the {need.value} role "
            "or higher; ask a supervisor"
        )


class WeakPasswordError(AuthError):
    def __init__(self, problems: tuple[str, ...]) -> None:
        self.problems = problems
        super().__init__("password rejected: " + "; ".join(problems))


class CredentialsRequiredError(AuthError):
    """A command that changes data ran without credentials and cannot prompt for them."""


class SessionLockedError(AuthError):
    def __init__(self) -> None:
        super().__init__("the session is locked after inactivity; enter your password to unlock it")


class UserExistsError(AuthError):
    def __init__(self, username: str) -> None:
        super().__init__(f"user {username!r} already exists; pick another name or use `benchlink users passwd`")


class UnknownUserError(AuthError):
    def __init__(self, username: str) -> None:
        super().__init__(f"no user {username!r}; `benchlink users list` shows who exists")


# --------------------------------------------------------------------------- who is acting
@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated principal behind an action; ``username`` is what the audit trail records.

    ``via`` says how it was proven: ``password``, ``token`` (a headless service), ``first-start``
    (the admin created by the very first run) or ``system`` (no users exist yet; nothing to check).
    """

    username: str
    role: Role
    via: str = "password"

    def can(self, permission: Permission) -> bool:
        return allowed(self.role, permission)

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise PermissionDeniedError(self.username, self.role, permission)


_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")


def validate_username(name: str) -> str:
    """Lower-case names only: ``Alice`` and ``alice`` must never be two accounts."""
    clean = name.strip().lower()
    if not _USERNAME.fullmatch(clean):
        raise ValueError(
            f"user name {name!r} is not allowed: use 2-64 characters a-z, 0-9, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return clean


# --------------------------------------------------------------------------- policies
#: Passwords that pass a length rule yet are guessed first; a short list, checked case-insensitively.
COMMON_PASSWORDS = frozenset(
    {
        "password", "password1", "password123", "passw0rd", "p@ssw0rd", "123456789", "1234567890",
        "12345678910", "qwertyuiop", "qwerty123", "iloveyou1", "letmein123", "welcome123", "changeme",
        "changeme123", "administrator", "admin12345", "benchlink", "benchlink1", "laboratory",
        "laboratory1", "supervisor", "operator1", "abcdefghij", "1q2w3e4r5t", "trustno1!",
    }
)


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """Length over composition (NIST SP 800-63B): long, not common, not the user name.

    ``max_length`` bounds the KDF input so a megabyte "password" cannot be used to burn CPU.
    """

    min_length: int = 10
    max_length: int = 256
    min_distinct: int = 5

    def problems(self, password: str, username: str = "") -> tuple[str, ...]:
        found: list[str] = []
        if len(password) < self.min_length:
            found.append(f"use at least {self.min_length} characters (got {len(password)})")
        if len(password) > self.max_length:
            found.append(f"use at most {self.max_length} characters")
        if len(set(password)) < self.min_distinct:
            found.append(f"use at least {self.min_distinct} different characters")
        lowered = password.lower()
        if lowered in COMMON_PASSWORDS:
            found.append("this password is on the list of commonly used passwords")
        if username and len(username) >= 3 and username.lower() in lowered:
            found.append("do not include the user name")
        if password != password.strip():
            found.append("do not start or end with spaces")
        return tuple(found)

    def check(self, password: str, username: str = "") -> None:
        problems = self.problems(password, username)
        if problems:
            raise WeakPasswordError(problems)


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """After ``max_failures`` consecutive failures the account is locked for ``lock_minutes``."""

    max_failures: int = 5
    lock_minutes: float = 15.0

    def after_failure(self, failed_attempts: int, now: datetime) -> tuple[int, datetime | None]:
        """The new failure count and, once the limit is reached, when the lock ends.

        The counter restarts after a lock so that the next lock again takes ``max_failures``
        attempts, not one.
        """
        attempts = failed_attempts + 1
        if attempts >= self.max_failures:
            return 0, now + timedelta(minutes=self.lock_minutes)
        return attempts, None

    @staticmethod
    def is_locked(locked_until: datetime | None, now: datetime) -> bool:
        return locked_until is not None and now < locked_until


@dataclass(frozen=True, slots=True)
class SecurityPolicy:
    """Everything configurable about logins; ``idle_minutes`` <= 0 disables the idle lock."""

    password: PasswordPolicy = field(default_factory=PasswordPolicy)
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    idle_minutes: float = 10.0


def idle_expired(last_activity: datetime, now: datetime, idle_minutes: float) -> bool:
    if idle_minutes <= 0:
        return False
    return now - last_activity >= timedelta(minutes=idle_minutes)


def grantable(granter: Role, role: Role) -> bool:
    """A user may hand out, reset or disable only roles up to their own (no self-promotion)."""
    return granter.at_least(role)
