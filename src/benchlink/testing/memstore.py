"""A real :class:`~benchlink.storage.store.Store` on an encrypted in-memory database.

Vendors test that what their driver decodes survives the trip into storage (column sizes,
kinds, timestamps) without a key file, a keyring or a disk.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import sqlalchemy
from sqlalchemy.pool import StaticPool

from benchlink.core.driver import Driver
from benchlink.storage.store import CommitOutcome, InboundMessage, Store


def memory_store() -> Store:
    """A migrated store in SQLCipher ``:memory:`` with a random key; gone when dropped."""
    url = f"sqlite+pysqlcipher://:x'{os.urandom(32).hex()}'@/:memory:"
    engine = sqlalchemy.create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    store = Store(engine)
    store.migrate()
    return store


def ingest(store: Store, device: str, driver: Driver, data: bytes, *, encoding: str = "") -> CommitOutcome:
    """Decode ``data`` and commit raw bytes and results together, as the engine does."""
    try:
        decoded = driver.decode(data, encoding=encoding or driver.info.encoding or "")
    except Exception as exc:  # noqa: BLE001 - any driver failure quarantines, like the engine
        inbound = InboundMessage(device=device, protocol=driver.info.protocol, data=data,
                                 received_at=datetime.now(UTC), decode_status="quarantined",
                                 error=f"{type(exc).__name__}: {exc}")
    else:
        inbound = InboundMessage(device=device, protocol=driver.info.protocol, data=data,
                                 received_at=datetime.now(UTC), results=decoded.results,
                                 decode_status="ok" if decoded.results or decoded.queries else "empty")
    return store.commit_inbound([inbound])[0]
