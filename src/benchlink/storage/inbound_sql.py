"""The hot write path's SQL and row encoding, with no SQLAlchemy: used by the store (through
:class:`~benchlink.storage.commit_sql.CommitSql`) and by the database writer's child process,
which imports only this module and the DB driver, so that the second interpreter stays small.

Timestamps are encoded exactly as SQLAlchemy's bind processors for the schema's types encode
them (a test compares the two on both backends): naive UTC, and on SQLite the text form
``YYYY-MM-DD HH:MM:SS.ffffff`` that SQLAlchemy's DATETIME writes, so rows from here and rows
from Core compare and sort identically. Raw ids come back through ``RETURNING id``; ``ON CONFLICT
(device, direction, sha256) DO NOTHING`` returns no row for a retransmit, which is how a
duplicate is recognised without a prior SELECT.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from benchlink.core.model import Result, ResultKind

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


#: A message as plain tuples, cheap to pickle: (device, protocol, data, received_at as naive UTC, results, link_meta
#: JSON, decode_status, error, session); each result in :data:`RESULT_COLUMNS` order from
#: ``sample_id`` to ``kind`` (kind as text), then ``observed_at`` (a datetime, not yet encoded) and
#: ``instrument``.
WireMessage = tuple[str, str, bytes, datetime, list[tuple[Any, ...]], str, str, str, str]


def _wire_result(r: Result) -> tuple[Any, ...]:
    kind = r.kind.value if isinstance(r.kind, ResultKind) else str(r.kind)
    return (r.sample_id, r.patient_id, r.patient_name, r.birth_date, r.instrument_code, r.lis_code, r.test_name,
            r.value, r.numeric_value, r.comparator, r.units, r.reference_range, r.flags, r.status, kind,
            r.observed_at, r.instrument)


def to_wire(msg: InboundMessage) -> WireMessage:
    meta = json.dumps(dict(msg.link_meta), sort_keys=True, default=str) if msg.link_meta else "{}"
    # Naive UTC binds exactly as the aware value does, and pickles without its tzinfo object: pickling
    # a timezone goes through copyreg's Python-level slot lookup, 2 % of serve's main thread at load.
    received_at = naive_utc(msg.received_at)
    return (msg.device, msg.protocol, bytes(msg.data), received_at, [_wire_result(r) for r in msg.results],
            meta, msg.decode_status, msg.error, msg.session)


@dataclass(frozen=True, slots=True)
class CommitOutcome:
    message_id: int
    duplicate: bool
    quarantine_id: int | None = None


Encoder = Callable[[Any], Any]


def naive_utc(value: datetime | None) -> datetime | None:
    """What ``UtcDateTime``/``InstrumentDateTime`` bind: aware values as naive UTC, naive as is."""
    if value is not None and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def naive_local(value: datetime | None) -> datetime | None:
    """What ``InstrumentDateTime`` binds: an analyzer's time as naive wall-clock time of this PC.

    Stored analyzer times are naive and read back as local time (most analyzers send no offset).
    An aware value is therefore stored as the same instant in local time; stored as naive UTC it
    was read back shifted by the PC's offset (11:30-05:00 showed as 16:30+01:00 in Berlin).
    """
    if value is not None and value.tzinfo is not None:
        return value.astimezone().replace(tzinfo=None)
    return value


def sqlite_local_stamp(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite DATETIME text of :func:`naive_local`."""
    return sqlite_stamp(naive_local(value))


def sqlite_stamp(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite DATETIME text of :func:`naive_utc` (microseconds always written)."""
    value = naive_utc(value)
    if value is None:
        return None
    return (f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
            f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}")


class InboundSql:
    """Plain-SQL inserts for one backend; stateless apart from the prepared SQL text and encoders."""

    def __init__(self, backend: str, paramstyle: str, at: Encoder, instrument_at: Encoder) -> None:
        self.dialect_name = backend
        mark = "?" if paramstyle == "qmark" else "%s"
        self.at = at
        self.instrument_at = instrument_at

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
        return self._row(message_id, device, received_at, _wire_result(r))

    def _row(self, message_id: int, device: str, received_at: Any, w: tuple[Any, ...]) -> tuple[Any, ...]:
        """A wire result (see :data:`WireMessage`) as a :data:`RESULT_COLUMNS` row."""
        observed = w[15]
        return (message_id, device, *w[:15], None if observed is None else self.instrument_at(observed), received_at,
                w[16], None)

    def insert_results(self, cur: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            cur.executemany(self.result_insert, rows)

    # ------------------------------------------------------------------ batch
    @classmethod
    def for_backend(cls, backend: str) -> InboundSql:
        """Encoders and SQL for a raw DBAPI connection to ``sqlite`` (sqlcipher3) or ``postgresql``."""
        if backend == "sqlite":
            return cls(backend, "qmark", sqlite_stamp, sqlite_local_stamp)
        if backend == "postgresql":
            return cls(backend, "format", naive_utc, naive_local)
        raise ValueError(f"no inbound SQL for backend {backend!r}")

    def commit_rows(self, cur: Any, batch: Iterable[InboundMessage]) -> list[CommitOutcome]:
        """Insert a batch with ``cur`` inside the caller's open transaction; outcomes in batch order."""
        return self.commit_wire(cur, [to_wire(m) for m in batch])

    def commit_wire(self, cur: Any, batch: Sequence[WireMessage]) -> list[CommitOutcome]:
        """:meth:`commit_rows` on messages already in their wire form (:func:`to_wire`): what the
        writer child receives, so it never rebuilds dataclasses only to take them apart again."""
        outcomes: list[CommitOutcome] = []
        seen: dict[tuple[str, str], CommitOutcome] = {}
        pending: list[tuple[Any, ...]] = []
        make_row = self._row
        for device, protocol, data, received_at, results, meta, status, error, session in batch:
            digest = hashlib.sha256(data).hexdigest()
            key = (device, digest)
            known = seen.get(key)
            if known is not None:
                outcomes.append(CommitOutcome(known.message_id, True, known.quarantine_id))
                continue
            at = self.at(received_at)
            cur.execute(self.raw_insert, (device, "in", protocol, at, data, digest, meta, status, session))
            row = cur.fetchone()
            if row is None:
                outcome = self._existing(cur, device, digest)
            else:
                message_id = int(row[0])
                qid: int | None = None
                if status == "quarantined":
                    cur.execute(self.quarantine_insert, (message_id, device, at, data, error or "undecodable"))
                    qid = int(cur.fetchone()[0])
                pending += [make_row(message_id, device, at, r) for r in results]
                outcome = CommitOutcome(message_id, False, qid)
            seen[key] = outcome
            outcomes.append(outcome)
        self.insert_results(cur, pending)
        return outcomes

    def _existing(self, cur: Any, device: str, digest: str) -> CommitOutcome:
        cur.execute(self.raw_lookup, (device, digest))
        message_id, status = cur.fetchone()
        qid = None
        if status == "quarantined":
            cur.execute(self.quarantine_lookup, (message_id,))
            found = cur.fetchone()
            qid = None if found is None or found[0] is None else int(found[0])
        return CommitOutcome(int(message_id), True, qid)
