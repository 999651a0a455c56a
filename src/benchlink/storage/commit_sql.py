"""The hot write path through SQLAlchemy's connection: :class:`CommitSql` is
:class:`~benchlink.storage.inbound_sql.InboundSql` with its encoders taken from the very bind
processors the Core path uses, plus the transaction handling of an engine.

Why not SQLAlchemy Core statements here: building, caching and binding a Core statement costs
tens of microseconds per execute, and the inbound path runs one raw insert per message. The
cursor of the connection SQLAlchemy already holds (same transaction) with plain SQL strings keeps
the driver's own prepared-statement cache hot, and results go in as ONE ``executemany`` per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy

from benchlink.storage.database import WRITE_OPTION
from benchlink.storage.inbound_sql import DECODE_STATUSES as DECODE_STATUSES
from benchlink.storage.inbound_sql import RESULT_COLUMNS as RESULT_COLUMNS
from benchlink.storage.inbound_sql import CommitOutcome as CommitOutcome
from benchlink.storage.inbound_sql import InboundMessage as InboundMessage
from benchlink.storage.inbound_sql import InboundSql
from benchlink.storage.schema import InstrumentDateTime, UtcDateTime


def bind_encoder(type_: Any, dialect: sqlalchemy.Dialect) -> Callable[[Any], Any]:
    """What SQLAlchemy itself sends to the driver for a value of ``type_`` on ``dialect``."""
    # dialect_impl first: the generic DateTime has no SQLite processor, and the driver's own
    # datetime adapter drops ".000000", which would break string ordering against Core's rows.
    proc = type_.dialect_impl(dialect).bind_processor(dialect)
    if proc is None:
        return lambda value: type_.process_bind_param(value, dialect)
    return proc  # type: ignore[no-any-return]


class CommitSql(InboundSql):
    def __init__(self, dialect: sqlalchemy.Dialect) -> None:
        super().__init__(dialect.name, dialect.paramstyle, bind_encoder(UtcDateTime(), dialect),
                         bind_encoder(InstrumentDateTime(), dialect))

    def commit_batch(self, conn: sqlalchemy.Connection, batch: Iterable[InboundMessage]) -> list[CommitOutcome]:
        """Insert a batch inside the caller's transaction on ``conn``; outcomes in batch order."""
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            return self.commit_rows(cur, batch)
        finally:
            cur.close()

    def commit_inbound(self, engine: sqlalchemy.Engine, batch: Sequence[InboundMessage]) -> list[CommitOutcome]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite) holding the whole batch."""
        if not batch:
            return []
        with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            return self.commit_batch(conn, batch)
