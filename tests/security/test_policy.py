"""The access policy as pure data: roles, the permission table of issue 9, passwords, lockout, idle lock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from benchlink.core.auth import (
    PERMISSIONS,
    Actor,
    LockoutPolicy,
    PasswordPolicy,
    Permission,
    PermissionDeniedError,
    Role,
    WeakPasswordError,
    allowed,
    grantable,
    idle_expired,
    validate_username,
)

T0 = datetime(2025, 5, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("permission", "operator", "supervisor", "admin"),
    [
        # issue 9: devices, mappings and users by supervisor and up
        (Permission.DEVICES_EDIT, False, True, True),
        (Permission.MAPPINGS_EDIT, False, True, True),
        (Permission.USERS_EDIT, False, True, True),
        # exports and order entry by operator and up
        (Permission.EXPORT, True, True, True),
        (Permission.ORDERS_EDIT, True, True, True),
        # the audit view by supervisor and up
        (Permission.AUDIT_VIEW, False, True, True),
        # service tokens are made by an admin
        (Permission.TOKENS_ISSUE, False, False, True),
    ],
)
def test_permission_table_matches_the_issue(permission: Permission, operator: bool, supervisor: bool,
                                            admin: bool) -> None:
    assert [allowed(r, permission) for r in (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)] == [
        operator, supervisor, admin]


def test_every_permission_has_a_role_and_higher_roles_hold_more() -> None:
    assert set(PERMISSIONS) == set(Permission)
    for permission in Permission:
        granted = [allowed(r, permission) for r in (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)]
        assert granted == sorted(granted), f"{permission}: a higher role lost a right"


def test_actor_require_names_the_missing_role() -> None:
    op = Actor("ann", Role.OPERATOR)
    op.require(Permission.EXPORT)
    with pytest.raises(PermissionDeniedError, match="needs the supervisor role"):
        op.require(Permission.MAPPINGS_EDIT)


def test_roles_parse_and_grant_only_downwards() -> None:
    assert Role.parse(" Supervisor ") is Role.SUPERVISOR
    with pytest.raises(ValueError, match="operator, supervisor, admin"):
        Role.parse("root")
    assert grantable(Role.SUPERVISOR, Role.OPERATOR) and grantable(Role.SUPERVISOR, Role.SUPERVISOR)
    assert not grantable(Role.SUPERVISOR, Role.ADMIN)


def test_usernames_are_normalised_and_bounded() -> None:
    assert validate_username(" Alice.B ") == "alice.b"
    for bad in ("", "a", "-lead", "with space", "x" * 65, "robert'); drop", "ü-umlaut"):
        with pytest.raises(ValueError, match="not allowed"):
            validate_username(bad)


def test_password_policy() -> None:
    policy = PasswordPolicy()
    policy.check("tall-Giraffe-42", "ann")
    cases = {
        "short1!": "at least 10",
        "aaaaaaaaaaaa": "different characters",
        "Password123": "commonly used",
        "carol-is-great-1": "user name",
        " leading-space-pw": "spaces",
        "x" * 300 + "abcdefg": "at most 256",
    }
    for password, reason in cases.items():
        with pytest.raises(WeakPasswordError, match=reason):
            policy.check(password, "carol")
    assert PasswordPolicy(min_length=14).problems("tall-Giraffe-42") == ()
    assert PasswordPolicy(min_length=16).problems("tall-Giraffe-42")


def test_lockout_after_five_failures_for_fifteen_minutes() -> None:
    policy = LockoutPolicy()
    attempts, until = 0, None
    for _ in range(4):
        attempts, until = policy.after_failure(attempts, T0)
        assert until is None
    assert attempts == 4
    attempts, until = policy.after_failure(attempts, T0)
    assert until == T0 + timedelta(minutes=15) and attempts == 0
    assert policy.is_locked(until, T0 + timedelta(minutes=14, seconds=59))
    assert not policy.is_locked(until, T0 + timedelta(minutes=15))
    assert not policy.is_locked(None, T0)


def test_idle_expiry() -> None:
    assert not idle_expired(T0, T0 + timedelta(minutes=9, seconds=59), 10)
    assert idle_expired(T0, T0 + timedelta(minutes=10), 10)
    assert not idle_expired(T0, T0 + timedelta(days=3), 0), "0 disables the idle lock"
