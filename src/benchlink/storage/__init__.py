"""Encrypted local storage (SQLCipher) or a shared PostgreSQL server, behind one Store API."""

from __future__ import annotations

from benchlink.storage.audit import AuditEntry, AuditLog, AuditReport
from benchlink.storage.database import WrongKeyError, cipher_version, open_engine, sqlite_url
from benchlink.storage.keys import KeyUnavailableError, load_or_create_key
from benchlink.storage.migrator import current_revision, head_revision, migrate
from benchlink.storage.store import (
    CommitOutcome,
    InboundMessage,
    QuarantineRow,
    RawMessageRow,
    ResultFilter,
    ResultRow,
    Store,
)
from benchlink.storage.writer import StoreWriter, WriterBusyError, WriterStats, WriterStoppedError

__all__ = [
    "AuditEntry",
    "AuditLog",
    "AuditReport",
    "CommitOutcome",
    "InboundMessage",
    "KeyUnavailableError",
    "QuarantineRow",
    "RawMessageRow",
    "ResultFilter",
    "ResultRow",
    "Store",
    "StoreWriter",
    "WriterBusyError",
    "WriterStats",
    "WriterStoppedError",
    "WrongKeyError",
    "cipher_version",
    "current_revision",
    "head_revision",
    "load_or_create_key",
    "migrate",
    "open_engine",
    "sqlite_url",
]
