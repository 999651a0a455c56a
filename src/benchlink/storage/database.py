"""Opening the database: SQLCipher locally, PostgreSQL when several workstations share one server.

The raw 256-bit key travels in the URL as SQLCipher's ``x'<hex>'`` literal, which skips the
passphrase KDF (an open costs ~0.1 ms instead of ~100 ms). The engine's ``repr`` masks it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

from benchlink.storage.sqlite_pragmas import connection_pragmas

#: Execution option that makes a SQLite transaction start with ``BEGIN IMMEDIATE``: writers take
#: the write lock up front instead of failing later with SQLITE_BUSY when upgrading a read lock.
WRITE_OPTION = "benchlink_write"


class WrongKeyError(RuntimeError):
    """The database file exists but the key does not open it (or it is not a SQLCipher file)."""


def sqlite_url(path: Path, key: bytes) -> str:
    """The SQLAlchemy URL of an encrypted SQLite file opened with a raw 32-byte key."""
    if len(key) != 32:
        raise ValueError(f"database key must be 32 bytes, got {len(key)}")
    return f"sqlite+pysqlcipher://:x'{key.hex()}'@/{Path(path).resolve().as_posix()}"


def open_engine(url: str | None, *, path: Path | None = None, key: bytes | None = None) -> sqlalchemy.Engine:
    """Create an engine and prove it can read the database before anyone relies on it.

    Either ``url`` (SQLCipher or PostgreSQL) or ``path`` + ``key``. Raises :class:`WrongKeyError`
    when an existing SQLCipher file does not open with the key.
    """
    if url is None:
        if path is None or key is None:
            raise ValueError("open_engine needs either a URL or both path= and key=")
        url = sqlite_url(path, key)
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.get_driver_name() != "pysqlcipher":
            raise ValueError(
                "refusing a plaintext SQLite URL: use sqlite+pysqlcipher:// (see sqlite_url()); "
                "the database must be encrypted"
            )
        return _open_sqlcipher(url, parsed.database or "")
    if backend == "postgresql":
        engine = sqlalchemy.create_engine(url, pool_pre_ping=True)
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return engine
    raise ValueError(f"unsupported database URL scheme {parsed.drivername!r}: use SQLCipher or PostgreSQL")


def _open_sqlcipher(url: str, database: str) -> sqlalchemy.Engine:
    # The dialect defaults to SingletonThreadPool, which closes connections of other threads once
    # more than five threads have used it; a QueuePool shared across threads is safe here because
    # each connection is used by one thread at a time.
    engine = sqlalchemy.create_engine(
        url,
        poolclass=QueuePool,
        pool_size=5,
        max_overflow=10,
        connect_args={"check_same_thread": False, "timeout": 30.0},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # The dialect has already sent PRAGMA key. Autocommit at the driver level; SQLAlchemy's
        # "begin" hook below emits BEGIN itself so transactions mean what the code says.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            for pragma in connection_pragmas():
                cur.execute(pragma)
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sqlalchemy.Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar_one()
    except sqlalchemy.exc.DatabaseError as exc:
        engine.dispose()
        text = str(exc.orig) if exc.orig is not None else str(exc)
        if "not a database" in text or "encrypted" in text:
            raise WrongKeyError(
                f"database {database} cannot be opened with this key: {text}. The file is either "
                "encrypted with a different key or is not a SQLCipher database. Restore the key file "
                "(BENCHLINK_KEY_FILE) or keyring entry that was used to create it; Benchlink never "
                "re-keys or replaces an existing database."
            ) from None
        raise
    return engine


def cipher_version(engine: sqlalchemy.Engine) -> str:
    """SQLCipher's version string; empty when the connection is not encrypted (proof for tests/doctor)."""
    with engine.connect() as conn:
        value = conn.exec_driver_sql("PRAGMA cipher_version").scalar()
    return str(value or "")
