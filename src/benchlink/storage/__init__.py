"""Encrypted local storage (SQLCipher) or a shared PostgreSQL server, behind one Store API.

The names below are loaded on first use (PEP 562) so that importing one submodule, as the
database writer's child process does, does not drag in Alembic and the whole query layer.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "AuditEntry": "audit", "AuditLog": "audit", "AuditReport": "audit",
    "WrongKeyError": "database", "cipher_version": "database", "open_engine": "database", "sqlite_url": "database",
    "KeyUnavailableError": "keys", "load_or_create_key": "keys",
    "current_revision": "migrator", "head_revision": "migrator", "migrate": "migrator",
    "CommitOutcome": "store", "InboundMessage": "store", "QuarantineRow": "store", "RawMessageRow": "store",
    "ResultFilter": "store", "ResultRow": "store", "Store": "store",
    "StoreWriter": "writer", "WriterBusyError": "writer", "WriterStats": "writer", "WriterStoppedError": "writer",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'benchlink.storage' has no attribute {name!r}")
    return getattr(importlib.import_module(f"benchlink.storage.{module}"), name)

