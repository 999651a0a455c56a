"""The single writer thread: group commit, futures, drain on stop, isolation of a bad message."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from datetime import UTC, datetime

import pytest
from tests.helpers import submit_from_threads

from benchlink.core.model import Result
from benchlink.storage.store import CommitOutcome, InboundMessage, ResultFilter, Store
from benchlink.storage.writer import StoreWriter, WriterBusyError, WriterStoppedError

MakeMessage = Callable[..., InboundMessage]
T0 = datetime(2025, 3, 1, tzinfo=UTC)


def test_many_threads_share_few_commits(store: Store, make_message: MakeMessage) -> None:
    writer = StoreWriter(store, max_batch=500)
    writer.start()
    futures: list[Future[CommitOutcome]] = submit_from_threads(
        lambda n, device: writer.submit(make_message(n, device=device, results=2)), each=100)
    _done, not_done = wait(futures, timeout=30)
    writer.stop()
    assert not not_done
    outcomes = [f.result() for f in futures]
    assert len({o.message_id for o in outcomes}) == 400
    assert not any(o.duplicate for o in outcomes)
    assert writer.stats.items == 400
    assert writer.stats.batches < 400, "group commit should merge submissions into fewer transactions"
    assert store.count_results(ResultFilter()) == 800


def test_stop_drains_queue(store: Store, make_message: MakeMessage) -> None:
    gate = threading.Event()
    original = store.commit_inbound

    def slow_commit(batch: Sequence[InboundMessage]) -> list[CommitOutcome]:
        gate.wait(5)
        return original(batch)

    store.commit_inbound = slow_commit  # type: ignore[method-assign]
    writer = StoreWriter(store, max_batch=10)
    writer.start()
    futures = [writer.submit(make_message(i)) for i in range(35)]
    stopper = threading.Thread(target=writer.stop)
    stopper.start()
    gate.set()
    stopper.join(10)
    assert all(f.done() and f.exception() is None for f in futures)
    assert writer.stats.items == 35 and writer.stats.batches >= 4  # max_batch respected
    assert writer.stats.largest_batch <= 10
    assert not writer.running
    with pytest.raises(WriterStoppedError):
        writer.submit(make_message(99))


def test_bad_message_fails_alone(store: Store, make_message: MakeMessage) -> None:
    gate = threading.Event()
    original = store.commit_inbound

    def gated(batch: Sequence[InboundMessage]) -> list[CommitOutcome]:
        gate.wait(5)
        return original(batch)

    store.commit_inbound = gated  # type: ignore[method-assign]
    writer = StoreWriter(store)
    writer.start()
    poison = InboundMessage(
        device="d",
        protocol="astm",
        data=b"p",
        received_at=T0,
        results=(Result(sample_id="S", instrument_code="T", value=None),),
    )  # type: ignore[arg-type]
    blocker = writer.submit(make_message(0))
    good = [writer.submit(make_message(i)) for i in range(1, 4)]
    bad = writer.submit(poison)
    more = writer.submit(make_message(5))
    gate.set()
    writer.stop()
    assert blocker.result().message_id > 0
    assert all(f.result().message_id > 0 for f in [*good, more])
    assert bad.exception() is not None
    assert writer.stats.failed_items == 1
    assert store.count_results(ResultFilter()) == 15


def test_full_queue_refuses_instead_of_growing(store: Store, make_message: MakeMessage) -> None:
    entered, gate = threading.Event(), threading.Event()
    original = store.commit_inbound

    def stuck(batch: Sequence[InboundMessage]) -> list[CommitOutcome]:
        entered.set()
        gate.wait(10)
        return original(batch)

    store.commit_inbound = stuck  # type: ignore[method-assign]
    writer = StoreWriter(store, max_queue=3)
    writer.start()
    first = writer.submit(make_message(0))
    assert entered.wait(5)  # the writer holds message 0 inside a (stuck) commit
    queued = [writer.submit(make_message(i)) for i in range(1, 4)]
    with pytest.raises(WriterBusyError, match="must not be acknowledged"):
        writer.submit(make_message(9))
    gate.set()
    writer.stop()
    assert all(f.result().message_id > 0 for f in [first, *queued])
    assert store.count_results(ResultFilter()) == 12


def test_submit_before_start_is_refused(store: Store, make_message: MakeMessage) -> None:
    with pytest.raises(WriterStoppedError):
        StoreWriter(store).submit(make_message(1))


def test_asyncio_callers_await_the_future(store: Store, make_message: MakeMessage) -> None:
    writer = StoreWriter(store)
    writer.start()

    async def main() -> list[CommitOutcome]:
        futs = [asyncio.wrap_future(writer.submit(make_message(i))) for i in range(20)]
        return list(await asyncio.gather(*futs))

    try:
        outcomes = asyncio.run(main())
    finally:
        writer.stop()
    assert len({o.message_id for o in outcomes}) == 20
    assert store.count_results(ResultFilter()) == 60
