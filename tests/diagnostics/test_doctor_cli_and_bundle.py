"""`benchlink doctor` as IT runs it, and the support bundle: useful to support, free of PHI and secrets."""

from __future__ import annotations

import json
import signal
import zipfile
from pathlib import Path

import pytest
from tests.helpers import (
    SENTINEL_LAST,
    SENTINEL_NAME,
    benchlink,
    free_port,
    port_open,
    start_serve,
    wait_for,
    write_tcp_config,
)

from benchlink.runtime.diagnostics import Check, write_bundle
from benchlink.runtime.settings import load_settings


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with results from a real serve + simulate run whose patient name is a sentinel."""
    home = tmp_path_factory.mktemp("doctor") / "home"
    port = free_port()
    write_tcp_config(home, port)
    proc = start_serve(home)
    try:
        assert wait_for(lambda: port_open(port) or proc.poll() is not None, 30), "serve never listened"
        sim = benchlink(home, "simulate", "--connect", f"127.0.0.1:{port}", "--count", "3", "--seed", "3",
                        "--patient-name", SENTINEL_NAME)
        assert "all acknowledged: True" in sim.stdout
        assert wait_for(lambda: '"messages": 3' in (home / "status.json").read_text(encoding="utf-8"), 10)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    # A log line that leaked PHI (a raw frame quoted in an error, a field named after PHI) must still not
    # reach the bundle: the bundle scrubs again instead of trusting the logger.
    with (home / "logs" / "benchlink.jsonl").open("a", encoding="utf-8") as log:
        log.write(json.dumps({"event": "frame rejected", "level": "warning",
                              "raw": f"2P|1||PID123||{SENTINEL_NAME}||19700101|M\r",
                              "patient_name": SENTINEL_NAME}) + "\n")
        log.write(f"plain text line PID|1||PID123||{SENTINEL_NAME}||19700101|M\n")
    return home


def test_doctor_passes_on_the_seeded_home_and_lists_every_check(seeded: Path) -> None:
    out = benchlink(seeded, "doctor")
    for name in ("database key", "database", "port chem-1", "serial ports", "plugins", "drivers", "clock"):
        assert f"PASS  {name}" in out.stdout, out.stdout
    assert "FAIL" not in out.stdout
    assert out.stdout.rstrip().endswith("all passed")


def test_doctor_exits_nonzero_and_prints_fixes_when_something_is_broken(tmp_path: Path) -> None:
    home = tmp_path / "broken"
    home.mkdir()
    (home / "config.toml").write_text(
        '[[device]]\nname = "haem-1"\n[device.transport]\nkind = "serial"\ndevice = "/dev/ttyNOPE9"\n',
        encoding="utf-8")
    out = benchlink(home, "doctor", check=False)
    assert out.returncode == 1
    assert "FAIL  serial ports" in out.stdout and "fix: plug in the USB-serial adapter" in out.stdout
    as_json = json.loads(benchlink(home, "doctor", "--json", check=False).stdout)
    failed = [c for c in as_json if not c["ok"]]
    assert [c["name"] for c in failed] == ["serial ports"] and failed[0]["fix"]


def test_bundle_holds_versions_config_logs_counters_and_no_phi_or_key(seeded: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "support.zip"
    out = benchlink(seeded, "doctor", "--bundle", str(bundle))
    assert "support bundle written" in out.stderr
    key_hex = (seeded / "db.key").read_text(encoding="ascii").strip()
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        texts = {name: zf.read(name).decode("utf-8") for name in names}
    assert {"versions.json", "config.json", "settings.json", "doctor.txt", "counters.json",
            "logs/benchlink-recent.jsonl"} <= names
    for name, text in texts.items():
        assert SENTINEL_LAST not in text, f"patient name in {name}"
        assert "PID123" not in text, f"patient id in {name}"
        assert "19700101" not in text, f"birth date in {name}"
        assert key_hex.lower() not in text.lower(), f"key material in {name}"
    assert json.loads(texts["versions.json"])["benchlink"]
    counters = json.loads(texts["counters.json"])
    (device,) = counters["devices"]
    assert device["name"] == "chem-1" and device["counters"]["messages"] == 3
    assert json.loads(texts["config.json"])["device"][0]["transport"]["kind"] == "tcp-server"
    log = texts["logs/benchlink-recent.jsonl"]
    assert "message stored" in log and "frame rejected" in log and "[redacted]" in log
    assert "PASS  database" in texts["doctor.txt"]


def test_bundle_masks_database_password_and_secret_keys(tmp_path: Path) -> None:
    home = tmp_path / "h"
    home.mkdir()
    (home / "config.toml").write_text(
        '[database]\nurl = "postgresql+psycopg://lab:Hunter2Secret@db.example/benchlink"\n'
        '[status]\nport = 0\n', encoding="utf-8")
    key = home / "db.key"
    key.write_text("ab" * 32 + "\n", encoding="ascii")
    key.chmod(0o600)
    settings = load_settings(environ={"BENCHLINK_HOME": str(home), "BENCHLINK_KEY_FILE": str(key)})
    (home / "logs").mkdir()
    (home / "logs" / "benchlink.jsonl").write_text(
        json.dumps({"event": "oops", "detail": f"key was {'ab' * 32}", "password": "pw-in-log"}) + "\n",
        encoding="utf-8")
    bundle = tmp_path / "b.zip"
    write_bundle(settings, bundle, [Check("database", False, "cannot connect", "check the server")])
    with zipfile.ZipFile(bundle) as zf:
        everything = "\n".join(zf.read(n).decode("utf-8") for n in zf.namelist())
        config = json.loads(zf.read("config.json"))
    assert "Hunter2Secret" not in everything and "pw-in-log" not in everything
    assert "ab" * 32 not in everything
    assert "db.example" in config["database"]["url"]
    assert "oops" in everything


def test_bundle_to_an_unwritable_place_is_a_clear_error(seeded: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    out = benchlink(seeded, "doctor", "--bundle", str(blocker / "sub" / "b.zip"), check=False)
    assert out.returncode == 2 and "cannot write the support bundle" in out.stderr
