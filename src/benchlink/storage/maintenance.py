"""Administration of the encrypted SQLite file: backup, restore, key rotation, archive-then-prune.

Every file this module writes is a SQLCipher database: a backup or an archive is as unreadable
without the key as the live database (guarantee 4). They use the live database's key, so the one
key file (or keyring entry) opens all of them; after ``rekey`` older backups and archives still
need the OLD key, which is why :func:`rekey_database` leaves a note of it nowhere and the
administration guide says to back the key file up together with its backups.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy
import sqlcipher3

from benchlink.storage.audit import AuditLog
from benchlink.storage.commit_sql import CommitSql
from benchlink.storage.database import WRITE_OPTION, WrongKeyError, open_engine
from benchlink.storage.keys import KEY_BYTES
from benchlink.storage.schema import metadata, quarantine, raw_messages, results

#: A ``serve`` refreshes ``status.json`` every second; older than this means it is gone.
SERVE_FRESH_SECONDS = 10.0


class MaintenanceError(RuntimeError):
    """An administrative action was refused or failed safely; the message says what to do."""


def _keyed(path: Path, key: bytes) -> sqlcipher3.Connection:
    conn = sqlcipher3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    return conn


def _check_sqlite(engine: sqlalchemy.Engine, what: str) -> None:
    if engine.dialect.name != "sqlite":
        raise MaintenanceError(
            f"{what} works on the local SQLCipher database; for PostgreSQL use the server's tools "
            "(pg_dump / pg_restore), see docs/administration.md"
        )


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


# --------------------------------------------------------------------------- backup / restore
def backup_database(engine: sqlalchemy.Engine, key: bytes, target: Path) -> int:
    """Online, consistent copy of the live database into ``target`` (encrypted with ``key``).

    Uses SQLite's backup API in one step, so the copy is one snapshot even while the writer
    runs. Returns the size in bytes. Refuses to overwrite an existing file.
    """
    _check_sqlite(engine, "db backup")
    target = Path(target)
    if target.exists():
        raise MaintenanceError(f"{target} already exists; choose a new file name (backups are never overwritten)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    tmp.unlink(missing_ok=True)
    raw = engine.raw_connection()
    try:
        with closing(_keyed(tmp, key)) as dest:
            raw.driver_connection.backup(dest)  # type: ignore[union-attr]
            dest.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        raw.close()
    _fsync_file(tmp)
    os.replace(tmp, target)
    verify_database_file(target, key)
    return target.stat().st_size


def verify_database_file(path: Path, key: bytes) -> int:
    """Prove ``path`` opens with ``key`` and is intact; returns its number of raw messages."""
    if not Path(path).is_file():
        raise MaintenanceError(f"{path} does not exist or is not a file")
    with closing(_keyed(Path(path), key)) as conn:
        try:
            check = conn.execute("PRAGMA quick_check").fetchone()
        except sqlcipher3.DatabaseError as exc:
            raise WrongKeyError(
                f"{path} cannot be opened with the current key ({exc}). It was written with another key "
                "(e.g. before a `benchlink db rekey`) or is not a Benchlink database: use the key file "
                "that was in use when the backup was made."
            ) from None
        if check is None or check[0] != "ok":
            raise MaintenanceError(f"{path} is damaged (integrity check: {check}); use another backup")
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "raw_messages" not in names:
            raise MaintenanceError(f"{path} opens but holds no Benchlink data (no raw_messages table)")
        return int(conn.execute("SELECT count(*) FROM raw_messages").fetchone()[0])


def serve_is_running(status_file: Path, *, now: float | None = None) -> bool:
    """True when a ``serve`` published a fresh status with running=true (the restore guard)."""
    try:
        status = json.loads(Path(status_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(status, dict):
        return False
    try:
        age = (time.time() if now is None else now) - float(status.get("updated", 0))
    except (TypeError, ValueError):
        return False
    return bool(status.get("running")) and age < SERVE_FRESH_SECONDS


@dataclass(frozen=True, slots=True)
class RestoreOutcome:
    restored_messages: int
    previous: Path | None  # where the replaced database was kept


def restore_database(
    backup: Path, database: Path, key: bytes, *, status_file: Path, stamp: str | None = None
) -> RestoreOutcome:
    """Replace ``database`` with ``backup`` after proving the backup opens with ``key``.

    Refuses while a ``serve`` is running. The replaced database (and its -wal/-shm) is kept
    as ``<database>.before-restore-<stamp>``; nothing is deleted.
    """
    if serve_is_running(status_file):
        raise MaintenanceError(
            f"a `benchlink serve` is running (fresh {status_file}); stop the service first, then restore"
        )
    backup, database = Path(backup), Path(database)
    count = verify_database_file(backup, key)
    stamp = stamp or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    previous: Path | None = None
    if database.exists():
        _checkpoint(database, key)
        previous = database.with_name(f"{database.name}.before-restore-{stamp}")
        if previous.exists():
            raise MaintenanceError(f"{previous} already exists; wait a second and retry")
        os.replace(database, previous)
        for suffix in ("-wal", "-shm"):
            side = Path(f"{database}{suffix}")
            if side.exists():
                os.replace(side, Path(f"{previous}{suffix}"))
    tmp = database.with_name(database.name + ".restoring")
    shutil.copyfile(backup, tmp)
    _fsync_file(tmp)
    os.replace(tmp, database)
    verify_database_file(database, key)
    return RestoreOutcome(count, previous)


def _checkpoint(database: Path, key: bytes) -> None:
    """Fold the WAL into the main file so the kept copy is complete on its own (best effort:
    a database the key cannot open is moved aside as it is, with its -wal)."""
    try:
        with closing(_keyed(database, key)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlcipher3.DatabaseError:
        return


# --------------------------------------------------------------------------- rekey
def rekey_database(
    engine: sqlalchemy.Engine,
    database: Path,
    store_new_key: Callable[[bytes], str],
    *,
    actor: str,
    pending_file: Path,
) -> str:
    """Rotate the key: ``PRAGMA rekey`` to a fresh random key, then save it via ``store_new_key``.

    Crash safety: the new key is first written to ``pending_file`` (0600). If the process dies
    after the rekey and before the key is stored, the pending file opens the database; it is
    removed once the key is safely stored. ``engine`` is disposed (its connections hold the old
    key). Returns where the key was stored.
    """
    _check_sqlite(engine, "db rekey")
    new_key = secrets.token_bytes(KEY_BYTES)
    engine.dispose()
    fd = os.open(pending_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(new_key.hex() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    raw = engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        dbapi.execute(f"PRAGMA rekey = \"x'{new_key.hex()}'\"")  # type: ignore[union-attr]
    finally:
        raw.close()
    engine.dispose()
    check = open_engine(None, path=database, key=new_key)  # raises WrongKeyError if the rekey failed
    try:
        where = store_new_key(new_key)
        AuditLog(check).append(actor, "key.rotated", "database", None, {"stored_in": where})
    finally:
        check.dispose()
    pending_file.unlink(missing_ok=True)
    return where


# --------------------------------------------------------------------------- archive + prune
@dataclass(slots=True)
class PruneReport:
    cutoff: datetime
    archive: str
    messages: int = 0
    results: int = 0
    quarantine: int = 0
    kept_unexported: int = 0  # old messages kept because a result is not exported yet
    kept_quarantined: int = 0  # old messages kept because they are (or were) quarantined
    archive_sha256: str = ""  # over the archived raw bytes, in id order


_TABLES = (raw_messages, results, quarantine)


class Pruner:
    """Archive-then-prune of old raw messages (and their results and quarantine records)."""

    def __init__(self, engine: sqlalchemy.Engine, audit: AuditLog) -> None:
        self._engine = engine
        self._audit = audit
        self._sql = CommitSql(engine.dialect)
        self._m = self._sql.mark

    def _eligible(self, cutoff_param: Any) -> tuple[str, list[Any]]:
        m = self._m
        where = (
            f"r.received_at < {m} AND r.decode_status <> 'quarantined' "
            "AND NOT EXISTS (SELECT 1 FROM results x WHERE x.message_id = r.id AND x.exported_at IS NULL) "
            "AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.message_id = r.id AND q.state = 'open')"
        )
        return where, [cutoff_param]

    @contextmanager
    def _cursor(self, *, write: bool = False) -> Iterator[tuple[sqlalchemy.Connection, Any]]:
        options = {WRITE_OPTION: True} if write else {}
        with self._engine.connect().execution_options(**options) as conn, conn.begin():
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                yield conn, cur
            finally:
                cur.close()

    def _kept_counts(self, cutoff_param: Any) -> tuple[int, int]:
        m = self._m
        with self._cursor() as (_, cur):
            cur.execute(
                f"SELECT count(*) FROM raw_messages r WHERE r.received_at < {m} AND r.decode_status <> "
                "'quarantined' AND EXISTS (SELECT 1 FROM results x WHERE x.message_id = r.id "
                "AND x.exported_at IS NULL)", [cutoff_param])
            unexported = int(cur.fetchone()[0])
            cur.execute(
                f"SELECT count(*) FROM raw_messages r WHERE r.received_at < {m} AND (r.decode_status = "
                "'quarantined' OR EXISTS (SELECT 1 FROM quarantine q WHERE q.message_id = r.id "
                "AND q.state = 'open'))", [cutoff_param])
            return unexported, int(cur.fetchone()[0])

    def prune(self, cutoff: datetime, archive: Path, archive_key: bytes, *, actor: str,
              chunk: int = 1000) -> PruneReport:
        """Move every eligible raw message received before ``cutoff`` into ``archive``.

        Per chunk: copy to the archive and commit it; read the archive back and compare row
        counts and the SHA-256 of every raw message's bytes; only then delete the chunk from the
        live database, in one transaction that re-checks eligibility. ``archive`` must not exist.
        """
        archive = Path(archive)
        if archive.exists():
            raise MaintenanceError(f"{archive} already exists; give a new archive file name")
        cutoff_param = self._sql.at(cutoff)
        report = PruneReport(cutoff=cutoff, archive=str(archive))
        report.kept_unexported, report.kept_quarantined = self._kept_counts(cutoff_param)
        where, params = self._eligible(cutoff_param)
        archive_engine = open_engine(None, path=archive, key=archive_key)
        digest = hashlib.sha256()
        try:
            metadata.create_all(archive_engine, tables=list(_TABLES))
            with archive_engine.begin() as conn:
                conn.exec_driver_sql(
                    "CREATE TABLE archive_info (created_at TEXT NOT NULL, cutoff TEXT NOT NULL, "
                    "report TEXT NOT NULL)"
                )
            after = 0
            while True:
                with self._cursor() as (_, cur):
                    cur.execute(
                        f"SELECT r.id FROM raw_messages r WHERE {where} AND r.id > {self._m} "
                        f"ORDER BY r.id LIMIT {int(chunk)}", [*params, after])
                    ids = [int(r[0]) for r in cur.fetchall()]
                if not ids:
                    break
                after = ids[-1]
                copied = self._copy_chunk(ids, archive_engine)
                self._verify_chunk(ids, copied, archive_engine, digest)
                self._delete_chunk(ids, copied, where, params)
                report.messages += copied["raw_messages"]
                report.results += copied["results"]
                report.quarantine += copied["quarantine"]
            report.archive_sha256 = digest.hexdigest()
            summary = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(report).items()}
            with archive_engine.begin() as conn:
                conn.exec_driver_sql(
                    "INSERT INTO archive_info (created_at, cutoff, report) VALUES (?, ?, ?)",
                    (datetime.now(UTC).isoformat(), cutoff.isoformat(), json.dumps(summary)),
                )
        finally:
            archive_engine.dispose()
        with closing(_keyed(archive, archive_key)) as single:
            single.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        self._audit.append(actor, "db.prune", str(archive), None, summary)
        return report

    def _rows(self, cur: Any, table: sqlalchemy.Table, column: str, ids: Sequence[int]) -> list[tuple[Any, ...]]:
        cols = ", ".join(c.name for c in table.columns)
        marks = ", ".join([self._m] * len(ids))
        cur.execute(f"SELECT {cols} FROM {table.name} WHERE {column} IN ({marks}) ORDER BY id", list(ids))
        return [tuple(r) for r in cur.fetchall()]

    def _copy_chunk(self, ids: Sequence[int], archive_engine: sqlalchemy.Engine) -> dict[str, int]:
        with self._cursor() as (_, cur):
            rows = {
                "raw_messages": self._rows(cur, raw_messages, "id", ids),
                "results": self._rows(cur, results, "message_id", ids),
                "quarantine": self._rows(cur, quarantine, "message_id", ids),
            }
        archive_sql = CommitSql(archive_engine.dialect)
        with archive_engine.connect() as conn, conn.begin():
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            for table in _TABLES:
                if rows[table.name]:
                    cols = [c.name for c in table.columns]
                    marks = ", ".join([archive_sql.mark] * len(cols))
                    cur.executemany(f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({marks})",
                                    self._portable(rows[table.name], archive_sql.at))
            cur.close()
        return {name: len(value) for name, value in rows.items()}

    def _portable(self, rows: list[tuple[Any, ...]], encode_at: Callable[[Any], Any]) -> list[tuple[Any, ...]]:
        """PostgreSQL hands back datetimes and memoryviews; the SQLite archive wants its own text form."""
        if self._engine.dialect.name == "sqlite":
            return rows
        return [
            tuple(encode_at(v) if isinstance(v, datetime) else bytes(v) if isinstance(v, memoryview) else v
                  for v in row)
            for row in rows
        ]

    def _verify_chunk(self, ids: Sequence[int], copied: dict[str, int], archive_engine: sqlalchemy.Engine,
                      digest: Any) -> None:
        marks = ", ".join(["?"] * len(ids))
        with archive_engine.connect() as conn:
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            for table, column in (("raw_messages", "id"), ("results", "message_id"), ("quarantine", "message_id")):
                cur.execute(f"SELECT count(*) FROM {table} WHERE {column} IN ({marks})", list(ids))
                found = int(cur.fetchone()[0])
                if found != copied[table]:
                    raise MaintenanceError(
                        f"archive check failed: {found} {table} rows in the archive, {copied[table]} copied; "
                        "nothing was deleted from the live database"
                    )
            cur.execute(f"SELECT id, data, sha256 FROM raw_messages WHERE id IN ({marks}) ORDER BY id", list(ids))
            for rid, data, sha in cur.fetchall():
                if hashlib.sha256(bytes(data)).hexdigest() != sha:
                    raise MaintenanceError(
                        f"archive check failed: raw message {rid} differs from its SHA-256; nothing was deleted"
                    )
                digest.update(f"{rid}:{sha}\n".encode())
            cur.close()

    def _delete_chunk(self, ids: Sequence[int], copied: dict[str, int], where: str, params: list[Any]) -> None:
        marks = ", ".join([self._m] * len(ids))
        with self._cursor(write=True) as (_, cur):
            cur.execute(f"SELECT count(*) FROM raw_messages r WHERE {where} AND r.id IN ({marks})", [*params, *ids])
            still = int(cur.fetchone()[0])
            if still != copied["raw_messages"]:
                raise MaintenanceError(
                    "messages changed while they were archived (a result was re-opened for export or a replay "
                    "ran); this chunk was archived but not deleted - run the prune again into a new archive"
                )
            cur.execute(f"DELETE FROM results WHERE message_id IN ({marks})", list(ids))
            cur.execute(f"DELETE FROM quarantine WHERE message_id IN ({marks})", list(ids))
            cur.execute(f"DELETE FROM raw_messages WHERE id IN ({marks})", list(ids))
