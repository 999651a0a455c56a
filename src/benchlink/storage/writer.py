"""The single database writer, with group commit.

SQLite allows one writer at a time, and every commit costs an fsync. So all devices hand their
completed messages to one writer. It blocks for the first item, then takes whatever else is
queued (up to ``max_batch``) and commits it all in one transaction. Under load, batches grow by
themselves, and commits per second stay flat while messages per second rise.

The queue is bounded. When it is full, :meth:`GroupCommitWriter.submit` raises
:class:`WriterBusyError` at once, and the link withholds its ACK; the analyzer retransmits
later. Nothing waits forever and nothing grows without bound.

Two ways to wait for a commit exist because they cost very differently under load. A
``concurrent.futures.Future`` per message (:meth:`submit`) wakes the event loop once per message,
and every wake-up is a self-pipe write that hands the GIL back and forth. :meth:`commit` parks an
asyncio future instead, and the writer settles a whole batch with one ``call_soon_threadsafe``.

Where the commit runs is the subclass's business: :class:`StoreWriter` commits on its own thread
in this process; :mod:`benchlink.storage.writer_process` hands batches to a child process so the
SQLCipher work (which releases and re-takes the GIL for every row it steps) runs on another core.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from benchlink.storage.inbound_sql import CommitOutcome, InboundMessage

if TYPE_CHECKING:
    from benchlink.storage.store import Store

M = TypeVar("M")  # a message in whatever form the committing side takes it (dataclass or wire tuple)

_STOP = object()

#: What a batch commit yields per message: its outcome, or why that one message failed.
Settled = CommitOutcome | BaseException


class WriterBusyError(RuntimeError):
    """The writer's queue is full (database slower than input); do not ACK, let the sender retry."""


class WriterStoppedError(RuntimeError):
    """submit() after stop(), or before start(): the message was not accepted."""


@dataclass(slots=True)
class WriterStats:
    """Counters proving group commit happened (read them only when the writer is idle)."""

    batches: int = 0
    items: int = 0
    failed_items: int = 0
    largest_batch: int = 0


class _LoopWaiter:
    """An asyncio future parked by :meth:`GroupCommitWriter.commit`, with the loop that owns it."""

    __slots__ = ("fut", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, fut: asyncio.Future[CommitOutcome]) -> None:
        self.loop = loop
        self.fut = fut


Waiter = Future[CommitOutcome] | _LoopWaiter


def _settle_in_loop(pairs: list[tuple[asyncio.Future[CommitOutcome], Settled]]) -> None:
    for fut, settled in pairs:
        if fut.done():
            continue
        if isinstance(settled, BaseException):
            fut.set_exception(settled)
        else:
            fut.set_result(settled)


def commit_isolated(commit: Callable[[Sequence[M]], list[CommitOutcome]], batch: Sequence[M]) -> list[Settled]:
    """Commit *batch* in one transaction; if that fails, one by one, so a single poisoned message
    cannot withhold the ACK of the others."""
    try:
        return list(commit(batch))
    except Exception as exc:  # noqa: BLE001 - isolate the bad message instead of failing the batch
        if len(batch) == 1:
            return [exc]
    settled: list[Settled] = []
    for msg in batch:
        try:
            (outcome,) = commit([msg])
        except Exception as single_exc:  # noqa: BLE001
            settled.append(single_exc)
        else:
            settled.append(outcome)
    return settled


class GroupCommitWriter:
    """The queue, the thread and the futures; subclasses say how a batch is committed."""

    thread_name = "benchlink-db-writer"

    def __init__(self, *, max_batch: int = 500, max_queue: int = 10_000) -> None:
        if max_batch < 1 or max_queue < 1:
            raise ValueError("max_batch and max_queue must be positive")
        self._max_batch = max_batch
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._accepting = False
        self._lock = threading.Lock()
        self.stats = WriterStats()

    # -------------------------------------------------------------- subclass hooks
    def _commit_batch(self, batch: Sequence[InboundMessage]) -> list[Settled]:
        raise TypeError(f"{type(self).__name__} must define _commit_batch")

    def _open(self) -> None:
        """Runs in start() before the thread; may raise to refuse starting."""

    def _close(self) -> None:
        """Runs on the writer thread after the last batch."""

    # -------------------------------------------------------------- public API
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                raise RuntimeError(f"{type(self).__name__}.start() called twice")
            self._open()
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._accepting = True
            self._thread.start()

    def submit(self, msg: InboundMessage) -> Future[CommitOutcome]:
        """Queue one message; the future resolves after its transaction has committed."""
        fut: Future[CommitOutcome] = Future()
        self._enqueue(msg, fut)
        return fut

    async def commit(self, msg: InboundMessage) -> CommitOutcome:
        """Queue one message and wait until its transaction has committed (cheapest from asyncio)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[CommitOutcome] = loop.create_future()
        self._enqueue(msg, _LoopWaiter(loop, fut))
        return await fut

    def stop(self, timeout: float = 10) -> None:
        """Refuse new messages, commit everything already queued, then end the thread."""
        with self._lock:
            if not self._accepting:
                thread = self._thread
            else:
                self._accepting = False
                thread = self._thread
                # Blocking put is fine: the writer is consuming, and no submitter can add more.
                self._queue.put(_STOP)
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"database writer did not drain within {timeout} s")

    # -------------------------------------------------------------- internals
    def _enqueue(self, msg: InboundMessage, waiter: Waiter) -> None:
        with self._lock:
            if not self._accepting:
                raise WriterStoppedError("the database writer is not running; the message was not stored")
            try:
                self._queue.put_nowait((msg, waiter))
            except queue.Full:
                raise WriterBusyError(
                    f"database writer queue is full ({self._queue.maxsize} messages waiting); "
                    "the message was not stored and must not be acknowledged"
                ) from None

    def _run(self) -> None:
        stopping = False
        try:
            while not stopping:
                first = self._queue.get()
                if first is _STOP:
                    break
                items = [first]
                while len(items) < self._max_batch:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is _STOP:
                        stopping = True
                        break
                    items.append(nxt)
                self._commit(items)  # type: ignore[arg-type]
        finally:
            self._close()

    def _commit(self, items: Sequence[tuple[InboundMessage, Waiter]]) -> None:
        live = [(m, w) for m, w in items if _still_wanted(w)]
        if not live:
            return
        try:
            settled = self._commit_batch([m for m, _ in live])
        except Exception as exc:  # noqa: BLE001 - a failed batch fails its waiters, never the thread
            settled = [exc] * len(live)
        failed = sum(1 for s in settled if isinstance(s, BaseException))
        self.stats.failed_items += failed
        if failed < len(live):
            self.stats.batches += 1
            self.stats.items += len(live) - failed
            self.stats.largest_batch = max(self.stats.largest_batch, len(live) - failed)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[CommitOutcome], Settled]]] = {}
        for (_, waiter), result in zip(live, settled, strict=True):
            if isinstance(waiter, _LoopWaiter):
                by_loop.setdefault(waiter.loop, []).append((waiter.fut, result))
            elif isinstance(result, BaseException):
                waiter.set_exception(result)
            else:
                waiter.set_result(result)
        for loop, pairs in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_in_loop, pairs)
            except RuntimeError:
                pass  # that loop is closed: nobody is waiting any more


def _still_wanted(waiter: Waiter) -> bool:
    if isinstance(waiter, _LoopWaiter):
        # Reading done() from this thread is a benign race: at worst a just-cancelled message is
        # committed anyway, exactly as if the cancel had come a moment later.
        return not waiter.fut.done()
    return waiter.set_running_or_notify_cancel()


class StoreWriter(GroupCommitWriter):
    """Commits on its own thread in this process (the GUI's and the tests' default)."""

    def __init__(self, store: Store, *, max_batch: int = 500, max_queue: int = 10_000) -> None:
        super().__init__(max_batch=max_batch, max_queue=max_queue)
        self._store = store

    def _commit_batch(self, batch: Sequence[InboundMessage]) -> list[Settled]:
        return commit_isolated(self._store.commit_inbound, batch)
