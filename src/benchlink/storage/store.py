"""The store: durable commit of inbound messages and the queries every panel and exporter needs.

The write path is built for guarantee 1: the runtime may send the final ACK only once
:meth:`Store.commit_inbound` has returned, and that call commits the raw bytes, the derived
results and any quarantine record of a whole batch in one transaction (group commit: one fsync
for many messages from many devices).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy
from sqlalchemy import ColumnElement, bindparam, false, func, literal, or_, select, tuple_, union, update

from benchlink.storage.audit import AuditLog
from benchlink.storage.commit_sql import DECODE_STATUSES as DECODE_STATUSES
from benchlink.storage.commit_sql import CommitOutcome as CommitOutcome
from benchlink.storage.commit_sql import CommitSql
from benchlink.storage.commit_sql import InboundMessage as InboundMessage
from benchlink.storage.database import WRITE_OPTION
from benchlink.storage.export_reader import BulkExport, _fetch_all
from benchlink.storage.maintenance import Pruner
from benchlink.storage.mappings import MappingStore
from benchlink.storage.migrator import migrate as _migrate
from benchlink.storage.replay import Replayer
from benchlink.storage.schema import IdType, UtcDateTime, exports, quarantine, raw_messages, results

QUARANTINE_STATES = frozenset({"open", "retried", "dismissed"})
_ID_CHUNK = 500  # stays under every backend's bound-parameter limit


@dataclass(frozen=True, slots=True)
class ResultFilter:
    """Conditions of a results query; ``None`` means "any". All given conditions must hold.

    ``since``/``until`` bound ``received_at`` (half-open: since <= t < until). ``test`` matches the
    lab code or the instrument code. ``flag`` matches the flags field exactly.
    """

    since: datetime | None = None
    until: datetime | None = None
    device: str | None = None
    sample_id: str | None = None
    patient_id: str | None = None
    test: str | None = None
    flag: str | None = None
    status: str | None = None
    exported: bool | None = None
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class ResultRow:
    id: int
    message_id: int
    device: str
    sample_id: str
    patient_id: str
    patient_name: str
    instrument_code: str
    lis_code: str
    test_name: str
    value: str
    numeric_value: float | None
    comparator: str
    units: str
    reference_range: str
    flags: str
    status: str
    kind: str
    observed_at: datetime | None
    received_at: datetime
    exported_at: datetime | None
    birth_date: str = ""
    instrument: str = ""


@dataclass(frozen=True, slots=True)
class RawMessageRow:
    id: int
    device: str
    direction: str
    protocol: str
    received_at: datetime
    data: bytes
    sha256: str
    link_meta: dict[str, Any]
    decode_status: str
    session: str


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    id: int
    message_id: int | None
    device: str
    received_at: datetime
    data: bytes
    error: str
    state: str
    updated_at: datetime | None


_ROW_FIELDS = tuple(ResultRow.__dataclass_fields__)
_ROW_COLUMNS = tuple(results.c[name] for name in _ROW_FIELDS)
_RUNS_PER_EXECUTE = 10_000
_BULK_MARK_CACHE_KIB = -4096  # PRAGMA cache_size of the bulk export's write connection (4 MiB)


def _start_checkpoint(engine: sqlalchemy.Engine) -> None:
    """Copy the WAL into the database file on a background thread (a PASSIVE checkpoint blocks
    neither readers nor writers). After a bulk export the WAL holds every rewritten page; copying
    and fsyncing them takes ~1 s per million results, which the export need not wait for: its
    commit is already durable in the WAL. Should the process end first, SQLite finishes the
    checkpoint at the next commit or open."""

    def run() -> None:
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                conn.commit()
        except sqlalchemy.exc.SQLAlchemyError:
            pass  # best effort: the next automatic checkpoint does the same work

    threading.Thread(target=run, name="benchlink-checkpoint", daemon=True).start()


def _id_runs(ids: Sequence[int]) -> Iterator[tuple[int, int]]:
    """Runs of consecutive values of sorted, distinct ``ids``, as (first, last) pairs."""
    lo = prev = ids[0]
    for i in ids[1:]:
        if i != prev + 1:
            yield lo, prev
            lo = i
        prev = i
    yield lo, prev


def _result_row(row: Any) -> ResultRow:
    m = row._mapping
    return ResultRow(**{name: m[name] for name in _ROW_FIELDS})


class Store:
    """All database access of Benchlink; safe to share between threads (one writer, many readers)."""

    def __init__(self, engine: sqlalchemy.Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._audit = AuditLog(engine)
        self._sql = CommitSql(engine.dialect)

    @property
    def engine(self) -> sqlalchemy.Engine:
        return self._engine

    def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent)."""
        _migrate(self._engine)

    def audit(self) -> AuditLog:
        return self._audit

    def mappings(self) -> MappingStore:
        """The versioned code mappings (audited through this store's audit log)."""
        return MappingStore(self._engine, self._audit)

    def replayer(self) -> Replayer:
        return Replayer(self._engine, self._audit)

    def pruner(self) -> Pruner:
        return Pruner(self._engine, self._audit)

    @contextmanager
    def _write(self) -> Iterator[sqlalchemy.Connection]:
        with self._engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            yield conn

    # ------------------------------------------------------------------ write path
    def commit_inbound(self, batch: Sequence[InboundMessage]) -> list[CommitOutcome]:
        """Commit a batch durably in ONE transaction; outcomes are in batch order.

        A message whose bytes this device already delivered is a retransmit: it is not stored
        again and its outcome carries the original ``message_id`` with ``duplicate=True``.
        """
        return self._sql.commit_inbound(self._engine, batch)

    def mark_exported(
        self, ids: Sequence[int], at: datetime, destination: str, *, actor: str = "system"
    ) -> None:
        """Stamp results as exported, log the export and audit it, atomically."""
        unique = sorted({int(i) for i in ids})
        if not unique:
            return
        # Exports select id-ordered runs, so the ids are mostly consecutive: one UPDATE per run of
        # consecutive ids (a range scan of the primary key) instead of one per 500 listed ids.
        runs = [{"lo": lo, "hi": hi} for lo, hi in _id_runs(unique)]
        stmt = (
            update(results)
            .where(results.c.id.between(bindparam("lo", type_=IdType), bindparam("hi", type_=IdType)))
            .values(exported_at=at)
        )
        with self._write() as conn:
            for start in range(0, len(runs), _RUNS_PER_EXECUTE):
                conn.execute(stmt, runs[start : start + _RUNS_PER_EXECUTE])
            self._record_export(conn, at, destination, actor, len(unique), unique[0], unique[-1])

    def _record_export(
        self, conn: sqlalchemy.Connection, at: datetime, destination: str, actor: str, count: int,
        first_id: int, last_id: int,
    ) -> None:
        """The ``exports`` row and the audit entry of one export, in the caller's transaction."""
        conn.execute(
            exports.insert().values(
                at=at, destination=destination, count=count, first_result_id=first_id, last_result_id=last_id
            )
        )
        self._audit.append(
            actor,
            "export",
            destination,
            None,
            {"count": count, "first_result_id": first_id, "last_result_id": last_id},
            conn=conn,
            at=at,
        )

    @property
    def supports_bulk_export(self) -> bool:
        """Whether :meth:`bulk_export` is available (SQLite/SQLCipher; PostgreSQL uses the generic path)."""
        return self._dialect == "sqlite"

    @contextmanager
    def bulk_export(
        self, flt: ResultFilter, at: datetime, destination: str, *, actor: str = "system", batch: int = 10_000
    ) -> Iterator[BulkExport]:
        """Read and mark an export's results side by side (see :mod:`benchlink.storage.export_reader`).

        Commits only when the block ends normally after :meth:`BulkExport.finish`; on any exception,
        or without ``finish()``, nothing is marked. Other writers wait until the block ends.
        """
        if not self.supports_bulk_export:
            raise RuntimeError(f"bulk export needs SQLite/SQLCipher, not {self._dialect}; use iter_results")
        conds = self._conditions(flt)

        def record(conn: sqlalchemy.Connection, count: int, first_id: int, last_id: int) -> None:
            self._record_export(conn, at, destination, actor, count, first_id, last_id)

        with self._engine.connect().execution_options(**{WRITE_OPTION: True}) as conn:
            cache_size = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
            autocheckpoint = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
            # A small cache makes the update spill its pages to the WAL as it goes (on the worker
            # thread, beside the read) instead of writing them all at COMMIT, after the read. The
            # checkpoint that copies those pages into the database file is taken off the commit
            # and run by finish_bulk_commit() beside the caller.
            conn.exec_driver_sql(f"PRAGMA cache_size={_BULK_MARK_CACHE_KIB}")
            conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
            conn.commit()
            try:
                tx = conn.begin()  # BEGIN IMMEDIATE: from here on nobody else commits until we are done
                job = BulkExport(self._engine, conn, conds, at, record, self.results_by_id, batch=batch)
                try:
                    job.start()
                    yield job
                    job.abort()  # a no-op after finish(); stops the update if the block skipped it
                    if not job.finished:
                        raise RuntimeError("bulk export block ended without BulkExport.finish(); nothing marked")
                except BaseException:
                    job.abort()
                    try:
                        tx.rollback()
                    except sqlalchemy.exc.DBAPIError:
                        conn.invalidate()  # an interrupt raced the rollback; dropping the connection rolls back
                    raise
                # Like every commit under synchronous=NORMAL, this one survives a crash of the process
                # at once and a power cut once the WAL is synced: the checkpoint started below syncs
                # it first (within about a second). Losing the marks to a power cut would only make
                # the next --new-only export repeat these results, never skip one.
                tx.commit()
            finally:
                if not conn.invalidated:
                    conn.exec_driver_sql(f"PRAGMA cache_size={int(cache_size)}")
                    conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={int(autocheckpoint)}")
                    conn.commit()
        if job.finished:
            _start_checkpoint(self._engine)

    def set_quarantine_state(self, quarantine_id: int, state: str, *, actor: str) -> None:
        """Move a quarantined message to ``retried`` or ``dismissed`` (audited; never deleted)."""
        if state not in QUARANTINE_STATES:
            raise ValueError(f"quarantine state {state!r} is not one of {sorted(QUARANTINE_STATES)}")
        with self._write() as conn:
            old = conn.execute(
                select(quarantine.c.state).where(quarantine.c.id == quarantine_id)
            ).scalar_one_or_none()
            if old is None:
                raise KeyError(f"no quarantine entry {quarantine_id}")
            conn.execute(
                update(quarantine)
                .where(quarantine.c.id == quarantine_id)
                .values(state=state, updated_at=datetime.now(UTC))
            )
            self._audit.append(
                actor,
                "quarantine." + state,
                f"quarantine:{quarantine_id}",
                {"state": old},
                {"state": state},
                conn=conn,
            )

    # ------------------------------------------------------------------ read path
    @staticmethod
    def _conditions(flt: ResultFilter, *, with_test: bool = True) -> list[ColumnElement[bool]]:
        c = results.c
        conds: list[ColumnElement[bool]] = []
        if flt.since is not None:
            conds.append(c.received_at >= flt.since)
        if flt.until is not None:
            conds.append(c.received_at < flt.until)
        for column, value in (
            (c.device, flt.device),
            (c.sample_id, flt.sample_id),
            (c.patient_id, flt.patient_id),
            (c.flags, flt.flag),
            (c.status, flt.status),
            (c.kind, flt.kind),
        ):
            if value is not None:
                conds.append(column == value)
        if flt.exported is True:
            conds.append(c.exported_at.is_not(None))
        elif flt.exported is False:
            conds.append(c.exported_at.is_(None))
        if with_test and flt.test is not None:
            conds.append(or_(c.lis_code == flt.test, c.instrument_code == flt.test))
        return conds

    def page_statement(
        self, flt: ResultFilter, *, after: int | None = None, limit: int = 100
    ) -> sqlalchemy.Select[Any]:
        """The SELECT behind :meth:`results_page` (exposed so tests can EXPLAIN it).

        Order is (received_at DESC, id DESC): ids follow arrival, so this is "newest first", and
        every results index continues with those two columns, so any single filter, alone or with a date
        range, walks one index and stops after ``limit`` rows. ``after`` is the last id shown; its
        received_at is looked up by primary key first (one extra indexed read) to continue the walk.
        """
        if limit <= 0:
            raise ValueError("limit must be positive")
        c = results.c
        if after is None:
            conds = self._conditions(flt, with_test=False)
        else:
            with self._engine.connect() as conn:
                after_at = conn.execute(select(c.received_at).where(c.id == after)).scalar_one_or_none()
            if after_at is None:
                return select(results).where(false()).limit(limit)  # unknown row: nothing follows it
            # Give the planner ONE upper bound: the keyset position or `until`, whichever is tighter.
            # With both, SQLite bounds the index walk by `until` and filters the rest row by row.
            tighter = flt.until is None or after_at < flt.until
            conds = self._conditions(replace(flt, until=None) if tighter else flt, with_test=False)
            if tighter:
                conds.append(
                    tuple_(c.received_at, c.id) < tuple_(literal(after_at, UtcDateTime()), literal(after))
                )
        order = (c.received_at.desc(), c.id.desc())
        if flt.test is None:
            return select(results).where(*conds).order_by(*order).limit(limit)
        # An OR over two indexed columns makes planners collect and sort every match. Instead take
        # the newest `limit` rows through each index and merge them: O(limit) at any table size.
        branches = [
            select(c.id).where(*conds, column == flt.test).order_by(*order).limit(limit).subquery()
            for column in (c.lis_code, c.instrument_code)
        ]
        merged = union(*(select(b.c.id) for b in branches)).subquery()
        return select(results).where(c.id.in_(select(merged.c.id))).order_by(*order).limit(limit)

    def results_page(
        self, flt: ResultFilter, *, after: int | None = None, limit: int = 100
    ) -> list[ResultRow]:
        """Newest first (received_at, then id); pass the last row's id as ``after`` for the next page."""
        with self._engine.connect() as conn:
            return [_result_row(r) for r in conn.execute(self.page_statement(flt, after=after, limit=limit))]

    def count_results(self, flt: ResultFilter) -> int:
        stmt = select(func.count()).select_from(results).where(*self._conditions(flt))
        with self._engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def iter_results(self, flt: ResultFilter, *, batch: int = 5000) -> Iterator[ResultRow]:
        """Oldest first, in keyset batches: memory stays bounded and no read transaction stays open
        between batches (a long reader would stop WAL checkpoints)."""
        conds = self._conditions(flt)
        if self._dialect != "sqlite":
            yield from self._iter_results_rows(conds, batch)
            return
        last = 0
        while True:
            rows = self._sqlite_rows(
                select(*_ROW_COLUMNS).where(*conds, results.c.id > last).order_by(results.c.id).limit(batch)
            )
            if not rows:
                return
            yield from rows
            last = rows[-1].id
            if len(rows) < batch:
                return

    def results_by_id(self, ids: Sequence[int]) -> dict[int, ResultRow]:
        """The rows with these ids (missing ids are simply absent), keyed by id."""
        unique = sorted({int(i) for i in ids})
        found: dict[int, ResultRow] = {}
        for start in range(0, len(unique), _ID_CHUNK):
            stmt = select(*_ROW_COLUMNS).where(results.c.id.in_(unique[start : start + _ID_CHUNK]))
            if self._dialect == "sqlite":
                rows = self._sqlite_rows(stmt)
            else:
                with self._engine.connect() as conn:
                    rows = [_result_row(r) for r in conn.execute(stmt)]
            found.update((row.id, row) for row in rows)
        return found

    def _sqlite_rows(self, stmt: sqlalchemy.Select[Any]) -> list[ResultRow]:
        """Run a SELECT of :data:`_ROW_COLUMNS` through the DBAPI and build rows directly.

        Exports stream millions of rows: plain tuples from the driver, converting only the columns
        whose type needs it, cost far less than a SQLAlchemy Row per result.
        """
        dialect = self._engine.dialect
        processors = [(i, proc) for i, col in enumerate(_ROW_COLUMNS)
                      if (proc := col.type._cached_result_processor(dialect, None)) is not None]
        compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        params = compiled.construct_params()
        args: Any = (tuple(params[name] for name in compiled.positiontup)
                     if compiled.positional and compiled.positiontup is not None else params)
        raw = _fetch_all(self._engine, str(compiled), args)
        out: list[ResultRow] = []
        for stored in raw:
            values = list(stored)
            for i, proc in processors:
                values[i] = proc(values[i])
            out.append(ResultRow(*values))
        return out

    def _iter_results_rows(self, conds: list[Any], batch: int) -> Iterator[ResultRow]:
        """The portable path (PostgreSQL): SQLAlchemy rows, whose type processors need the
        driver's column types."""
        last = 0
        while True:
            stmt = select(results).where(*conds, results.c.id > last).order_by(results.c.id).limit(batch)
            with self._engine.connect() as conn:
                rows = [_result_row(r) for r in conn.execute(stmt)]
            if not rows:
                return
            yield from rows
            last = rows[-1].id
            if len(rows) < batch:
                return

    def aggregates(self, flt: ResultFilter) -> list[dict[str, Any]]:
        """Per (device, instrument_code): count, numeric_count, min, max, mean of numeric values."""
        c = results.c
        stmt = (
            select(
                c.device,
                c.instrument_code,
                func.count().label("count"),
                func.count(c.numeric_value).label("numeric_count"),
                func.min(c.numeric_value).label("min"),
                func.max(c.numeric_value).label("max"),
                func.avg(c.numeric_value).label("mean"),
            )
            .where(*self._conditions(flt))
            .group_by(c.device, c.instrument_code)
            .order_by(c.device, c.instrument_code)
        )
        with self._engine.connect() as conn:
            out = []
            for r in conn.execute(stmt):
                d = dict(r._mapping)
                for k in ("min", "max", "mean"):
                    d[k] = None if d[k] is None else float(d[k])
                out.append(d)
            return out

    def raw_message(self, message_id: int) -> RawMessageRow | None:
        with self._engine.connect() as conn:
            r = conn.execute(select(raw_messages).where(raw_messages.c.id == message_id)).first()
        if r is None:
            return None
        return RawMessageRow(
            id=int(r.id),
            device=r.device,
            direction=r.direction,
            protocol=r.protocol,
            received_at=r.received_at,
            data=bytes(r.data),
            sha256=r.sha256,
            link_meta=json.loads(r.link_meta or "{}"),
            decode_status=r.decode_status,
            session=r.session,
        )

    def quarantine_list(self, state: str | None = "open", *, limit: int = 1000) -> list[QuarantineRow]:
        """Newest first, at most ``limit`` rows."""
        stmt = select(quarantine)
        if state is not None:
            stmt = stmt.where(quarantine.c.state == state)
        with self._engine.connect() as conn:
            rows = conn.execute(stmt.order_by(quarantine.c.id.desc()).limit(limit)).all()
        return [
            QuarantineRow(
                id=int(r.id),
                message_id=None if r.message_id is None else int(r.message_id),
                device=r.device,
                received_at=r.received_at,
                data=bytes(r.data),
                error=r.error,
                state=r.state,
                updated_at=r.updated_at,
            )
            for r in rows
        ]

    def optimize(self) -> None:
        """Refresh planner statistics (cheap; run after bulk loads or at startup)."""
        with self._engine.connect() as conn:
            if self._dialect == "sqlite":
                conn.exec_driver_sql("PRAGMA optimize")
            else:
                conn.exec_driver_sql("ANALYZE")
            conn.commit()
