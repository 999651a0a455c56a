"""Bulk export from SQLCipher: read and mark a million results in one pass of each, side by side.

Why this exists: marking every exported row (``exported_at``) rewrites every table page it touches,
and on an encrypted database that costs as much as reading and formatting the rows. Done one after
the other, the two halves of a 1,000,000-row export take ~20 s; this module runs them at once:

* :meth:`BulkExport.start` opens the write transaction (``BEGIN IMMEDIATE``) *before* anything is
  read, then runs one ``UPDATE results SET exported_at = :at WHERE <filter>`` in a worker thread.
  SQLite releases the GIL inside ``sqlite3_step``, so the update uses the second core while the
  caller reads and formats on the first.
* Holding the write lock from the start freezes the committed state: no result can arrive, be
  pruned or be marked by someone else, so the rows the reader sees (other connections, which never
  see the uncommitted update) are exactly the rows the update matches. :meth:`BulkExport.finish`
  still checks that the counts agree before it writes the ``exports`` row and the audit entry.
* Nothing is committed until the caller has finished its file: cancel or fail, and the transaction
  rolls back (the running update is interrupted first), so nothing is marked.

The price of holding the lock is that other writers wait for the export (~5 s per million rows);
marking afterwards held it for about as long. The reader hands back plain tuples, with runs of text
columns already joined by SQLite (:data:`Layout`): a Python object per cell is most of the cost of
a read.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy
from sqlalchemy import ColumnElement, LargeBinary, String, and_, bindparam, case, literal, select, update

from benchlink.storage.schema import results

#: Records the export (``exports`` row + audit entry) inside the caller's transaction:
#: ``record(conn, count, first_id, last_id)``.
Recorder = Callable[[sqlalchemy.Connection, int, int, int], None]


class BulkExportError(RuntimeError):
    """The rows read and the rows marked disagree; nothing was marked, run the export again."""


#: What one returned tuple holds after the leading result id, item by item: a column's stored
#: value, or for a tuple of column names those NOT NULL text columns joined by the separator into
#: ONE string. A row whose run is not all text gets ``None`` for it, so the caller can read that
#: row cell by cell (:meth:`BulkExport.full_rows`) exactly as the generic path would.
Layout = Sequence[str | tuple[str, ...]]


def _text_run(columns: tuple[str, ...], separator: ColumnElement[str]) -> ColumnElement[Any]:
    cols = [results.c[name] for name in columns]
    for col in cols:
        if not isinstance(col.type, String) or col.nullable:
            raise ValueError(f"column {col.name!r} is not a NOT NULL text column; it cannot be joined")
    joined: ColumnElement[Any] = cols[0]
    for col in cols[1:]:
        joined = joined.concat(separator).concat(col)
    # TEXT-affinity columns hold only NULL, TEXT or BLOB, and SQLite orders TEXT < BLOB (NULL
    # compares as unknown): "< X''" keeps exactly the text values, far cheaper than typeof().
    empty_blob = literal(b"", LargeBinary())
    all_text = and_(*(col < empty_blob for col in cols))
    return case((all_text, joined), else_=None)


def _fetch_all(engine: sqlalchemy.Engine, sql: str, args: Any) -> list[tuple[Any, ...]]:
    """Plain DBAPI tuples (no SQLAlchemy Row per result); one statement is one read snapshot."""
    with engine.connect() as conn:
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql, args)
            rows: list[tuple[Any, ...]] = list(cursor.fetchall())
        finally:
            cursor.close()
    return rows


class BulkExport:
    """One export's read side and mark side; made by :meth:`Store.bulk_export`, used once."""

    def __init__(
        self,
        engine: sqlalchemy.Engine,
        write_conn: sqlalchemy.Connection,
        conds: list[ColumnElement[bool]],
        at: datetime,
        record: Recorder,
        full_rows: Callable[[Sequence[int]], dict[int, Any]],
        *,
        batch: int = 10_000,
    ) -> None:
        self._engine = engine
        self._write = write_conn
        self._conds = conds
        self._at = at
        self._record = record
        self._full_rows = full_rows
        self._batch = batch
        self._thread: threading.Thread | None = None
        self._marked: int | None = None
        self._mark_error: BaseException | None = None
        self.count = 0
        self.first_id: int | None = None
        self.last_id: int | None = None
        self.finished = False
        dialect = engine.dialect
        #: Stored value -> the value the generic read path yields, per column (None: as stored).
        self.decoders: dict[str, Callable[[Any], Any] | None] = {
            col.name: col.type._cached_result_processor(dialect, None) for col in results.columns
        }

    # ------------------------------------------------------------------ mark side
    def start(self) -> None:
        """Start marking in the background; the caller already holds the write transaction."""
        self._thread = threading.Thread(target=self._mark, name="benchlink-export-mark", daemon=True)
        self._thread.start()

    def _mark(self) -> None:
        try:
            stmt = update(results).where(*self._conds).values(exported_at=self._at)
            self._marked = int(self._write.execute(stmt).rowcount)
        except Exception as exc:  # noqa: BLE001 - re-raised in the caller's thread by finish()
            self._mark_error = exc
            return
        self._presync_wal()

    def _presync_wal(self) -> None:
        """Flush the update's WAL frames to disk while the reader is still busy.

        The write connection's page cache is kept small during the update, so almost every
        changed page is already in the WAL file (uncommitted) when the update ends. The commit's
        checkpoint must fsync that file; doing it now, on this otherwise idle thread, takes most
        of that wait off the end of the export. Only reads the file; skipped where unsupported.
        """
        database = self._engine.url.database
        if os.name != "posix" or not database:
            return
        try:
            fd = os.open(database + "-wal", os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def abort(self) -> None:
        """Stop the background update quickly (the caller rolls back afterwards)."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            driver = self._write.connection.driver_connection
            if driver is not None:
                driver.interrupt()
            thread.join()

    def finish(self) -> None:
        """Wait for the update, check it marked exactly the rows read, then record the export.

        Call it when every row has been read and written (before the file is put in place): when
        it raises, the caller abandons the file and the transaction rolls back.
        """
        if self._thread is None:
            raise RuntimeError("BulkExport.finish() before start()")
        self._thread.join()
        if self._mark_error is not None:
            raise self._mark_error
        if self._marked != self.count:
            raise BulkExportError(
                f"export read {self.count} results but would mark {self._marked}; the results changed "
                "during the export. Nothing was marked; run the export again."
            )
        if self.count:
            assert self.first_id is not None and self.last_id is not None
            self._record(self._write, self.count, self.first_id, self.last_id)
        self.finished = True

    # ------------------------------------------------------------------ read side
    def batches(self, layout: Layout, separator: str) -> Iterator[list[tuple[Any, ...]]]:
        """Oldest first, in keyset batches of ``(id, *layout values)`` tuples, as stored.

        Each batch is its own short read transaction (a long reader would hold back WAL
        checkpoints). Stored values are raw: pass timestamps through :attr:`decoders`.
        """
        sep = bindparam("sep", separator, type_=String())
        exprs: list[ColumnElement[Any]] = [results.c.id]
        for item in layout:
            exprs.append(results.c[item] if isinstance(item, str) else _text_run(tuple(item), sep))
        after = bindparam("after", type_=results.c.id.type)
        stmt = (
            select(*exprs).where(*self._conds, results.c.id > after).order_by(results.c.id).limit(self._batch)
        )
        dialect = self._engine.dialect
        compiled = stmt.compile(dialect=dialect)
        sql = str(compiled)
        last = 0
        while True:
            params = compiled.construct_params({"after": last})
            args: Any = (
                tuple(params[name] for name in compiled.positiontup)
                if compiled.positional and compiled.positiontup is not None else params
            )
            rows = _fetch_all(self._engine, sql, args)
            if not rows:
                return
            if self.first_id is None:
                self.first_id = int(rows[0][0])
            last = int(rows[-1][0])
            self.last_id = last
            self.count += len(rows)
            yield rows
            if len(rows) < self._batch:
                return

    def full_rows(self, ids: Sequence[int]) -> dict[int, Any]:
        """The complete rows (as the generic read path builds them) for ids a batch could not pack."""
        return self._full_rows(ids)
