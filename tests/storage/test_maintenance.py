"""Backup/restore, key rotation and archive-then-prune, on real SQLCipher files."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy

from benchlink.core.model import Result
from benchlink.storage.database import WrongKeyError, open_engine
from benchlink.storage.keys import load_or_create_key, store_key
from benchlink.storage.maintenance import (
    MaintenanceError,
    backup_database,
    rekey_database,
    restore_database,
    serve_is_running,
    verify_database_file,
)
from benchlink.storage.store import InboundMessage, ResultFilter, Store

KEY = bytes(range(32))
T0 = datetime(2025, 1, 1, tzinfo=UTC)
SENTINEL = "Qwxzsentinel Backuppatient"


def _msg(n: int, *, days: int = 0, **kw: object) -> InboundMessage:
    res = (Result(sample_id=f"S{n}", instrument_code="GLU", value="5.1", patient_name=SENTINEL),
           Result(sample_id=f"S{n}", instrument_code="NA", value="140"))
    kw.setdefault("results", res)
    return InboundMessage(device="d", protocol="astm", data=f"P|1||{SENTINEL}|{n}".encode(),
                          received_at=T0 + timedelta(days=days, minutes=n), **kw)  # type: ignore[arg-type]


def _open(path: Path, key: bytes = KEY) -> Store:
    store = Store(open_engine(None, path=path, key=key))
    store.migrate()
    return store


def test_backup_is_encrypted_and_restore_brings_data_back(tmp_path: Path) -> None:
    db = tmp_path / "benchlink.db"
    store = _open(db)
    store.commit_inbound([_msg(n) for n in range(3)])
    backup = tmp_path / "backups" / "b1.db"
    # Online: a reader holds a transaction open while the backup runs.
    with store.engine.connect() as reader:
        reader.exec_driver_sql("SELECT count(*) FROM results").scalar()
        size = backup_database(store.engine, KEY, backup)
    assert size == backup.stat().st_size > 0
    # The backup is as encrypted as the database (same proofs as test_encryption).
    content = backup.read_bytes()
    assert content[:16] != b"SQLite format 3\x00" and SENTINEL.encode() not in content
    assert not Path(f"{backup}-wal").exists()
    plain = sqlite3.connect(backup)
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        plain.execute("SELECT count(*) FROM sqlite_master").fetchall()
    plain.close()
    with pytest.raises(WrongKeyError):
        verify_database_file(backup, bytes(32))
    assert verify_database_file(backup, KEY) == 3
    with pytest.raises(MaintenanceError, match="already exists"):
        backup_database(store.engine, KEY, backup)

    # Change data after the backup, then restore: the change is gone, the old data is back.
    store.commit_inbound([_msg(10), _msg(11)])
    store.mappings().set_mapping("*", "GLU", "2345-7", actor="s")
    assert store.count_results(ResultFilter()) == 10
    store.engine.dispose()
    outcome = restore_database(backup, db, KEY, status_file=tmp_path / "status.json", stamp="20250101T000000Z")
    assert outcome.restored_messages == 3
    assert outcome.previous == tmp_path / "benchlink.db.before-restore-20250101T000000Z"
    restored = _open(db)
    assert restored.count_results(ResultFilter()) == 6
    assert restored.mappings().current_mappings() == []
    assert restored.audit().verify().ok
    restored.engine.dispose()
    # The replaced database is kept, complete (its WAL was folded in) and still opens.
    kept = _open(outcome.previous)
    assert kept.count_results(ResultFilter()) == 10
    kept.engine.dispose()


def test_restore_refuses_while_serve_runs_and_checks_the_backup_first(tmp_path: Path) -> None:
    db = tmp_path / "benchlink.db"
    store = _open(db)
    store.commit_inbound([_msg(1)])
    backup = tmp_path / "b.db"
    backup_database(store.engine, KEY, backup)
    store.engine.dispose()
    status = tmp_path / "status.json"
    status.write_text(json.dumps({"pid": 1, "updated": time.time(), "running": True}), encoding="utf-8")
    assert serve_is_running(status)
    with pytest.raises(MaintenanceError, match="serve` is running"):
        restore_database(backup, db, KEY, status_file=status)
    # A stale status file (serve died long ago) does not block.
    status.write_text(json.dumps({"pid": 1, "updated": time.time() - 3600, "running": True}), encoding="utf-8")
    assert not serve_is_running(status)
    # A backup that the key cannot open is refused before anything is touched.
    before = db.read_bytes()
    with pytest.raises(WrongKeyError, match="another key"):
        restore_database(backup, db, bytes(32), status_file=status)
    with pytest.raises(MaintenanceError, match="does not exist"):
        restore_database(tmp_path / "missing.db", db, KEY, status_file=status)
    assert db.read_bytes() == before and not list(tmp_path.glob("*.before-restore-*"))


def test_rekey_rotates_the_key_and_stores_it_in_the_key_file(tmp_path: Path) -> None:
    db = tmp_path / "benchlink.db"
    key_file = tmp_path / "db.key"
    old = load_or_create_key(key_file=key_file, use_keyring=False)
    store = _open(db, old)
    store.commit_inbound([_msg(1)])
    where = rekey_database(store.engine, db, lambda k: store_key(k, key_file=key_file, use_keyring=False),
                           actor="admin", pending_file=tmp_path / "benchlink.key.pending")
    assert "key file" in where and not (tmp_path / "benchlink.key.pending").exists()
    new = load_or_create_key(key_file=key_file, use_keyring=False)
    assert new != old and len(new) == 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with pytest.raises(WrongKeyError):
        open_engine(None, path=db, key=old)
    again = _open(db, new)
    assert again.count_results(ResultFilter()) == 2
    (entry,) = again.audit().search(action="key.rotated")
    assert entry.actor == "admin"
    text = json.dumps([entry.before, entry.after])
    assert new.hex() not in text and old.hex() not in text
    assert again.audit().verify().ok
    again.engine.dispose()


def test_rekey_into_the_keyring(tmp_path: Path, fake_keyring: object) -> None:
    db = tmp_path / "benchlink.db"
    old = load_or_create_key(key_file=None, use_keyring=True)
    store = _open(db, old)
    rekey_database(store.engine, db, lambda k: store_key(k, key_file=None, use_keyring=True),
                   actor="admin", pending_file=tmp_path / "pending")
    new = load_or_create_key(key_file=None, use_keyring=True)
    assert new != old
    _open(db, new).engine.dispose()


# --------------------------------------------------------------------------- prune
def test_prune_archives_then_deletes_only_exported_old_messages(store: Store, tmp_path: Path) -> None:
    old = [_msg(n, days=0) for n in range(5)]
    outs = store.commit_inbound(old)
    recent = store.commit_inbound([_msg(50, days=100)])
    unexported = store.commit_inbound([_msg(60, days=0)])
    (quarantined,) = store.commit_inbound([_msg(70, days=0, results=(), decode_status="quarantined",
                                                error="bad")])
    (fragment,) = store.commit_inbound([_msg(80, days=0, results=(), decode_status="empty",
                                             link_meta={"fragment": 1})])
    exported_ids = [r.id for r in store.iter_results(ResultFilter()) if r.message_id not in
                    {unexported[0].message_id}]
    store.mark_exported(exported_ids, T0 + timedelta(days=101), "lis")
    archive = tmp_path / "archive-2025.db"
    report = store.pruner().prune(T0 + timedelta(days=30), archive, KEY, actor="admin")
    assert (report.messages, report.results, report.quarantine) == (6, 10, 0)  # 5 old + the fragment
    assert (report.kept_unexported, report.kept_quarantined) == (1, 1)
    for o in outs:
        assert store.raw_message(o.message_id) is None
    assert store.raw_message(fragment.message_id) is None
    for kept in (recent[0], unexported[0], quarantined):
        assert store.raw_message(kept.message_id) is not None
    assert store.count_results(ResultFilter()) == 4
    # The archive is encrypted with the key and holds exactly what left the live database.
    assert archive.read_bytes()[:16] != b"SQLite format 3\x00"
    eng = open_engine(None, path=archive, key=KEY)
    with eng.connect() as conn:
        counts = [conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar() for t in ("raw_messages", "results")]
        info = json.loads(conn.exec_driver_sql("SELECT report FROM archive_info").scalar_one())
        data = conn.exec_driver_sql("SELECT data FROM raw_messages ORDER BY id").scalars().all()
    eng.dispose()
    assert counts == [6, 10] and info["messages"] == 6 and info["archive_sha256"] == report.archive_sha256
    assert bytes(data[0]) == old[0].data
    (entry,) = store.audit().search(action="db.prune")
    assert entry.actor == "admin" and entry.after is not None and entry.after["messages"] == 6
    with pytest.raises(MaintenanceError, match="already exists"):
        store.pruner().prune(T0 + timedelta(days=30), archive, KEY, actor="admin")


def test_prune_with_nothing_old_writes_an_empty_archive(store: Store, tmp_path: Path) -> None:
    store.commit_inbound([_msg(1)])
    report = store.pruner().prune(T0 - timedelta(days=1), tmp_path / "a.db", KEY, actor="admin")
    assert report.messages == 0 and store.count_results(ResultFilter()) == 2


def test_backup_refuses_postgres(tmp_path: Path) -> None:
    eng = sqlalchemy.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(MaintenanceError, match="pg_dump"):
        backup_database(eng, KEY, tmp_path / "x.db")
    assert not os.path.exists(tmp_path / "x.db")
