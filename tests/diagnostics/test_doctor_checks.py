"""Each doctor check passes on a healthy home and fails, with a fix, when that one thing is broken."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import replace
from pathlib import Path

import pytest
from tests.helpers import free_port

from benchlink.core.hookspecs import hookimpl
from benchlink.runtime.bootstrap import open_store
from benchlink.runtime.diagnostics import (
    Check,
    DoctorContext,
    check_clock,
    check_database,
    check_key,
    check_plugins,
    check_ports,
    check_serial,
    format_checks,
    mask_url,
    run_checks,
)
from benchlink.runtime.plugins import PluginManager
from benchlink.runtime.settings import Settings, load_settings


def _config(home: Path, port: int, *, serial: str = "/dev/ttyFAKE0", kind: str = "tcp-server",
            driver: str = "astm") -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f"""
[[device]]
name = "chem-1"
driver = "{driver}"
[device.transport]
kind = "{kind}"
host = "127.0.0.1"
port = {port}

[[device]]
name = "haem-1"
[device.transport]
kind = "serial"
device = "{serial}"
""",
        encoding="utf-8",
    )


def _settings(home: Path, **env: str) -> Settings:
    environ = {"BENCHLINK_HOME": str(home), "BENCHLINK_KEY_FILE": str(home / "db.key"),
               "BENCHLINK_NO_KEYRING": "1"}
    environ.update(env)
    return load_settings(environ={k: v for k, v in environ.items() if v})


@pytest.fixture(scope="module")
def plugins() -> PluginManager:
    return PluginManager(load_entry_points=False)


@pytest.fixture
def healthy(tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    _config(home, free_port())
    settings = _settings(home)
    open_store(settings).engine.dispose()
    return settings


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def test_every_check_passes_on_a_healthy_home(healthy: Settings, plugins: PluginManager) -> None:
    checks = run_checks(healthy, plugins=plugins, serial_ports=lambda: ["/dev/ttyFAKE0", "/dev/ttyS0"])
    assert [c for c in checks if not c.ok] == []
    names = [c.name for c in checks]
    assert names == ["database key", "database", "port chem-1", "serial ports", "plugins", "drivers", "clock"]
    checks_by = _by_name(checks)
    assert "integrity ok" in checks_by["database"].detail and "(current)" in checks_by["database"].detail
    assert "is free" in checks_by["port chem-1"].detail
    assert "haem-1 -> /dev/ttyFAKE0" in checks_by["serial ports"].detail
    assert format_checks(checks).endswith("7 checks, all passed")


def test_fresh_home_passes_without_creating_anything(tmp_path: Path, plugins: PluginManager) -> None:
    home = tmp_path / "fresh"
    settings = _settings(home)
    checks = run_checks(settings, plugins=plugins, serial_ports=list)
    assert all(c.ok for c in checks), format_checks(checks)
    assert "created" in _by_name(checks)["database key"].detail
    assert not (home / "db.key").exists() and not settings.database_path.exists()


def test_missing_key_file_for_an_existing_database_fails_with_a_fix(healthy: Settings) -> None:
    Path(str(healthy.key_file)).unlink()
    ctx = DoctorContext(settings=healthy)
    key = check_key(ctx)
    assert not key.ok and "missing" in key.detail and "restore" in key.fix
    database = check_database(ctx)
    assert not database.ok and "database key" in database.fix
    assert not Path(str(healthy.key_file)).exists(), "the doctor must not create a new key"


def test_no_key_source_at_all_fails_with_a_fix(tmp_path: Path) -> None:
    settings = replace(_settings(tmp_path / "h"), key_file=None, use_keyring=False)
    check = check_key(DoctorContext(settings=settings))
    assert not check.ok and "BENCHLINK_KEY_FILE" in check.fix


def test_a_key_path_that_is_a_folder_is_named_as_such(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    folder.mkdir(mode=0o700)
    check = check_key(DoctorContext(settings=_settings(tmp_path / "h", BENCHLINK_KEY_FILE=str(folder))))
    assert not check.ok and check.detail == f"key file {folder} is a directory, not a key file"
    assert "at the key file itself" in check.fix


def test_unusable_keyring_fails_with_a_fix(tmp_path: Path) -> None:
    import keyring
    import keyring.backends.fail

    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        settings = replace(_settings(tmp_path / "h"), key_file=None, use_keyring=True)
        check = check_key(DoctorContext(settings=settings))
    finally:
        keyring.set_keyring(previous)
    assert not check.ok and "no usable OS keyring" in check.detail and "BENCHLINK_KEY_FILE" in check.fix


def test_wrong_key_fails_the_database_check(healthy: Settings) -> None:
    key_file = Path(str(healthy.key_file))
    key_file.write_text(os.urandom(32).hex() + "\n", encoding="ascii")
    ctx = DoctorContext(settings=healthy)
    assert check_key(ctx).ok
    check = check_database(ctx)
    assert not check.ok and "does not open with the configured key" in check.detail
    assert "restore the key" in check.fix


def test_garbled_or_exposed_key_file_fails(healthy: Settings) -> None:
    key_file = Path(str(healthy.key_file))
    original = key_file.read_text(encoding="ascii")
    key_file.write_text("not-a-key\n", encoding="ascii")
    check = check_key(DoctorContext(settings=healthy))
    assert not check.ok and "256-bit" in check.detail
    key_file.write_text(original, encoding="ascii")
    if os.name == "posix":
        key_file.chmod(0o644)
        check = check_key(DoctorContext(settings=healthy))
        assert not check.ok and "chmod 600" in check.fix


def test_corrupted_database_fails_the_integrity_check(healthy: Settings) -> None:
    path = healthy.database_path
    data = bytearray(path.read_bytes())
    assert len(data) > 4096 * 3
    for offset in range(4096 + 100, 4096 + 400):  # scribble over page 2 (HMAC then fails)
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    for wal in path.parent.glob("benchlink.db-*"):
        wal.unlink()
    ctx = DoctorContext(settings=healthy)
    check_key(ctx)
    check = check_database(ctx)
    assert not check.ok, check
    assert "integrity check failed" in check.detail and "backup" in check.fix


def test_port_taken_by_another_program_fails_with_a_fix(healthy: Settings) -> None:
    port = healthy.devices[0].transport.port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        (check,) = check_ports(DoctorContext(settings=healthy))
        assert not check.ok and str(port) in check.detail and "another program" in check.fix
        # the same port held by this home's running serve is fine
        healthy.state_file.write_text(json.dumps({
            "pid": os.getpid(), "updated": time.time(), "running": True,
            "devices": [{"name": "chem-1", "state": "listening", "counters": {}}]}), encoding="utf-8")
        (check,) = check_ports(DoctorContext(settings=healthy))
        assert check.ok and "running benchlink serve" in check.detail


def test_tcp_client_reports_reachable_and_unreachable_analyzers(tmp_path: Path) -> None:
    home = tmp_path / "h"
    port = free_port()
    _config(home, port, kind="tcp-client")
    settings = _settings(home)
    (check,) = check_ports(DoctorContext(settings=settings))
    assert not check.ok and "cannot reach" in check.detail and "LIS" in check.fix
    with socket.socket() as analyzer:
        analyzer.bind(("127.0.0.1", port))
        analyzer.listen()
        (check,) = check_ports(DoctorContext(settings=settings))
    assert check.ok and "accepts connections" in check.detail


def test_missing_serial_port_fails_and_lists_what_is_present(healthy: Settings) -> None:
    ctx = DoctorContext(settings=healthy, serial_ports=lambda: ["/dev/ttyUSB0"])
    check = check_serial(ctx)
    assert not check.ok and "haem-1 -> /dev/ttyFAKE0" in check.detail and "/dev/ttyUSB0" in check.detail
    assert "USB-serial" in check.fix
    # a pty path that exists (socat links) counts as present even when not enumerated
    fake = healthy.home / "ttyA"
    fake.touch()
    _config(healthy.home, free_port(), serial=str(fake))
    settings = _settings(healthy.home)
    assert check_serial(DoctorContext(settings=settings, serial_ports=list)).ok


class _BrokenPlugin:
    @hookimpl
    def benchlink_register_drivers(self) -> list[object]:
        raise RuntimeError("vendor bug")


def test_failing_plugin_and_unknown_driver_fail_with_fixes(tmp_path: Path) -> None:
    home = tmp_path / "h"
    _config(home, free_port(), driver="acme-9000")
    settings = _settings(home)
    pm = PluginManager(load_entry_points=False, plugins=[("benchlink-acme", _BrokenPlugin())])
    checks = _by_name(check_plugins(DoctorContext(settings=settings, plugins=pm)))
    assert not checks["plugins"].ok and "benchlink-acme" in checks["plugins"].detail
    assert "vendor bug" in checks["plugins"].detail and "uninstall" in checks["plugins"].fix
    drivers = checks["drivers"]
    assert not drivers.ok and "acme-9000" in drivers.detail and "astm" in drivers.fix


def test_clock_before_release_or_behind_files_fails(healthy: Settings) -> None:
    ctx = DoctorContext(settings=healthy)
    early = check_clock(ctx, now=time.mktime((2001, 1, 1, 0, 0, 0, 0, 0, -1)))
    assert not early.ok and "ntp" in early.fix.lower()
    future = time.time() + 3600
    os.utime(healthy.database_path, (future, future))
    behind = check_clock(ctx)
    assert not behind.ok and "set back" in behind.detail
    assert check_clock(ctx, now=future + 10).ok


def test_database_url_password_is_masked() -> None:
    masked = mask_url("postgresql+psycopg://lab:S3cretPw@db.example:5432/benchlink")
    assert "S3cretPw" not in masked and "db.example" in masked and "lab" in masked
