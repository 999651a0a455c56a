"""Orders on their way to analyzers: query answers and unasked downloads, with each order's
state tracked from pending to sent, acknowledged and resulted.

Worklist reads and writes are blocking SQL, so they run in a thread; the device's task only
awaits them, never blocks the loop (guarantee 7).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from benchlink.core.driver import Driver
from benchlink.core.model import Decoded, HostQuery
from benchlink.runtime.logging_setup import get_logger
from benchlink.storage.worklist import Worklist

log = get_logger("benchlink.orders")


@dataclass(frozen=True, slots=True)
class Outbound:
    text: bytes
    order_ids: tuple[int, ...]
    purpose: str  # "query-answer" | "download"


class OrderService:
    def __init__(self, worklist: Worklist, *, refresh_seconds: float = 2.0) -> None:
        self.worklist = worklist
        self.refresh_seconds = refresh_seconds
        self._open: set[str] = set()
        self._open_checked = float("-inf")

    async def _run(self, func: partial[object]) -> object:
        return await asyncio.get_running_loop().run_in_executor(None, func)

    async def answer(self, device: str, driver: Driver, encoding: str, decoded: Decoded) -> list[Outbound]:
        answers: list[Outbound] = []
        for query in decoded.queries:
            found = await self._run(partial(self.worklist.requests_for, query.sample_ids, device=device))
            requests, ids = found  # type: ignore[misc]
            text = driver.answer_query(query, list(requests), encoding=encoding)
            answers.append(Outbound(text, tuple(ids), "query-answer"))
            if ids:
                await self._run(partial(self.worklist.mark, ids, "sent"))
                self.forget_cache()
            log.info("query answered", device=device, samples=len(query.sample_ids), orders=len(ids))
        return answers

    async def downloads(self, device: str, driver: Driver, encoding: str) -> Outbound | None:
        found = await self._run(partial(self.worklist.pending_downloads, device))
        requests, ids = found  # type: ignore[misc]
        if not ids:
            return None
        query = HostQuery(sample_ids=tuple(r.sample_id for r in requests))
        text = driver.answer_query(query, list(requests), encoding=encoding)
        await self._run(partial(self.worklist.mark, ids, "sent"))
        self.forget_cache()
        log.info("orders downloaded", device=device, orders=len(ids))
        return Outbound(text, tuple(ids), "download")

    async def delivered(self, outbound: Outbound) -> None:
        if outbound.order_ids:
            await self._run(partial(self.worklist.mark, list(outbound.order_ids), "acknowledged"))

    async def undelivered(self, outbound: Outbound) -> None:
        if outbound.order_ids:
            await self._run(partial(self.worklist.mark, list(outbound.order_ids), "pending"))

    async def _open_samples(self) -> set[str]:
        """Which samples have open orders, refreshed every few seconds: most results have no order
        here, and asking the database for each of thousands of messages a second would cost more
        than the results themselves."""
        now = asyncio.get_running_loop().time()
        if now - self._open_checked >= self.refresh_seconds:
            self._open_checked = now
            self._open = await self._run(partial(self.worklist.open_sample_ids))  # type: ignore[assignment]
        return self._open

    def forget_cache(self) -> None:
        self._open_checked = float("-inf")

    async def resulted(self, pairs: Iterable[tuple[str, str]]) -> None:
        open_samples = await self._open_samples()
        if not open_samples:
            return
        wanted = [pair for pair in pairs if pair[0] in open_samples]
        if wanted:
            await self._run(partial(self.worklist.mark_resulted, wanted))
