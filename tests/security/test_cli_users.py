"""`benchlink users ...` and `credentials.require` as an operator meets them: env vars, no terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers import cli_env

from benchlink.cli.credentials import EXIT_AUTH, require, require_service
from benchlink.cli.main import main
from benchlink.core.auth import (
    AccountLockedError,
    Actor,
    BadCredentialsError,
    CredentialsRequiredError,
    Permission,
    PermissionDeniedError,
    Role,
)
from benchlink.runtime.bootstrap import open_store
from benchlink.runtime.settings import load_settings

ADMIN_PW = "Admin-Pass-2025!"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    for key, value in cli_env(home).items():
        if key.startswith("BENCHLINK_"):
            monkeypatch.setenv(key, value)
    for key in ("BENCHLINK_USER", "BENCHLINK_PASSWORD", "BENCHLINK_TOKEN", "BENCHLINK_ADMIN_PASSWORD",
                "BENCHLINK_NEW_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    return home


def _as(monkeypatch: pytest.MonkeyPatch, user: str | None, password: str | None) -> None:
    for key, value in (("BENCHLINK_USER", user), ("BENCHLINK_PASSWORD", password)):
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)


def test_users_lifecycle_through_the_cli(home: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    # nothing works without a first admin, and the message says how to make one
    assert main(["users", "list"]) == EXIT_AUTH
    assert "BENCHLINK_ADMIN_PASSWORD" in capsys.readouterr().err
    monkeypatch.setenv("BENCHLINK_NEW_PASSWORD", ADMIN_PW)
    assert main(["users", "add", "ops", "--role", "operator"]) == EXIT_AUTH
    assert "first account must be an admin" in capsys.readouterr().err
    assert main(["users", "add", "boss", "--role", "admin"]) == 0

    _as(monkeypatch, "boss", ADMIN_PW)
    monkeypatch.setenv("BENCHLINK_NEW_PASSWORD", "Operator-pw-778")
    assert main(["users", "add", "ann"]) == 0
    monkeypatch.setenv("BENCHLINK_NEW_PASSWORD", "weak")
    assert main(["users", "add", "bob"]) == EXIT_AUTH
    assert "at least 10 characters" in capsys.readouterr().err
    assert main(["users", "add", "Bad Name"]) == 2

    capsys.readouterr()
    assert main(["users", "list"]) == 0
    listing = capsys.readouterr().out
    assert "ann" in listing and "operator" in listing and "boss" in listing and "bob" not in listing

    # an operator cannot manage users
    _as(monkeypatch, "ann", "Operator-pw-778")
    assert main(["users", "list"]) == EXIT_AUTH
    assert "needs the supervisor role" in capsys.readouterr().err

    # own password: the current one is the credential
    monkeypatch.setenv("BENCHLINK_NEW_PASSWORD", "Second-secret-42")
    assert main(["users", "passwd"]) == 0
    _as(monkeypatch, "boss", ADMIN_PW)
    assert main(["users", "disable", "ann"]) == 0
    assert main(["users", "list", "--json"]) == 0
    assert '"disabled": true' in capsys.readouterr().out
    assert main(["users", "enable", "ann"]) == 0
    assert main(["users", "disable", "boss"]) == EXIT_AUTH  # never yourself

    # tokens: printed once on stdout, usable as BENCHLINK_TOKEN, revocable
    capsys.readouterr()
    assert main(["users", "token", "ann"]) == 0
    issued = capsys.readouterr()
    token = issued.out.strip()
    assert token.startswith("blt_") and "shown once" in issued.err
    _as(monkeypatch, None, None)
    monkeypatch.setenv("BENCHLINK_TOKEN", token)
    settings = load_settings()
    store = open_store(settings)
    assert require(settings, store, Permission.EXPORT) == Actor("ann", Role.OPERATOR, "token")
    with pytest.raises(PermissionDeniedError):
        require(settings, store, Permission.MAPPINGS_EDIT)
    monkeypatch.delenv("BENCHLINK_TOKEN")
    _as(monkeypatch, "boss", ADMIN_PW)
    assert main(["users", "token", "ann", "--revoke"]) == 0
    monkeypatch.setenv("BENCHLINK_TOKEN", token)
    with pytest.raises(BadCredentialsError):
        require(settings, store, Permission.EXPORT)
    actions = [e.action for e in store.audit().search(limit=200)]
    assert {"user.add", "user.passwd", "user.disable", "user.enable", "token.issue", "token.revoke"} <= set(actions)
    assert store.audit().verify().ok


def test_require_first_start_and_missing_credentials(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    store = open_store(settings)
    # headless serve on a fresh install runs as "system": nothing to authenticate against yet
    assert require_service(settings, store, interactive=False).via == "system"
    with pytest.raises(CredentialsRequiredError, match="BENCHLINK_ADMIN_PASSWORD"):
        require(settings, store, Permission.EXPORT, interactive=False)
    monkeypatch.setenv("BENCHLINK_ADMIN_PASSWORD", ADMIN_PW)
    monkeypatch.setenv("BENCHLINK_USER", "labadmin")
    first = require(settings, store, Permission.EXPORT, interactive=False)
    assert first == Actor("labadmin", Role.ADMIN, "first-start")
    monkeypatch.delenv("BENCHLINK_ADMIN_PASSWORD")
    # once users exist, serve needs credentials too
    monkeypatch.delenv("BENCHLINK_USER")
    with pytest.raises(CredentialsRequiredError, match="--user"):
        require_service(settings, store, interactive=False)
    with pytest.raises(CredentialsRequiredError, match="BENCHLINK_PASSWORD"):
        require(settings, store, Permission.EXPORT, user="labadmin", interactive=False)
    # an interactive terminal gets a hidden prompt instead
    prompts: list[str] = []

    def fake_getpass(text: str) -> str:
        prompts.append(text)
        return ADMIN_PW

    actor = require(settings, store, Permission.AUDIT_VIEW, user="labadmin", interactive=True, prompt=fake_getpass)
    assert actor.username == "labadmin" and prompts == ["password for labadmin: "]
    monkeypatch.setenv("BENCHLINK_PASSWORD", "wrong-password-0")
    for _ in range(4):
        with pytest.raises(BadCredentialsError):
            require(settings, store, Permission.EXPORT, user="labadmin", interactive=False)
    with pytest.raises(AccountLockedError, match="users unlock"):
        require(settings, store, Permission.EXPORT, user="labadmin", interactive=False)


def test_security_settings_are_read_and_checked(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchlink.runtime.auth_service import policy_from_settings
    from benchlink.runtime.settings import ConfigError

    home.mkdir(parents=True)
    config = home / "config.toml"
    config.write_text("[security]\nidle_minutes = 3\nmax_failures = 3\nlockout_minutes = 30\n", encoding="utf-8")
    policy = policy_from_settings(load_settings(), {})
    assert (policy.idle_minutes, policy.lockout.max_failures, policy.lockout.lock_minutes) == (3, 3, 30)
    assert policy_from_settings(load_settings(), {"BENCHLINK_IDLE_MINUTES": "0"}).idle_minutes == 0
    config.write_text("[security]\nidle_minute = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="idle_minute"):
        policy_from_settings(load_settings(), {})
    config.write_text("[security]\nmin_password_length = 4\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="8 or more"):
        policy_from_settings(load_settings(), {})


def test_token_never_on_the_command_line_and_passwords_not_echoed(tmp_path: Path) -> None:
    """A real process: secrets travel in the environment only, and stdout shows the token alone."""
    env = cli_env(tmp_path)
    env["BENCHLINK_NEW_PASSWORD"] = ADMIN_PW
    run = [sys.executable, "-m", "benchlink", "users"]
    first = subprocess.run([*run, "add", "root", "--role", "admin"], env=env, capture_output=True, text=True,
                           timeout=60)
    assert first.returncode == 0, first.stderr
    env.update(BENCHLINK_USER="root", BENCHLINK_PASSWORD=ADMIN_PW)
    tok = subprocess.run([*run, "token", "root"], env=env, capture_output=True, text=True, timeout=60)
    assert tok.returncode == 0, tok.stderr
    assert ADMIN_PW not in tok.stdout + tok.stderr + first.stdout + first.stderr
    assert len(tok.stdout.strip().splitlines()) == 1
    help_text = subprocess.run([*run, "add", "--help"], env=env, capture_output=True, text=True, timeout=60).stdout
    assert "--password" not in help_text
