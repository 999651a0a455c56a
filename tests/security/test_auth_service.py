"""Logins against a real encrypted database: scrypt hashes, lockout, idle lock, tokens, audit."""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta

import pytest
import sqlalchemy
from sqlalchemy import select, text
from tests.security.conftest import ManualClock

from benchlink.core.auth import (
    AccountDisabledError,
    AccountLockedError,
    Actor,
    AuthError,
    BadCredentialsError,
    Permission,
    PermissionDeniedError,
    Role,
    SecurityPolicy,
    SessionLockedError,
    UserExistsError,
    WeakPasswordError,
)
from benchlink.runtime.auth_service import AuthService, hash_password, token_digest, verify_password
from benchlink.storage.migrator import migrate
from benchlink.storage.schema import users
from benchlink.storage.store import Store

ADMIN_PW = "Admin-Pass-2025!"
OP_PW = "Operator-pw-778"


@pytest.fixture
def service(store: Store, clock: ManualClock) -> AuthService:
    svc = AuthService(store, clock=clock)
    svc.create_first_admin("root", ADMIN_PW)
    return svc


@pytest.fixture
def admin(service: AuthService) -> Actor:
    return service.authenticate("root", ADMIN_PW).actor


def test_scrypt_hash_format_salt_and_verify() -> None:
    a, b = hash_password("same password"), hash_password("same password")
    assert a != b, "each hash needs its own random salt"
    scheme, n, r, p, _salt, _key = a.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert verify_password("same password", a) and verify_password("same password", b)
    assert not verify_password("same passwore", a)
    # a fixed salt reproduces the stdlib's scrypt exactly
    fixed = hash_password("x", salt=b"\x01" * 16)
    expected = hashlib.scrypt(b"x", salt=b"\x01" * 16, n=2**14, r=8, p=1, dklen=32)
    import base64
    assert base64.b64decode(fixed.split("$")[5] + "=") == expected
    for broken in ("", "plain", "md5$1$2$3$4$5", "scrypt$16384$8$1$!!$!!", "scrypt$4294967296$8$1$AA$AA"):
        assert not verify_password("x", broken)


def test_no_secret_reaches_the_database_in_clear(service: AuthService, admin: Actor, store: Store) -> None:
    service.add_user(admin, "ann", Role.OPERATOR, OP_PW)
    issued = service.issue_token(admin, "ann")
    with store.engine.connect() as conn:
        dump = "\n".join(str(tuple(r)) for r in conn.execute(select(users)))
        audit_dump = "\n".join(str(tuple(r)) for r in conn.execute(text("SELECT * FROM audit")))
    for secret in (ADMIN_PW, OP_PW, issued.token, issued.token.split("_")[2]):
        assert secret not in dump
        assert secret not in audit_dump
    assert "scrypt$" in dump and token_digest(issued.token.split("_")[2]) in dump
    assert "scrypt$" not in audit_dump and "sha256$" not in audit_dump, "hashes never go into the audit trail"


def test_lockout_after_five_failures_then_released_after_fifteen_minutes(
    service: AuthService, admin: Actor, clock: ManualClock
) -> None:
    service.add_user(admin, "ann", Role.OPERATOR, OP_PW)
    for attempt in range(4):
        with pytest.raises(BadCredentialsError):
            service.authenticate("ann", f"wrong-{attempt}")
    with pytest.raises(AccountLockedError) as locked:
        service.authenticate("ann", "wrong-4")
    assert locked.value.until == clock.now + timedelta(minutes=15)
    local = locked.value.until.astimezone()  # said in the PC's local time, with its offset
    assert f"until {local:%Y-%m-%d %H:%M} (UTC{local:%z});" in str(locked.value)
    # while locked, even the right password is refused
    clock.advance(minutes=14)
    with pytest.raises(AccountLockedError):
        service.authenticate("ann", OP_PW)
    clock.advance(minutes=1)
    session = service.authenticate("ann", OP_PW)
    assert session.actor == Actor("ann", Role.OPERATOR, "password")
    record = service.users.get("ann")
    assert record is not None and record.failed_attempts == 0 and record.last_login_at == clock.now


def test_success_resets_the_failure_count(service: AuthService, admin: Actor) -> None:
    service.add_user(admin, "ann", Role.OPERATOR, OP_PW)
    for _ in range(2):
        for attempt in range(4):
            with pytest.raises(BadCredentialsError):
                service.authenticate("ann", f"bad-{attempt}")
        service.authenticate("ann", OP_PW)  # 4 failures + success, twice: never locked


def test_supervisor_unlock_and_password_reset(service: AuthService, admin: Actor, clock: ManualClock) -> None:
    service.add_user(admin, "ann", Role.OPERATOR, OP_PW)
    for attempt in range(5):
        with pytest.raises(AuthError):
            service.authenticate("ann", f"bad-{attempt}")
    service.unlock_user(admin, "ann")
    service.authenticate("ann", OP_PW)
    service.reset_password(admin, "ann", "Brand-new-pass-1")
    with pytest.raises(BadCredentialsError):
        service.authenticate("ann", OP_PW)
    service.authenticate("ann", "Brand-new-pass-1")


def test_unknown_user_same_message_and_comparable_time(service: AuthService) -> None:
    service.authenticate("root", ADMIN_PW)  # warm the dummy hash and the connection pool
    with pytest.raises(BadCredentialsError):
        service.authenticate("nobody", "whatever-123")

    def timed(name: str) -> tuple[float, str]:
        started = time.perf_counter()
        with pytest.raises(BadCredentialsError) as err:
            service.authenticate(name, "not-the-password")
        return time.perf_counter() - started, str(err.value)

    unknown_t, unknown_msg = timed("nobody")
    known_t, known_msg = timed("root")
    assert unknown_msg == known_msg
    assert unknown_t > 0.4 * known_t, "an unknown user must cost a KDF run too (no user-name oracle)"


def test_disabled_account_and_its_token(service: AuthService, admin: Actor) -> None:
    service.add_user(admin, "ann", Role.OPERATOR, OP_PW)
    issued = service.issue_token(admin, "ann")
    service.set_disabled(admin, "ann", True)
    with pytest.raises(AccountDisabledError):
        service.authenticate("ann", OP_PW)
    with pytest.raises(BadCredentialsError, match="wrong password"):
        service.authenticate("ann", "wrong-password-1")  # a disabled state is not revealed without the password
    with pytest.raises(BadCredentialsError):
        service.authenticate_token(issued.token)  # disabling revoked the token
    service.set_disabled(admin, "ann", False)
    service.authenticate("ann", OP_PW)


def test_service_tokens_shown_once_replace_and_revoke(service: AuthService, admin: Actor) -> None:
    service.add_user(admin, "svc-serve", Role.OPERATOR, OP_PW)
    first = service.issue_token(admin, "svc-serve")
    assert first.token.startswith("blt_")
    actor = service.authenticate_token(first.token)
    assert actor == Actor("svc-serve", Role.OPERATOR, "token")
    actor.require(Permission.SERVE)
    with pytest.raises(PermissionDeniedError):
        actor.require(Permission.MAPPINGS_EDIT)
    second = service.issue_token(admin, "svc-serve")
    assert second.token != first.token
    with pytest.raises(BadCredentialsError):
        service.authenticate_token(first.token)
    service.authenticate_token(second.token)
    service.revoke_token(admin, "svc-serve")
    for bad in (second.token, "", "blt_1_short", "garbage", second.token[:-1] + "A"):
        with pytest.raises(BadCredentialsError):
            service.authenticate_token(bad)
    ann = service.authenticate("svc-serve", OP_PW).actor
    with pytest.raises(PermissionDeniedError, match="admin"):
        service.issue_token(ann, "svc-serve")


def test_roles_guard_user_management(service: AuthService, admin: Actor) -> None:
    service.add_user(admin, "sue", Role.SUPERVISOR, "Supervisor-pw-1")
    service.add_user(admin, "ann", Role.OPERATOR, OP_PW)
    sue = service.authenticate("sue", "Supervisor-pw-1").actor
    ann = service.authenticate("ann", OP_PW).actor
    with pytest.raises(PermissionDeniedError):
        service.add_user(ann, "bob", Role.OPERATOR, "Bravo-passw-9")
    service.add_user(sue, "bob", Role.OPERATOR, "Bravo-passw-9")
    with pytest.raises(AuthError, match="cannot manage admin"):
        service.add_user(sue, "eve", Role.ADMIN, "Evil-passw-99")
    with pytest.raises(AuthError, match="cannot manage admin"):
        service.reset_password(sue, "root", "Taken-over-pw-1")
    with pytest.raises(AuthError, match="cannot manage admin"):
        service.set_disabled(sue, "root", True)
    with pytest.raises(AuthError, match="your own account"):
        service.set_disabled(admin, "root", True)
    with pytest.raises(UserExistsError):
        service.add_user(admin, "BOB", Role.OPERATOR, "Bravo-passw-9")
    with pytest.raises(WeakPasswordError):
        service.add_user(admin, "carl", Role.OPERATOR, "carl12345678")
    with pytest.raises(AuthError, match="already exist"):
        service.create_first_admin("mallory", "Mallory-pw-123")
    assert [u.username for u in service.list_users(sue)] == ["ann", "bob", "root", "sue"]


def test_last_active_admin_cannot_be_disabled(service: AuthService, admin: Actor) -> None:
    service.add_user(admin, "second", Role.ADMIN, "Deputy-admin-1")
    other = service.authenticate("second", "Deputy-admin-1").actor
    service.set_disabled(other, "root", True)  # fine: "second" remains
    service.set_disabled(other, "root", False)
    service.set_disabled(admin, "second", True)
    with pytest.raises(AuthError, match="cannot disable your own"):
        service.set_disabled(admin, "root", True)


def test_change_own_password_needs_the_current_one(service: AuthService, admin: Actor) -> None:
    service.add_user(admin, "ann", Role.OPERATOR, OP_PW)
    with pytest.raises(BadCredentialsError):
        service.change_own_password("ann", "not-my-password", "Fresh-passw-1x")
    with pytest.raises(AuthError, match="current one"):
        service.change_own_password("ann", OP_PW, OP_PW)
    with pytest.raises(WeakPasswordError):
        service.change_own_password("ann", OP_PW, "short")
    service.change_own_password("ann", OP_PW, "Fresh-passw-1x")
    service.authenticate("ann", "Fresh-passw-1x")


def test_session_idle_lock_latches_and_unlock_needs_the_password(
    store: Store, clock: ManualClock
) -> None:
    service = AuthService(store, policy=SecurityPolicy(idle_minutes=5), clock=clock)
    service.create_first_admin("root", ADMIN_PW)
    session = service.authenticate("root", ADMIN_PW)
    clock.advance(minutes=4)
    session.touch()
    clock.advance(minutes=4, seconds=59)
    assert not session.locked(clock.now)
    assert session.can(Permission.USERS_EDIT)
    clock.advance(seconds=1)
    assert session.locked(clock.now), "5 idle minutes lock the session"
    session.touch()  # a stray event must not unlock it
    assert session.locked(clock.now)
    assert not session.can(Permission.EXPORT)
    with pytest.raises(SessionLockedError):
        session.require(Permission.EXPORT)
    with pytest.raises(BadCredentialsError):
        session.unlock("wrong-password-1")
    assert session.locked(clock.now)
    session.unlock(ADMIN_PW)
    assert not session.locked(clock.now)
    assert session.require(Permission.EXPORT).username == "root"
    # an explicit idle_minutes (the GUI's setting) overrides the policy; 0 never locks
    clock.advance(hours=5)
    assert not session.locked(clock.now, 0)
    assert session.locked(clock.now, 60)


def test_unlock_failures_count_towards_the_lockout(service: AuthService, admin: Actor) -> None:
    session = service.authenticate("root", ADMIN_PW)
    session.lock()
    for attempt in range(4):
        with pytest.raises(BadCredentialsError):
            session.unlock(f"nope-{attempt}")
    with pytest.raises(AccountLockedError):
        session.unlock("nope-4")
    with pytest.raises(AccountLockedError):
        session.unlock(ADMIN_PW)


def test_unlock_of_a_disabled_account_fails(service: AuthService, admin: Actor) -> None:
    service.add_user(admin, "ann", Role.OPERATOR, OP_PW)
    session = service.authenticate("ann", OP_PW)
    session.lock()
    service.set_disabled(admin, "ann", True)
    with pytest.raises(AccountDisabledError):
        session.unlock(OP_PW)


def test_every_change_is_audited_in_the_chain(service: AuthService, admin: Actor, store: Store) -> None:
    service.add_user(admin, "ann", Role.OPERATOR, OP_PW)
    with pytest.raises(BadCredentialsError):
        service.authenticate("ann", "wrong-password-1")
    with pytest.raises(BadCredentialsError):
        service.authenticate("ghost", "typed-a-password-here")
    service.authenticate("ann", OP_PW)
    service.reset_password(admin, "ann", "Reset-passw-22")
    service.set_disabled(admin, "ann", True)
    service.set_disabled(admin, "ann", False)
    service.issue_token(admin, "ann")
    service.revoke_token(admin, "ann")
    service.unlock_user(admin, "ann")
    entries = list(reversed(store.audit().search(limit=100)))
    got = [(e.actor, e.action, e.target) for e in entries]
    assert got == [
        ("root", "user.add", "user:root"),
        ("root", "auth.login", "user:root"),
        ("root", "user.add", "user:ann"),
        ("ann", "auth.failure", "user:ann"),
        ("?", "auth.failure", "user:?"),
        ("ann", "auth.login", "user:ann"),
        ("root", "user.passwd", "user:ann"),
        ("root", "user.disable", "user:ann"),
        ("root", "user.enable", "user:ann"),
        ("root", "token.issue", "user:ann"),
        ("root", "token.revoke", "user:ann"),
        ("root", "user.unlock", "user:ann"),
    ]
    by_action = {(e.action, e.target): e for e in entries}
    assert by_action[("user.add", "user:ann")].after == {"username": "ann", "role": "operator", "disabled": False}
    assert by_action[("user.disable", "user:ann")].before == {"disabled": False}
    assert by_action[("user.disable", "user:ann")].after == {"disabled": True}
    assert by_action[("auth.failure", "user:ann")].after == {"failed_attempts": 1, "reason": "wrong password"}
    assert "ghost" not in str(by_action[("auth.failure", "user:?")]), "attempted names are not kept"
    assert store.audit().verify().ok


def test_migration_0002_to_0003_keeps_existing_users(tmp_path) -> None:
    from tests.security.conftest import KEY

    from benchlink.storage.database import open_engine

    engine = open_engine(None, path=tmp_path / "old.db", key=KEY)
    try:
        migrate(engine, "0002")
        legacy = hash_password(ADMIN_PW)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO users (username, role, password_hash, disabled, created_at) "
                              "VALUES ('old', 'admin', :h, 0, '2024-01-01 00:00:00')"), {"h": legacy})
        store = Store(engine)
        store.migrate()
        cols = {c["name"] for c in sqlalchemy.inspect(engine).get_columns("users")}
        assert {"failed_attempts", "locked_until", "token_hash", "last_login_at"} <= cols
        session = AuthService(store).authenticate("old", ADMIN_PW)
        assert session.actor.role is Role.ADMIN
        from alembic import command

        from benchlink.storage.migrator import _config

        with engine.begin() as conn:  # and back down
            command.downgrade(_config(conn), "0002")
        cols = {c["name"] for c in sqlalchemy.inspect(engine).get_columns("users")}
        assert "token_hash" not in cols
    finally:
        engine.dispose()


def test_the_whole_flow_on_postgresql(pg_store: Store, clock: ManualClock) -> None:
    """Several workstations share one PostgreSQL: the same rules hold there."""
    service = AuthService(pg_store, clock=clock)
    admin = service.create_first_admin("root", ADMIN_PW)
    service.add_user(admin, "ann", Role.OPERATOR, OP_PW)
    with pytest.raises(UserExistsError):
        service.add_user(admin, "ann", Role.OPERATOR, OP_PW)
    for attempt in range(4):
        with pytest.raises(BadCredentialsError):
            service.authenticate("ann", f"bad-{attempt}")
    with pytest.raises(AccountLockedError):
        service.authenticate("ann", "bad-4")
    clock.advance(minutes=15)
    service.authenticate("ann", OP_PW)
    token = service.issue_token(admin, "ann").token
    assert service.authenticate_token(token).username == "ann"
    service.set_disabled(admin, "ann", True)
    with pytest.raises(AccountDisabledError):
        service.authenticate("ann", OP_PW)
    report = pg_store.audit().verify()
    assert report.ok and report.checked >= 10, report
