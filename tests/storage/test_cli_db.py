"""The admin commands as a user runs them: real processes, a real encrypted database."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.helpers import cli_env

from benchlink.storage.database import open_engine
from benchlink.storage.keys import load_or_create_key
from benchlink.storage.store import InboundMessage, ResultFilter, Store

# The first admin is created from the environment on first use (the mapping/replay commands need
# the mappings.edit permission); every later command signs in as that user.
_AUTH = {"BENCHLINK_ADMIN_PASSWORD": "correct horse battery staple 7", "BENCHLINK_USER": "boss",
         "BENCHLINK_PASSWORD": "correct horse battery staple 7"}


def benchlink(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "benchlink", *args], env={**cli_env(home), **_AUTH},
                          capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"benchlink {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc

ASTM = (b"H|\\^&|||Analyzer^1|||||||P|1\rP|1||PID1||Doe^John\rO|1|S1||^^^GLU\r"
        b"R|1|^^^GLU|5.5|mmol/L||H||F\rR|2|^^^NA|140|mmol/L||N||F\rL|1|N\r")


def _seed(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    key = load_or_create_key(key_file=home / "db.key", use_keyring=False)
    store = Store(open_engine(None, path=home / "benchlink.db", key=key))
    store.migrate()
    from benchlink.runtime.plugins import PluginManager

    results = PluginManager().driver("astm").decode(ASTM, encoding="latin-1").results
    store.commit_inbound([InboundMessage(device="chem-x", protocol="astm", data=ASTM,
                                         received_at=datetime(2025, 1, 1, tzinfo=UTC), results=results)])
    store.engine.dispose()


def _results(home: Path) -> list[dict[str, object]]:
    out = benchlink(home, "results", "--json").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_mappings_replay_backup_restore_rekey_prune(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _seed(home)
    assert {r["lis_code"] for r in _results(home)} == {""}

    benchlink(home, "mappings", "set", "*", "GLU", "2345-7", "--name", "Glucose")
    out = benchlink(home, "replay").stdout
    assert "1 changed" in out and "0 failed" in out
    by_code = {r["instrument_code"]: r for r in _results(home)}
    assert by_code["GLU"]["lis_code"] == "2345-7" and by_code["GLU"]["test_name"] == "Glucose"
    assert "0 changed, 1 unchanged" in benchlink(home, "replay").stdout

    backup = tmp_path / "backup.db"
    benchlink(home, "db", "backup", str(backup))
    csv_file = tmp_path / "maps.csv"
    csv_file.write_text("device,instrument_code,lis_code\n*,NA,2951-2\n", encoding="utf-8")
    assert "1 changed" in benchlink(home, "mappings", "import", str(csv_file)).stdout
    assert "2951-2" in benchlink(home, "mappings", "list").stdout

    # A running serve blocks the restore; a stopped one does not.
    status = home / "status.json"
    status.write_text(json.dumps({"pid": 1, "updated": time.time(), "running": True}), encoding="utf-8")
    refused = benchlink(home, "db", "restore", str(backup), check=False)
    assert refused.returncode == 1 and "stop the service" in refused.stderr
    status.unlink()
    restored = benchlink(home, "db", "restore", str(backup))
    assert "before-restore-" in restored.stdout
    listing = benchlink(home, "mappings", "list").stdout
    assert "2345-7" in listing and "2951-2" not in listing
    assert list(home.glob("benchlink.db.before-restore-*"))

    old_key = (home / "db.key").read_text()
    assert "rotated" in benchlink(home, "db", "rekey").stdout
    assert (home / "db.key").read_text() != old_key
    assert len(_results(home)) == 2  # the new key from the key file opens the database
    assert "audit chain intact" in benchlink(home, "audit", "verify").stdout
    store_check = Store(open_engine(None, path=home / "benchlink.db",
                                    key=load_or_create_key(key_file=home / "db.key", use_keyring=False)))
    assert {e.actor for e in store_check.audit().search(action="mapping.set")} == {"boss"}
    store_check.engine.dispose()

    # Prune keeps the unexported message; once exported it is archived and removed.
    archive1 = tmp_path / "a1.db"
    kept = benchlink(home, "db", "prune", "--older-than", "1", "--archive", str(archive1)).stdout
    assert "pruned 0 raw messages" in kept and "1 old messages with unexported results" in kept
    key = load_or_create_key(key_file=home / "db.key", use_keyring=False)
    store = Store(open_engine(None, path=home / "benchlink.db", key=key))
    store.mark_exported([r.id for r in store.iter_results(ResultFilter())], datetime.now(UTC), "lis")
    store.engine.dispose()
    archive2 = tmp_path / "a2.db"
    done = benchlink(home, "db", "prune", "--older-than", "1", "--archive", str(archive2)).stdout
    assert "pruned 1 raw messages (2 results" in done
    assert _results(home) == [] and archive2.stat().st_size > 0
