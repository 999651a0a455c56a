"""Guarantee 4 checked on the real files SQLCipher writes."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from benchlink.core.model import Result
from benchlink.storage.database import WrongKeyError, cipher_version, open_engine, sqlite_url
from benchlink.storage.store import InboundMessage, ResultFilter, Store

KEY = bytes(range(32))
T0 = datetime(2025, 3, 1, tzinfo=UTC)
SENTINEL = "Zyxwvutsrq Sentinelpatient"


def _filled(path: Path) -> Store:
    store = Store(open_engine(None, path=path, key=KEY))
    store.migrate()
    res = tuple(
        Result(sample_id=f"S{i}", instrument_code="GLU", value="5.1", patient_name=SENTINEL)
        for i in range(50)
    )
    store.commit_inbound(
        [
            InboundMessage(
                device="d", protocol="astm", data=f"P|1||{SENTINEL}".encode(), received_at=T0, results=res
            )
        ]
    )
    return store


def test_files_hold_no_plaintext(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    store = _filled(db)
    # Keep the connection open so -wal and -shm exist and hold the fresh pages.
    with store.engine.connect() as conn:
        conn.exec_driver_sql("SELECT count(*) FROM results").scalar()
        files = [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
        assert Path(f"{db}-wal").exists(), "WAL mode expected"
        assert db.read_bytes()[:16] != b"SQLite format 3\x00"
        for f in files:
            content = f.read_bytes()
            assert SENTINEL.encode() not in content, f"plaintext patient name found in {f.name}"
            assert b"Sentinelpatient" not in content
    # A control: the sentinel really is in the database, so the check above could fail.
    assert store.results_page(ResultFilter())[0].patient_name == SENTINEL
    assert cipher_version(store.engine)
    store.engine.dispose()


def test_stdlib_sqlite_refuses_the_file(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    _filled(db).engine.dispose()
    plain = sqlite3.connect(db)
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        plain.execute("SELECT count(*) FROM sqlite_master").fetchall()
    plain.close()


def test_wrong_key_raises_helpful_error(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    _filled(db).engine.dispose()
    with pytest.raises(WrongKeyError) as err:
        open_engine(sqlite_url(db, bytes(32)))
    message = str(err.value)
    assert str(db) in message
    assert "key file" in message and "keyring" in message


def test_right_key_reopens(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    _filled(db).engine.dispose()
    store = Store(open_engine(None, path=db, key=KEY))
    assert store.count_results(ResultFilter()) == 50
    store.engine.dispose()


def test_plaintext_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="plaintext"):
        open_engine(f"sqlite:///{tmp_path / 'x.db'}")


def test_engine_repr_hides_key(tmp_path: Path) -> None:
    engine = open_engine(None, path=tmp_path / "x.db", key=KEY)
    assert KEY.hex() not in repr(engine)
    assert KEY.hex() in sqlite_url(tmp_path / "x.db", KEY)
    engine.dispose()


def test_sqlcipher_pragmas(tmp_path: Path) -> None:
    engine = open_engine(None, path=tmp_path / "x.db", key=KEY)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()
