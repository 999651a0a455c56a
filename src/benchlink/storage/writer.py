"""The single database writer thread, with group commit.

SQLite allows one writer at a time, and every commit costs an fsync. So all devices hand their
completed messages to one thread. It blocks for the first item, then takes whatever else is
queued (up to ``max_batch``) and commits it all in one transaction. Under load, batches grow by
themselves, and commits per second stay flat while messages per second rise.

The queue is bounded. When it is full, :meth:`StoreWriter.submit` raises :class:`WriterBusyError`
at once, and the link withholds its ACK; the analyzer retransmits later. Nothing waits forever
and nothing grows without bound.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from benchlink.storage.store import CommitOutcome, InboundMessage, Store

_STOP = object()


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


class StoreWriter:
    """Owns the only thread that writes inbound messages; callers get futures."""

    def __init__(self, store: Store, *, max_batch: int = 500, max_queue: int = 10_000) -> None:
        if max_batch < 1 or max_queue < 1:
            raise ValueError("max_batch and max_queue must be positive")
        self._store = store
        self._max_batch = max_batch
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._accepting = False
        self._lock = threading.Lock()
        self.stats = WriterStats()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("StoreWriter.start() called twice")
            self._thread = threading.Thread(target=self._run, name="benchlink-db-writer", daemon=True)
            self._accepting = True
            self._thread.start()

    def submit(self, msg: InboundMessage) -> Future[CommitOutcome]:
        """Queue one message; the future resolves after its transaction has committed."""
        fut: Future[CommitOutcome] = Future()
        with self._lock:
            if not self._accepting:
                raise WriterStoppedError("the database writer is not running; the message was not stored")
            try:
                self._queue.put_nowait((msg, fut))
            except queue.Full:
                raise WriterBusyError(
                    f"database writer queue is full ({self._queue.maxsize} messages waiting); "
                    "the message was not stored and must not be acknowledged"
                ) from None
        return fut

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

    def _run(self) -> None:
        stopping = False
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

    def _commit(self, items: Sequence[tuple[InboundMessage, Future[CommitOutcome]]]) -> None:
        live = [(m, f) for m, f in items if f.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            outcomes = self._store.commit_inbound([m for m, _ in live])
        except Exception as exc:  # noqa: BLE001 - isolate the bad message instead of failing the batch
            if len(live) == 1:
                self.stats.failed_items += 1
                live[0][1].set_exception(exc)
                return
            # One poisoned message must not withhold the ACK of the others: retry one by one.
            for msg, fut in live:
                try:
                    (outcome,) = self._store.commit_inbound([msg])
                except Exception as single_exc:  # noqa: BLE001
                    self.stats.failed_items += 1
                    fut.set_exception(single_exc)
                else:
                    self._record(1)
                    fut.set_result(outcome)
            return
        self._record(len(live))
        for (_, fut), outcome in zip(live, outcomes, strict=True):
            fut.set_result(outcome)

    def _record(self, n: int) -> None:
        self.stats.batches += 1
        self.stats.items += n
        self.stats.largest_batch = max(self.stats.largest_batch, n)
