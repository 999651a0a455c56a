"""The SQL of the hot write path, sent straight through the DBAPI cursor.

Why not SQLAlchemy Core here: building, caching and binding a Core statement costs tens of
microseconds per execute, and the inbound path runs one raw insert per message. The cursor of
the connection that SQLAlchemy already holds (same transaction) with plain SQL strings keeps the
driver's own prepared-statement cache hot, and results go in as ONE ``executemany`` per batch.

The column values are encoded with the very bind processors the Core path uses
(:class:`~benchlink.storage.schema.UtcDateTime` etc.), so rows written here and rows written by
Core compare and sort identically on both backends.

Raw ids come back through ``RETURNING id`` (SQLite >= 3.35 and PostgreSQL alike); ``ON CONFLICT
(device, direction, sha256) DO NOTHING`` returns no row for a retransmit, which is how a
duplicate is recognised without a prior SELECT.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy

from benchlink.core.model import Result, ResultKind
from benchlink.storage.database import WRITE_OPTION
from benchlink.storage.schema import InstrumentDateTime, UtcDateTime

DECODE_STATUSES = frozenset({"ok", "quarantined", "empty"})

#: Column order of :meth:`CommitSql.result_row` tuples (and of :data:`RESULT_INSERT`).
RESULT_COLUMNS = (
    "message_id", "device", "sample_id", "patient_id", "patient_name", "birth_date", "instrument_code",
    "lis_code", "test_name", "value", "numeric_value", "comparator", "units", "reference_range", "flags",
    "status", "kind", "observed_at", "received_at", "instrument", "exported_at",
)
_RAW_COLUMNS = ("device", "direction", "protocol", "received_at", "data", "sha256", "link_meta",
                "decode_status", "session")


@dataclass(frozen=True)
class InboundMessage:
    """One complete message as the link layer delivered it, with whatever the driver made of it."""

    device: str
    protocol: str
    data: bytes
    received_at: datetime
    results: tuple[Result, ...] = ()
    link_meta: Mapping[str, object] = field(default_factory=dict)
    decode_status: str = "ok"
    error: str = ""
    session: str = ""

    def __post_init__(self) -> None:
        if self.decode_status not in DECODE_STATUSES:
            raise ValueError(f"decode_status {self.decode_status!r} is not one of {sorted(DECODE_STATUSES)}")
        if not isinstance(self.data, bytes | bytearray | memoryview):
            raise TypeError(f"InboundMessage.data must be bytes, got {type(self.data).__name__}")


@dataclass(frozen=True, slots=True)
class CommitOutcome:
    message_id: int
    duplicate: bool
    quarantine_id: int | None = None


def _identity(value: Any) -> Any:
    return value


def _processor(type_: Any, dialect: sqlalchemy.Dialect) -> Callable[[Any], Any]:
    # dialect_impl first: the generic DateTime has no SQLite processor, and the driver's own
    # datetime adapter drops ".000000", which would break string ordering against Core's rows.
    proc = type_.dialect_impl(dialect).bind_processor(dialect)
    return proc if proc is not None else _identity


class CommitSql:
    """Plain-SQL inserts for one dialect; stateless apart from the prepared SQL text."""

    def __init__(self, dialect: sqlalchemy.Dialect) -> None:
        self.dialect_name = dialect.name
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.at = _processor(UtcDateTime(), dialect)
        self.instrument_at = _processor(InstrumentDateTime(), dialect)

        def marks(n: int) -> str:
            return ", ".join([mark] * n)

        self.raw_insert = (
            f"INSERT INTO raw_messages ({', '.join(_RAW_COLUMNS)}) VALUES ({marks(len(_RAW_COLUMNS))}) "
            "ON CONFLICT (device, direction, sha256) DO NOTHING RETURNING id"
        )
        self.raw_lookup = (
            f"SELECT id, decode_status FROM raw_messages WHERE device = {mark} AND direction = 'in' "
            f"AND sha256 = {mark}"
        )
        self.quarantine_insert = (
            "INSERT INTO quarantine (message_id, device, received_at, data, error, state) "
            f"VALUES ({marks(5)}, 'open') RETURNING id"
        )
        self.quarantine_lookup = f"SELECT min(id) FROM quarantine WHERE message_id = {mark}"
        self.result_insert = (
            f"INSERT INTO results ({', '.join(RESULT_COLUMNS)}) VALUES ({marks(len(RESULT_COLUMNS))})"
        )
        self.mark = mark

    # ------------------------------------------------------------------ rows
    def result_row(self, message_id: int, device: str, received_at: Any, r: Result) -> tuple[Any, ...]:
        """One results tuple; ``received_at`` is already encoded (shared by a message's results)."""
        kind = r.kind.value if isinstance(r.kind, ResultKind) else str(r.kind)
        observed = None if r.observed_at is None else self.instrument_at(r.observed_at)
        return (
            message_id, device, r.sample_id, r.patient_id, r.patient_name, r.birth_date, r.instrument_code,
            r.lis_code, r.test_name, r.value, r.numeric_value, r.comparator, r.units, r.reference_range,
            r.flags, r.status, kind, observed, received_at, r.instrument, None,
        )

    def insert_results(self, cur: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            cur.executemany(self.result_insert, rows)

    # ------------------------------------------------------------------ batch
    def commit_batch(self, conn: sqlalchemy.Connection, batch: Iterable[InboundMessage]) -> list[CommitOutcome]:
        """Insert a batch inside the caller's transaction on ``conn``; outcomes in batch order."""
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            return self._commit(cur, batch)
        finally:
            cur.close()

    def _commit(self, cur: Any, batch: Iterable[InboundMessage]) -> list[CommitOutcome]:
        outcomes: list[CommitOutcome] = []
        seen: dict[tuple[str, str], CommitOutcome] = {}
        pending: list[tuple[Any, ...]] = []
        for msg in batch:
            data = bytes(msg.data)
            digest = hashlib.sha256(data).hexdigest()
            key = (msg.device, digest)
            known = seen.get(key)
            if known is not None:
                outcomes.append(CommitOutcome(known.message_id, True, known.quarantine_id))
                continue
            at = self.at(msg.received_at)
            meta = json.dumps(dict(msg.link_meta), sort_keys=True, default=str) if msg.link_meta else "{}"
            cur.execute(
                self.raw_insert,
                (msg.device, "in", msg.protocol, at, data, digest, meta, msg.decode_status, msg.session),
            )
            row = cur.fetchone()
            if row is None:
                outcome = self._existing(cur, msg.device, digest)
            else:
                message_id = int(row[0])
                qid: int | None = None
                if msg.decode_status == "quarantined":
                    cur.execute(
                        self.quarantine_insert,
                        (message_id, msg.device, at, data, msg.error or "undecodable"),
                    )
                    qid = int(cur.fetchone()[0])
                for r in msg.results:
                    pending.append(self.result_row(message_id, msg.device, at, r))
                outcome = CommitOutcome(message_id, False, qid)
            seen[key] = outcome
            outcomes.append(outcome)
        self.insert_results(cur, pending)
        return outcomes

    def commit_inbound(self, engine: sqlalchemy.Engine, batch: Sequence[InboundMessage]) -> list[CommitOutcome]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite) holding the whole batch."""
        if not batch:
            return []
        with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            return self.commit_batch(conn, batch)

    def _existing(self, cur: Any, device: str, digest: str) -> CommitOutcome:
        cur.execute(self.raw_lookup, (device, digest))
        message_id, status = cur.fetchone()
        qid = None
        if status == "quarantined":
            cur.execute(self.quarantine_lookup, (message_id,))
            found = cur.fetchone()
            qid = None if found is None or found[0] is None else int(found[0])
        return CommitOutcome(int(message_id), True, qid)
