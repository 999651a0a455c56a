"""A real encrypted store per test and a clock the test moves by hand."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.storage.conftest import postgres_url  # noqa: F401 - the session's private PostgreSQL

from benchlink.storage.database import open_engine
from benchlink.storage.store import Store

KEY = bytes(range(32))
_numbers = itertools.count()


class ManualClock:
    def __init__(self) -> None:
        self.now = datetime(2025, 5, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    engine = open_engine(None, path=tmp_path / "benchlink.db", key=KEY)
    s = Store(engine)
    s.migrate()
    try:
        yield s
    finally:
        engine.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[Store]:  # noqa: F811
    """A fresh schema on the session's PostgreSQL (skips when PostgreSQL is not installed)."""
    import os

    import sqlalchemy

    schema = f"sec{next(_numbers)}_{os.getpid()}"
    admin = sqlalchemy.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()
    engine = open_engine(f"{postgres_url}?options=-csearch_path%3D{schema}")
    s = Store(engine)
    s.migrate()
    try:
        yield s
    finally:
        engine.dispose()
