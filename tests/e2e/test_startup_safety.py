"""Starting Benchlink with a wrong key path or a wrong configuration, as IT would on a lab PC.

Each mistake must stop the real ``benchlink`` process with a message that names what is wrong and
what to do, and an exit status a service manager can act on. None of them may change what is on
disk: a lost key is never "fixed" with a fresh one, because a fresh key cannot open the database
and would only hide the loss behind a later "wrong key" error.
"""

from __future__ import annotations

import ast
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers import cli_env

from benchlink.cli.errors import EXIT_CODES

REPO = Path(__file__).resolve().parents[2]
CLI_SOURCES = REPO / "src" / "benchlink" / "cli"


def run(home: Path, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    """The real command with the suite's usual home, plus ``env`` overrides (e.g. another key path)."""
    environ = {**cli_env(home), **env}
    return subprocess.run([sys.executable, "-m", "benchlink", *args], env=environ, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture
def home_with_database(tmp_path: Path) -> Path:
    """A home whose first start created the key and the encrypted database."""
    home = tmp_path / "home"
    first = run(home, "results")
    assert first.returncode == 0, first.stderr
    assert (home / "benchlink.db").exists() and (home / "db.key").exists()
    return home


@pytest.mark.parametrize("command", [("results",), ("serve", "--duration", "20")], ids=["results", "serve"])
def test_missing_key_file_beside_existing_database_stops_and_creates_nothing(
        home_with_database: Path, tmp_path: Path, command: tuple[str, ...]) -> None:
    home = home_with_database
    missing = tmp_path / "keys" / "missing.key"
    database_before = (home / "benchlink.db").read_bytes()

    proc = run(home, *command, BENCHLINK_KEY_FILE=str(missing))

    assert proc.returncode == 3, proc.stderr
    assert f"key file {missing} is missing but the database {home / 'benchlink.db'} exists" in proc.stderr
    assert "Restore" in proc.stderr and "backup" in proc.stderr
    assert "cannot be opened with this key" not in proc.stderr  # stopped before trying a wrong key
    assert not missing.exists() and not missing.parent.exists()
    assert (home / "benchlink.db").read_bytes() == database_before
    assert run(home, "results").returncode == 0  # the real key still opens it


def test_first_start_still_creates_the_key_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    key = tmp_path / "new-folder" / "benchlink.key"
    proc = run(home, "results", BENCHLINK_KEY_FILE=str(key))
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_text().strip()) == 64


def test_key_path_that_is_a_directory_is_called_a_directory(home_with_database: Path, tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    folder.mkdir()
    proc = run(home_with_database, "results", BENCHLINK_KEY_FILE=str(folder))
    assert proc.returncode == 3, proc.stderr
    assert f"key file {folder} is a directory, not a key file" in proc.stderr
    assert "point BENCHLINK_KEY_FILE" in proc.stderr and "chmod" not in proc.stderr
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("how", ["option", "environment"])
@pytest.mark.parametrize("command", [("doctor",), ("serve", "--duration", "20")], ids=["doctor", "serve"])
def test_named_config_file_that_does_not_exist_is_an_error(
        tmp_path: Path, how: str, command: tuple[str, ...]) -> None:
    home = tmp_path / "home"
    nope = tmp_path / "nope.toml"
    if how == "option":
        proc = run(home, "--config", str(nope), *command)
    else:
        proc = run(home, *command, BENCHLINK_CONFIG=str(nope))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert str(nope) in proc.stderr and "does not exist" in proc.stderr
    assert ("--config" if how == "option" else "BENCHLINK_CONFIG") in proc.stderr
    assert "demo" not in proc.stderr  # the demo analyzer must not stand in for the lab's devices
    assert not home.exists()  # nothing created for a start that was refused


def test_default_config_file_may_be_missing_on_a_first_start(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = run(home, "results")
    assert proc.returncode == 0, proc.stderr
    assert not (home / "config.toml").exists()


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ('[log]\nlevel = "loud"\n', ["[log].level = 'loud'", "debug, info, warning, error"]),
        ('[serial]\nport = "COM3"\n', ["unknown table [serial]", "[database]", "[[device]]"]),
        ('[status]\nprot = 9100\n', ["[status] unknown key(s) ['prot']", "['port']"]),
    ],
    ids=["bad-value", "unknown-table", "unknown-key"],
)
def test_config_mistakes_outside_devices_stop_benchlink(tmp_path: Path, text: str, needles: list[str]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(text, encoding="utf-8")
    proc = run(home, "doctor")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert str(home / "config.toml") in proc.stderr
    for needle in needles:
        assert needle in proc.stderr


def _exit_codes_in(path: Path) -> set[int]:
    """Integer literals a command returns (``return 2``, ``return 0 if ok else 1``) or names ``EXIT_*``."""
    found: set[int] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        values: list[ast.expr] = []
        if isinstance(node, ast.Return) and node.value is not None:
            values = [node.value.body, node.value.orelse] if isinstance(node.value, ast.IfExp) else [node.value]
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id.startswith("EXIT_")
                                                  for t in node.targets):
            values = [node.value]
        found |= {v.value for v in values if isinstance(v, ast.Constant) and type(v.value) is int}
    return found


def test_every_exit_status_the_cli_uses_is_documented() -> None:
    used: set[int] = set()
    for source in CLI_SOURCES.glob("*.py"):
        used |= _exit_codes_in(source)
    assert {0, 1, 2, 3, 4} <= used  # the scan itself works
    documented = {code for code, _ in EXIT_CODES}
    assert used <= documented, f"exit status {sorted(used - documented)} is used but not in EXIT_CODES"
    page = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    for code in used:
        assert f"\n| {code} | " in page, f"docs/cli.md does not list exit status {code}; run docs/gen_reference.py"


def test_refused_login_exits_with_the_documented_status(home_with_database: Path) -> None:
    assert run(home_with_database, "users", "list").returncode == 0  # creates the admin on first use
    proc = run(home_with_database, "users", "list", BENCHLINK_PASSWORD="not-the-password-1")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    meaning = dict(EXIT_CODES)[4]
    assert "login refused" in meaning
