"""A real encrypted store per test and a clock the test moves by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from benchlink.storage.database import open_engine
from benchlink.storage.store import Store

KEY = bytes(range(32))


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
