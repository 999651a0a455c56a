"""The ``users`` table: accounts, lockout counters and service-token hashes, every change audited.

This module stores what it is given. It never sees a password: callers hand over encoded KDF
hashes and token digests, and the audit entries record *that* a secret changed, never the
hash itself (a hash in an append-only trail could never be removed again).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from benchlink.core.auth import LockoutPolicy, Role, UnknownUserError, UserExistsError
from benchlink.storage.database import WRITE_OPTION
from benchlink.storage.schema import users
from benchlink.storage.store import Store


@dataclass(frozen=True, slots=True)
class UserRecord:
    """An account as shown to people: no secrets in it, so it is safe to print or log."""

    id: int
    username: str
    role: Role
    disabled: bool
    created_at: datetime
    failed_attempts: int
    locked_until: datetime | None
    password_changed_at: datetime | None
    last_login_at: datetime | None
    has_token: bool
    token_created_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredSecrets:
    """The record plus its stored secrets, for the one caller that verifies them."""

    user: UserRecord
    password_hash: str
    token_hash: str


def _record(row: Any) -> UserRecord:
    return UserRecord(
        id=int(row.id),
        username=row.username,
        role=Role(row.role),
        disabled=bool(row.disabled),
        created_at=row.created_at,
        failed_attempts=int(row.failed_attempts or 0),
        locked_until=row.locked_until,
        password_changed_at=row.password_changed_at,
        last_login_at=row.last_login_at,
        has_token=bool(row.token_hash),
        token_created_at=row.token_created_at,
    )


def _now(at: datetime | None) -> datetime:
    return at if at is not None else datetime.now(UTC)


class UserStore:
    """CRUD over ``users``; each change and its audit entry commit in one transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._engine = store.engine
        self._audit = store.audit()

    @contextmanager
    def _write(self) -> Iterator[sqlalchemy.Connection]:
        with self._engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            yield conn

    # ------------------------------------------------------------------ reads
    def count(self, *, active_only: bool = False, role: Role | None = None) -> int:
        stmt = select(func.count()).select_from(users)
        if active_only:
            stmt = stmt.where(users.c.disabled.is_(False))
        if role is not None:
            stmt = stmt.where(users.c.role == role.value)
        with self._engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def get(self, username: str) -> UserRecord | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).first()
        return None if row is None else _record(row)

    def secrets(self, username: str) -> StoredSecrets | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).first()
        return None if row is None else StoredSecrets(_record(row), row.password_hash, row.token_hash)

    def secrets_by_id(self, user_id: int) -> StoredSecrets | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).first()
        return None if row is None else StoredSecrets(_record(row), row.password_hash, row.token_hash)

    def list(self) -> list[UserRecord]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.username)).all()
        return [_record(r) for r in rows]

    # ------------------------------------------------------------------ writes
    def create(
        self, actor: str, username: str, role: Role, password_hash: str, *, at: datetime | None = None
    ) -> UserRecord:
        when = _now(at)
        try:
            with self._write() as conn:
                conn.execute(
                    users.insert().values(
                        username=username,
                        role=role.value,
                        password_hash=password_hash,
                        disabled=False,
                        created_at=when,
                        failed_attempts=0,
                        password_changed_at=when,
                        token_hash="",
                    )
                )
                self._audit.append(actor, "user.add", f"user:{username}", None,
                                   {"username": username, "role": role.value, "disabled": False}, conn=conn, at=when)
        except IntegrityError:
            raise UserExistsError(username) from None
        created = self.get(username)
        assert created is not None
        return created

    def _change(
        self,
        actor: str,
        username: str,
        action: str,
        values: dict[str, Any],
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        when: datetime,
    ) -> None:
        with self._write() as conn:
            moved = conn.execute(update(users).where(users.c.username == username).values(**values))
            if moved.rowcount != 1:
                raise UnknownUserError(username)
            self._audit.append(actor, action, f"user:{username}", before, after, conn=conn, at=when)

    def set_password_hash(self, actor: str, username: str, password_hash: str, *, at: datetime | None = None) -> None:
        when = _now(at)
        self._change(actor, username, "user.passwd",
                     {"password_hash": password_hash, "password_changed_at": when, "failed_attempts": 0,
                      "locked_until": None},
                     None, {"password_changed": True}, when)

    def set_disabled(self, actor: str, username: str, disabled: bool, *, at: datetime | None = None) -> None:
        when = _now(at)
        old = self.get(username)
        if old is None:
            raise UnknownUserError(username)
        values: dict[str, Any] = {"disabled": disabled}
        if disabled:
            values["token_hash"] = ""  # a disabled account's service token dies with it
        self._change(actor, username, "user.disable" if disabled else "user.enable", values,
                     {"disabled": old.disabled}, {"disabled": disabled}, when)

    def set_role(self, actor: str, username: str, role: Role, *, at: datetime | None = None) -> None:
        when = _now(at)
        old = self.get(username)
        if old is None:
            raise UnknownUserError(username)
        self._change(actor, username, "user.role", {"role": role.value},
                     {"role": old.role.value}, {"role": role.value}, when)

    def set_token_hash(self, actor: str, username: str, token_hash: str, *, at: datetime | None = None) -> None:
        """Store a new token digest (replacing any old token) or ``""`` to revoke."""
        when = _now(at)
        old = self.get(username)
        if old is None:
            raise UnknownUserError(username)
        self._change(actor, username, "token.issue" if token_hash else "token.revoke",
                     {"token_hash": token_hash, "token_created_at": when if token_hash else None},
                     {"has_token": old.has_token}, {"has_token": bool(token_hash)}, when)

    def record_failure(
        self, username: str, policy: LockoutPolicy, *, reason: str, at: datetime | None = None
    ) -> tuple[int, datetime | None]:
        """A failed login: count it, maybe lock; audited as ``auth.failure`` or ``auth.lockout``.

        Read and update share one write transaction, so two terminals failing at the same moment
        cannot both read "3 failures" and each write 4.
        """
        when = _now(at)
        with self._write() as conn:
            old = conn.execute(select(users.c.failed_attempts).where(users.c.username == username)).first()
            if old is None:
                raise UnknownUserError(username)
            previous = int(old.failed_attempts or 0)
            attempts, locked_until = policy.after_failure(previous, when)
            conn.execute(update(users).where(users.c.username == username)
                         .values(failed_attempts=attempts, locked_until=locked_until))
            after: dict[str, Any] = {"failed_attempts": attempts, "reason": reason}
            if locked_until is not None:
                after["locked_until"] = locked_until.isoformat()
            self._audit.append(username, "auth.lockout" if locked_until is not None else "auth.failure",
                               f"user:{username}", {"failed_attempts": previous}, after, conn=conn, at=when)
        return attempts, locked_until

    def record_unknown_failure(self, *, via: str, at: datetime | None = None) -> None:
        """A failure naming no existing account. The attempted name is NOT recorded: people type
        passwords into the user field, and this trail can never be cleaned."""
        self._audit.append("?", "auth.failure", "user:?", None, {"reason": "unknown user", "via": via},
                           at=_now(at))

    def record_login(self, username: str, *, via: str, at: datetime | None = None) -> None:
        when = _now(at)
        old = self.get(username)
        if old is None:
            raise UnknownUserError(username)
        self._change(username, username, "auth.login",
                     {"failed_attempts": 0, "locked_until": None, "last_login_at": when},
                     {"failed_attempts": old.failed_attempts} if old.failed_attempts else None, {"via": via}, when)

    def unlock(self, actor: str, username: str, *, at: datetime | None = None) -> None:
        when = _now(at)
        old = self.get(username)
        if old is None:
            raise UnknownUserError(username)
        self._change(actor, username, "user.unlock", {"failed_attempts": 0, "locked_until": None},
                     {"failed_attempts": old.failed_attempts,
                      "locked_until": None if old.locked_until is None else old.locked_until.isoformat()},
                     {"failed_attempts": 0, "locked_until": None}, when)
