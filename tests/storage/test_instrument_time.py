"""An analyzer time that arrives with a UTC offset is stored as the same instant on this PC's clock.

Analyzer times are stored naive and read back as local time, so an aware one must be stored in local
time too. Stored as naive UTC, 11:30-05:00 read back as 16:30 in Berlin instead of 17:30. Both write
paths (the engine's own connection and the writer child) and both backends are checked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from tests.storage.test_writer_process import _writer

from benchlink.core.model import Result
from benchlink.storage.store import InboundMessage, ResultFilter, Store

SENT = datetime(2024, 1, 1, 11, 30, tzinfo=timezone(timedelta(hours=-5)))  # HL7 OBX-14 20240101113000-0500
BERLIN = datetime(2024, 1, 1, 17, 30)  # the same instant on a PC in Berlin (UTC+1 in January)


@pytest.fixture
def in_berlin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _message(sample: str) -> InboundMessage:
    return InboundMessage(device="hl7-1", protocol="hl7", data=sample.encode(), received_at=datetime.now(UTC),
                          results=(Result(sample_id=sample, instrument_code="GLU", value="5.1", numeric_value=5.1,
                                          observed_at=SENT),))


def _observed(store: Store, sample: str) -> datetime | None:
    (row,) = store.results_page(ResultFilter(sample_id=sample), limit=5)
    return row.observed_at


def test_the_engines_own_write_path_keeps_the_instant(in_berlin: None, store: Store) -> None:
    store.commit_inbound([_message("TZ-1")])
    assert _observed(store, "TZ-1") == BERLIN


def test_the_writer_child_keeps_the_instant(in_berlin: None, store: Store) -> None:
    writer = _writer(store)
    try:
        assert writer.submit(_message("TZ-2")).result(timeout=60).message_id > 0
    finally:
        writer.stop()
    assert _observed(store, "TZ-2") == BERLIN
