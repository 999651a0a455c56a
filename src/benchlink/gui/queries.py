"""Off-thread store reads for the widgets.

The GUI thread must never wait on the database (design: "The GUI never waits on I/O"), so
every query is a plain callable run on a dedicated reader thread and its result is handed
back on the asyncio loop, which under qasync is the Qt thread. One worker keeps reads
ordered and puts no more than one extra connection on the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import structlog

T = TypeVar("T")

_log = structlog.get_logger("benchlink.gui")


class QueryRunner:
    def __init__(self, name: str = "benchlink-gui-query") -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._latest: dict[str, Future[object]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._running = 0

    @property
    def pending(self) -> int:
        return len(self._tasks)

    @property
    def busy(self) -> bool:
        """True while a query is executing on the worker thread."""
        return self._running > 0

    def submit(
        self,
        query: Callable[[], T],
        on_done: Callable[[T], None],
        on_error: Callable[[BaseException], None] | None = None,
        *,
        supersede: str | None = None,
    ) -> None:
        """Run `query` off-thread; `on_done`/`on_error` run later on the loop thread.

        With `supersede`, a still-queued query submitted under the same key is dropped unstarted
        (its callbacks never run): only the newest filter's answer is worth the database's time.
        """
        if self._closed:
            return
        loop = asyncio.get_running_loop()

        def counted() -> T:
            self._running += 1
            try:
                return query()
            finally:
                self._running -= 1

        future = self._executor.submit(counted)
        if supersede is not None:
            previous = self._latest.get(supersede)
            if previous is not None:
                previous.cancel()  # no effect once it has started; its generation check drops it
            self._latest[supersede] = future  # type: ignore[assignment]

        async def run() -> None:
            try:
                value = await asyncio.wrap_future(future, loop=loop)
            except asyncio.CancelledError:
                return
            except Exception as exc:  # noqa: BLE001 - a failed read must not kill the window
                # Only the type: driver messages can echo bound parameters, i.e. patient IDs.
                _log.warning("gui_query_failed", error_type=type(exc).__name__)
                if on_error is not None and not self._closed:
                    on_error(exc)
                return
            if not self._closed:
                on_done(value)

        task = loop.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every submitted query; used on shutdown and by tests."""
        while self._tasks:
            await asyncio.gather(*tuple(self._tasks), return_exceptions=True)

    def close(self) -> None:
        self._closed = True
        for task in tuple(self._tasks):
            task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
