"""The database schema as SQLAlchemy Core tables: the single description both backends share.

Alembic migrations under ``migrations/versions`` build exactly this schema; a test compares a
migrated database with :data:`metadata` so the two cannot drift apart.

Design notes:
- ``raw_messages.data`` keeps the bytes verbatim (guarantee 2); everything else can be re-derived.
- Results carry the patient fields denormalised: a result row must be readable on its own, even
  if a later message changes the patient's name.
- Every results index continues its leading column with ``(received_at, id)`` so a filtered page
  ``ORDER BY received_at DESC, id DESC LIMIT n`` is an index range walk, not a sort, on SQLite
  and PostgreSQL alike.
- Timestamps that Benchlink stamps itself are stored as naive UTC (:class:`UtcDateTime`) so the
  two backends round-trip them identically; ``observed_at`` is the instrument's own clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}

metadata = MetaData(naming_convention=NAMING)

#: 64-bit ids on PostgreSQL, the rowid alias on SQLite (``INTEGER PRIMARY KEY``).
IdType = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as naive UTC and hands them back aware (naive input means UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # defensive: raw SQLite text
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class InstrumentDateTime(TypeDecorator[datetime]):
    """The analyzer's clock: naive local time. Aware values are stored as the same instant in this
    PC's local time (see ``inbound_sql.naive_local``), since every naive value reads back as local."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone().replace(tzinfo=None)
        return value


devices = Table(
    "devices",
    metadata,
    Column("id", IdType, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("protocol", String(20), nullable=False, server_default=""),
    Column("settings", Text, nullable=False, server_default="{}"),
    Column("created_at", UtcDateTime, nullable=False),
)

raw_messages = Table(
    "raw_messages",
    metadata,
    Column("id", IdType, primary_key=True),
    Column("device", String(100), nullable=False),
    Column("direction", String(3), nullable=False),  # "in" | "out"
    Column("protocol", String(20), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("link_meta", Text, nullable=False, server_default="{}"),
    Column("decode_status", String(20), nullable=False),  # ok | quarantined | empty
    Column("session", String(100), nullable=False, server_default=""),
    # An analyzer that crashed before seeing our ACK sends the same bytes again.
    UniqueConstraint("device", "direction", "sha256"),
    Index(None, "received_at"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", IdType, primary_key=True),
    Column("message_id", IdType, ForeignKey("raw_messages.id"), nullable=True),
    Column("device", String(100), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("error", Text, nullable=False),
    Column("state", String(10), nullable=False, server_default="open"),  # open | retried | dismissed
    Column("updated_at", UtcDateTime, nullable=True),
    Index(None, "state", "id"),
)

patients = Table(
    "patients",
    metadata,
    Column("id", IdType, primary_key=True),
    Column("patient_id", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False, server_default=""),
    Column("birth_date", String(20), nullable=False, server_default=""),
    Column("sex", String(10), nullable=False, server_default=""),
    Column("updated_at", UtcDateTime, nullable=False),
)

samples = Table(
    "samples",
    metadata,
    Column("id", IdType, primary_key=True),
    Column("sample_id", String(64), nullable=False, unique=True),
    Column("patient_id", String(64), nullable=False, server_default=""),
    Column("collected_at", InstrumentDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)

orders = Table(
    "orders",
    metadata,
    Column("id", IdType, primary_key=True),
    Column("sample_id", String(64), nullable=False),
    Column("test", String(64), nullable=False),
    Column("priority", String(4), nullable=False, server_default="R"),
    Column("patient_id", String(64), nullable=False, server_default=""),
    Column("patient_name", String(200), nullable=False, server_default=""),
    Column("device", String(100), nullable=False, server_default=""),
    Column(
        "state", String(10), nullable=False, server_default="pending"
    ),  # pending | sent | done | cancelled
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Index(None, "sample_id", "state"),
)

results = Table(
    "results",
    metadata,
    Column("id", IdType, primary_key=True),
    Column("message_id", IdType, ForeignKey("raw_messages.id"), nullable=False),
    Column("device", String(100), nullable=False),
    Column("sample_id", String(64), nullable=False),
    Column("patient_id", String(64), nullable=False, server_default=""),
    Column("patient_name", String(200), nullable=False, server_default=""),
    Column("birth_date", String(20), nullable=False, server_default=""),
    Column("instrument_code", String(64), nullable=False),
    Column("lis_code", String(64), nullable=False, server_default=""),
    Column("test_name", String(200), nullable=False, server_default=""),
    Column("value", Text, nullable=False),
    Column("numeric_value", Float, nullable=True),
    Column("comparator", String(4), nullable=False, server_default=""),
    Column("units", String(40), nullable=False, server_default=""),
    Column("reference_range", String(80), nullable=False, server_default=""),
    Column("flags", String(20), nullable=False, server_default=""),
    Column("status", String(10), nullable=False, server_default=""),
    Column("kind", String(12), nullable=False, server_default="patient"),
    Column("observed_at", InstrumentDateTime, nullable=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("instrument", String(100), nullable=False, server_default=""),
    Column("exported_at", UtcDateTime, nullable=True),
)

#: The results indexes (revision 0004). Pages are ordered newest first by (received_at, id), and
#: each filter column leads an index that continues with exactly that order, so a filtered page
#: (also one combined with a date range) is a single index range walk with no sort. Columns that
#: are often combined with the leading one (flags, kind, device) trail it: SQLite tests them on
#: the index entry and fetches the table row only for matches. Low-selectivity columns (flags,
#: kind) lead no index of their own: each index costs a b-tree insert per stored result.
_c = results.c
RESULTS_INDEXES: tuple[Index, ...] = (
    Index("ix_results_message_id", _c.message_id),
    Index("ix_results_received_at_id", _c.received_at, _c.id, _c.flags, _c.kind),
    Index("ix_results_device_received", _c.device, _c.received_at, _c.id, _c.flags, _c.kind),
    Index("ix_results_sample_id_received", _c.sample_id, _c.received_at, _c.id),
    Index("ix_results_patient_id_received", _c.patient_id, _c.received_at, _c.id),
    Index("ix_results_instrument_code_received", _c.instrument_code, _c.received_at, _c.id, _c.device, _c.flags),
    Index("ix_results_lis_code_received", _c.lis_code, _c.received_at, _c.id, _c.device, _c.flags),
    Index(
        "ix_results_unexported",
        results.c.received_at,
        results.c.id,
        sqlite_where=text("exported_at IS NULL"),
        postgresql_where=text("exported_at IS NULL"),
    ),
)


mappings = Table(
    "mappings",
    metadata,
    Column("id", IdType, primary_key=True),
    Column("device", String(100), nullable=False),
    Column("instrument_code", String(64), nullable=False),
    Column("lis_code", String(64), nullable=False),
    Column("name", String(200), nullable=False, server_default=""),
    Column("units", String(40), nullable=False, server_default=""),
    Column("factor", Float, nullable=False, server_default=text("1.0")),
    Column("version", Integer, nullable=False),
    Column("valid_from", UtcDateTime, nullable=False),
    Column("retired", Boolean, nullable=False, server_default=text("false")),
    UniqueConstraint("device", "instrument_code", "version"),
)

exports = Table(
    "exports",
    metadata,
    Column("id", IdType, primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("destination", Text, nullable=False),
    Column("count", Integer, nullable=False),
    Column("first_result_id", IdType, nullable=True),
    Column("last_result_id", IdType, nullable=True),
)

users = Table(
    "users",
    metadata,
    Column("id", IdType, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("role", String(20), nullable=False),  # operator | supervisor | admin
    Column("password_hash", String(200), nullable=False, server_default=""),
    Column("disabled", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", UtcDateTime, nullable=False),
    # Added by revision 0003 (users and roles, issue 9).
    Column("failed_attempts", Integer, nullable=False, server_default=text("0")),
    Column("locked_until", UtcDateTime, nullable=True),
    Column("password_changed_at", UtcDateTime, nullable=True),
    Column("last_login_at", UtcDateTime, nullable=True),
    Column("token_hash", String(200), nullable=False, server_default=""),  # service token, hashed
    Column("token_created_at", UtcDateTime, nullable=True),
)

audit = Table(
    "audit",
    metadata,
    # Ids are assigned by AuditLog (previous + 1), never by the database: a gap is then evidence.
    Column("id", IdType, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(200), nullable=False),
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index(None, "action", "id"),
)

#: One row (id = 1): the chain's tip. Catches truncation of the newest entries, and on PostgreSQL
#: its row lock serialises appenders from several workstations.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_id", IdType, nullable=False),
    Column("last_hash", String(64), nullable=False),
)

GENESIS_HASH = "0" * 64
