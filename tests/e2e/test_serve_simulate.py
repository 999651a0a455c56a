"""The walking skeleton, end to end, as an operator would run it: serve + simulate over loopback,
results in the encrypted database, CSV export, clean shutdown on SIGTERM, no PHI in logs."""

from __future__ import annotations

import csv
import signal
import sqlite3
from pathlib import Path

import pytest
from tests.helpers import (
    SENTINEL_LAST,
    SENTINEL_NAME,
    benchlink,
    free_port,
    port_open,
    start_serve,
    use_event_loop,
    wait_for,
    write_tcp_config,
)


@pytest.fixture(params=["asyncio", "uvloop"])
def served(tmp_path: Path, request: pytest.FixtureRequest):
    home = tmp_path / "home"
    port = free_port()
    write_tcp_config(home, port)
    use_event_loop(home, request.param)
    proc = start_serve(home)
    try:
        assert wait_for(lambda: port_open(port) or proc.poll() is not None, 30), "serve never listened"
        assert proc.poll() is None, proc.communicate()
        yield home, port, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_serve_and_simulate_store_encrypt_and_export(served) -> None:
    home, port, proc = served
    sim = benchlink(home, "simulate", "--connect", f"127.0.0.1:{port}", "--count", "5", "--seed", "7",
                    "--patient-name", SENTINEL_NAME)
    assert "sent 5/5 messages, all acknowledged: True" in sim.stdout

    # the running serve reports how long its commits take (status file rewritten every second)
    def latency_reported() -> bool:
        return "commit latency: p50" in benchlink(home, "status").stdout

    assert wait_for(latency_reported, 10)

    # clean shutdown on SIGTERM
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped cleanly" in err

    # results are in the database and come back through the CLI
    listing = benchlink(home, "results", "--json", "--limit", "500")
    rows = [line for line in listing.stdout.splitlines() if line.strip()]
    assert len(rows) >= 5 * 4
    assert '"sample_id": "SIM000005"' in listing.stdout

    # CSV export holds every stored result with the documented columns
    out_csv = home / "out.csv"
    benchlink(home, "export", "csv", "--out", str(out_csv))
    with out_csv.open(newline="", encoding="utf-8") as handle:
        records = list(csv.DictReader(handle))
    assert len(records) == len(rows)
    assert {r["sample_id"] for r in records} == {f"SIM{i:06d}" for i in range(1, 6)}
    assert {"instrument_code", "lis_code", "numeric_value", "comparator", "message_id"} <= set(records[0])
    from benchlink.runtime.simulator import PANEL

    assert all(r["instrument_code"] in {code for code, *_ in PANEL} for r in records)

    # the database file is unreadable without the key
    db = home / "benchlink.db"
    raw = db.read_bytes()
    assert not raw.startswith(b"SQLite format 3\x00")
    for path in [db, *db.parent.glob("benchlink.db-*")]:
        assert SENTINEL_LAST.encode() not in path.read_bytes(), f"patient name in plaintext in {path.name}"
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(db).execute("select count(*) from sqlite_master").fetchone()

    # PHI stays out of the diagnostic logs and the console
    logs = list((home / "logs").glob("*"))
    assert logs, "serve wrote no log file"
    for log_file in logs:
        assert SENTINEL_LAST not in log_file.read_text(encoding="utf-8", errors="replace")
    assert "message stored" in logs[0].read_text(encoding="utf-8")
    assert SENTINEL_LAST not in out + err + sim.stdout + sim.stderr


def test_status_reports_running_devices(served, request: pytest.FixtureRequest) -> None:
    home, _port, proc = served
    loop = request.node.callspec.params["served"]
    assert wait_for(lambda: (home / "status.json").exists(), 10)
    status = benchlink(home, "status")
    assert "chem-1" in status.stdout and "listening" in status.stdout
    assert f"{loop} event loop" in status.stdout  # the configured loop really runs serve
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_missing_key_is_a_clear_error_not_plaintext(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.helpers import cli_env

    env = cli_env(tmp_path)
    del env["BENCHLINK_KEY_FILE"]
    proc = subprocess.run([sys.executable, "-m", "benchlink", "results"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 3
    assert "BENCHLINK_KEY_FILE" in proc.stderr
    assert not (tmp_path / "benchlink.db").exists() or not os.path.getsize(tmp_path / "benchlink.db")
