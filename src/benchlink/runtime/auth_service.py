"""Logins, sessions, password changes and service tokens: the policy of ``core.auth`` put to work.

Passwords are hashed with scrypt (memory-hard: n=2**14, r=8, p=1, 16 MiB and ~50 ms per guess
here) and a per-user random salt; the parameters are stored in the hash so they can be raised
later without invalidating existing accounts. Service tokens are 256-bit random secrets: a fast
SHA-256 digest is enough for them (nobody can brute-force 2**256), and only the digest is kept.

The GUI calls :meth:`AuthService.authenticate` and then asks the :class:`Session` whether it is
``locked(now, idle_minutes)``; nothing here imports Qt or blocks on anything but the KDF.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from benchlink.core.auth import (
    AccountDisabledError,
    AccountLockedError,
    Actor,
    AuthError,
    BadCredentialsError,
    LockoutPolicy,
    PasswordPolicy,
    Permission,
    Role,
    SecurityPolicy,
    SessionLockedError,
    UnknownUserError,
    grantable,
    idle_expired,
    validate_username,
)
from benchlink.runtime.settings import ConfigError, Settings, read_toml
from benchlink.storage.store import Store
from benchlink.storage.users import StoredSecrets, UserRecord, UserStore

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
TOKEN_PREFIX = "blt"

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$key`` (base64, no padding); a fresh random salt unless one is given."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=KEY_BYTES)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time compare; a malformed or empty stored hash never verifies."""
    try:
        scheme, n_text, r_text, p_text, salt_text, key_text = encoded.split("$")
        if scheme != "scrypt":
            return False
        n, r, p = int(n_text), int(r_text), int(p_text)
        salt, expected = _unb64(salt_text), _unb64(key_text)
    except ValueError:
        return False
    if not (2 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16 and expected):
        return False  # refuse parameters that would let a tampered row exhaust memory
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=len(expected),
                         maxmem=256 * 1024 * 1024)
    return hmac.compare_digest(key, expected)


_dummy_hash: str | None = None
_dummy_lock = threading.Lock()


def _burn_kdf(password: str) -> None:
    """Spend the same KDF time for an unknown user as for a known one (no user-name oracle)."""
    global _dummy_hash
    with _dummy_lock:
        if _dummy_hash is None:
            _dummy_hash = hash_password(secrets.token_hex(16))
        dummy = _dummy_hash
    verify_password(password, dummy)


def token_digest(secret: str) -> str:
    return "sha256$" + hashlib.sha256(secret.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """The only time the token exists in clear: show it once, store only the digest."""

    username: str
    token: str


def _split_token(token: str) -> tuple[int, str] | None:
    parts = token.strip().split("_")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1].isdigit() or len(parts[2]) < 32:
        return None
    return int(parts[1]), parts[2]


def policy_from_settings(settings: Settings, environ: Mapping[str, str] | None = None) -> SecurityPolicy:
    """Read the optional ``[security]`` table of config.toml and ``BENCHLINK_IDLE_MINUTES``.

    Keys: ``idle_minutes`` (0 = never lock), ``min_password_length``, ``max_failures``,
    ``lockout_minutes``. Unknown keys are an error, as everywhere else in the configuration.
    """
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    if settings.config_file.exists():
        section = read_toml(settings.config_file).get("security", {})
        if not isinstance(section, dict):
            raise ConfigError(f"{settings.config_file}: [security] must be a table")
        raw = dict(section)
    known = {"idle_minutes", "min_password_length", "max_failures", "lockout_minutes"}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{settings.config_file}: [security] unknown key(s) {sorted(unknown)}; "
                          f"known keys are {sorted(known)}")
    try:
        idle = float(env.get("BENCHLINK_IDLE_MINUTES") or raw.get("idle_minutes", 10.0))
        min_len = int(raw.get("min_password_length", 10))
        failures = int(raw.get("max_failures", 5))
        lock_minutes = float(raw.get("lockout_minutes", 15.0))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{settings.config_file}: [security] {exc}; use numbers") from exc
    if min_len < 8:
        raise ConfigError(f"{settings.config_file}: [security] min_password_length = {min_len}: use 8 or more")
    if failures < 1 or lock_minutes <= 0:
        raise ConfigError(f"{settings.config_file}: [security] max_failures must be >= 1 and lockout_minutes > 0")
    return SecurityPolicy(PasswordPolicy(min_length=min_len), LockoutPolicy(failures, lock_minutes), idle)


class Session:
    """A logged-in person at the workstation; locks after idle time, unlocks with the password.

    ``locked()`` latches: once idle time has run out the session stays locked until
    :meth:`unlock` succeeds, even if ``touch()`` is called afterwards by a stray event.
    The role is the one proven at login or the last unlock.
    """

    def __init__(self, service: AuthService, actor: Actor, now: datetime) -> None:
        self._service = service
        self._actor = actor
        self._last_activity = now
        self._locked = False

    @property
    def actor(self) -> Actor:
        return self._actor

    @property
    def username(self) -> str:
        return self._actor.username

    @property
    def last_activity(self) -> datetime:
        return self._last_activity

    def touch(self, now: datetime | None = None) -> None:
        """Record activity (a key press, a click); ignored while locked."""
        if not self._locked:
            self._last_activity = now or self._service.now()

    def lock(self) -> None:
        self._locked = True

    def locked(self, now: datetime | None = None, idle_minutes: float | None = None) -> bool:
        if not self._locked:
            minutes = self._service.policy.idle_minutes if idle_minutes is None else idle_minutes
            if idle_expired(self._last_activity, now or self._service.now(), minutes):
                self._locked = True
        return self._locked

    def unlock(self, password: str) -> None:
        """Raises :class:`AuthError` (wrong password counts towards the lockout, like a login)."""
        fresh = self._service.authenticate(self._actor.username, password)
        self._actor = fresh.actor
        self._last_activity = fresh.last_activity
        self._locked = False

    def can(self, permission: Permission) -> bool:
        return not self._locked and self._actor.can(permission)

    def require(self, permission: Permission) -> Actor:
        if self._locked:
            raise SessionLockedError()
        self._actor.require(permission)
        return self._actor


class AuthService:
    """The one place that checks secrets; safe to share between threads."""

    def __init__(self, store: Store, *, policy: SecurityPolicy | None = None, clock: Clock = _utcnow) -> None:
        self.users = UserStore(store)
        self.policy = policy or SecurityPolicy()
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    def has_users(self) -> bool:
        return self.users.count() > 0

    # ------------------------------------------------------------------ logins
    def authenticate(self, username: str, password: str) -> Session:
        """Check a password; raises :class:`BadCredentialsError`, :class:`AccountLockedError` or
        :class:`AccountDisabledError`. Five failures in a row lock the account (policy)."""
        now = self.now()
        try:
            name = validate_username(username)
        except ValueError:
            name = ""
        stored = self.users.secrets(name) if name else None
        if stored is None:
            _burn_kdf(password)
            self.users.record_unknown_failure(via="password", at=now)
            raise BadCredentialsError()
        user = stored.user
        if LockoutPolicy.is_locked(user.locked_until, now):
            assert user.locked_until is not None
            raise AccountLockedError(user.username, user.locked_until)
        if len(password) > self.policy.password.max_length or not verify_password(password, stored.password_hash):
            self._failed(user, now, "wrong password")
        if user.disabled:
            raise AccountDisabledError(user.username)
        self.users.record_login(user.username, via="password", at=now)
        return Session(self, Actor(user.username, user.role, "password"), now)

    def _failed(self, user: UserRecord, now: datetime, reason: str) -> None:
        _attempts, until = self.users.record_failure(user.username, self.policy.lockout, reason=reason, at=now)
        if until is not None:
            raise AccountLockedError(user.username, until)
        raise BadCredentialsError()

    def authenticate_token(self, token: str) -> Actor:
        """A service token (``benchlink users token``) as an :class:`Actor` with its user's role."""
        now = self.now()
        parsed = _split_token(token)
        stored: StoredSecrets | None = None
        if parsed is not None:
            stored = self.users.secrets_by_id(parsed[0])
        if parsed is None or stored is None or not stored.token_hash or not hmac.compare_digest(
            stored.token_hash, token_digest(parsed[1])
        ):
            self.users.record_unknown_failure(via="token", at=now)
            raise BadCredentialsError("service token not recognised (revoked, or mistyped); "
                                      "ask an admin for a new one: `benchlink users token NAME`")
        if stored.user.disabled:
            raise AccountDisabledError(stored.user.username)
        self.users.record_login(stored.user.username, via="token", at=now)
        return Actor(stored.user.username, stored.user.role, "token")

    # ------------------------------------------------------------------ account management
    def create_first_admin(self, username: str, password: str) -> Actor:
        """Only while no user exists: the first start makes its operator the admin."""
        name = validate_username(username)
        if self.has_users():
            raise AuthError("users already exist; log in and use `benchlink users add` instead")
        self.policy.password.check(password, name)
        self.users.create(name, name, Role.ADMIN, hash_password(password), at=self.now())
        return Actor(name, Role.ADMIN, "first-start")

    def add_user(self, actor: Actor, username: str, role: Role, password: str) -> UserRecord:
        actor.require(Permission.USERS_EDIT)
        self._may_manage(actor, role)
        name = validate_username(username)
        self.policy.password.check(password, name)
        return self.users.create(actor.username, name, role, hash_password(password), at=self.now())

    def _may_manage(self, actor: Actor, role: Role) -> None:
        if not grantable(actor.role, role):
            raise AuthError(f"{actor.username!r} ({actor.role.value}) cannot manage {role.value} accounts; "
                            "ask an admin")

    def _target(self, username: str) -> UserRecord:
        name = validate_username(username)
        user = self.users.get(name)
        if user is None:
            raise UnknownUserError(name)
        return user

    def change_own_password(self, username: str, old_password: str, new_password: str) -> None:
        """The current password is the credential (a wrong one counts towards the lockout)."""
        name = validate_username(username)
        self.policy.password.check(new_password, name)
        session = self.authenticate(name, old_password)
        if hmac.compare_digest(old_password.encode("utf-8"), new_password.encode("utf-8")):
            raise AuthError("the new password is the current one; choose a different password")
        self.users.set_password_hash(session.username, session.username, hash_password(new_password), at=self.now())

    def reset_password(self, actor: Actor, username: str, new_password: str) -> None:
        """Someone else's password: needs ``users.edit`` and a role at least as high as theirs."""
        user = self._target(username)
        if user.username == actor.username:
            raise AuthError("to change your own password, give the current one (`benchlink users passwd`)")
        actor.require(Permission.USERS_EDIT)
        self._may_manage(actor, user.role)
        self.policy.password.check(new_password, user.username)
        self.users.set_password_hash(actor.username, user.username, hash_password(new_password), at=self.now())

    def set_disabled(self, actor: Actor, username: str, disabled: bool) -> None:
        actor.require(Permission.USERS_EDIT)
        user = self._target(username)
        self._may_manage(actor, user.role)
        if disabled and user.username == actor.username:
            raise AuthError("you cannot disable your own account; ask another supervisor or admin")
        if disabled and user.role is Role.ADMIN and not user.disabled and self._active_admins() <= 1:
            raise AuthError(f"{user.username!r} is the last active admin; add another admin first")
        self.users.set_disabled(actor.username, user.username, disabled, at=self.now())

    def _active_admins(self) -> int:
        return sum(1 for u in self.users.list() if u.role is Role.ADMIN and not u.disabled)

    def unlock_user(self, actor: Actor, username: str) -> None:
        actor.require(Permission.USERS_EDIT)
        user = self._target(username)
        self._may_manage(actor, user.role)
        self.users.unlock(actor.username, user.username, at=self.now())

    def list_users(self, actor: Actor) -> list[UserRecord]:
        actor.require(Permission.USERS_EDIT)
        return self.users.list()

    def issue_token(self, actor: Actor, username: str) -> IssuedToken:
        """A new token replaces the old one (which stops working at once)."""
        actor.require(Permission.TOKENS_ISSUE)
        user = self._target(username)
        if user.disabled:
            raise AccountDisabledError(user.username)
        secret = secrets.token_urlsafe(32).replace("_", "-")
        self.users.set_token_hash(actor.username, user.username, token_digest(secret), at=self.now())
        return IssuedToken(user.username, f"{TOKEN_PREFIX}_{user.id}_{secret}")

    def revoke_token(self, actor: Actor, username: str) -> None:
        actor.require(Permission.TOKENS_ISSUE)
        user = self._target(username)
        self.users.set_token_hash(actor.username, user.username, "", at=self.now())

