"""One ASTM conversation on one channel: bytes -> link -> commit -> ACK -> decode -> events.

The ordering here is guarantee 1 made concrete: the held ACK of a message's final frame is
released only after the writer thread has committed the raw bytes (and, in the same
transaction, the results decoded from them).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime

from benchlink.core.driver import Driver
from benchlink.core.model import Decoded
from benchlink.core.status import DeviceState
from benchlink.protocols.astm import link as astm_link
from benchlink.protocols.astm.link import AstmLink, LinkTimers, LinkTolerances, Role
from benchlink.protocols.astm.link_state import LinkState
from benchlink.runtime.counters import DeviceHealth
from benchlink.runtime.ingest import Ingestor
from benchlink.runtime.limits import DropConnection, EdgeLimits
from benchlink.runtime.logging_setup import get_logger
from benchlink.runtime.orders import OrderService, Outbound
from benchlink.transports.base import Channel

log = get_logger("benchlink.astm")

TOLERANCE_NAMES = frozenset(LinkTolerances.__dataclass_fields__)


def tolerances_from(names: tuple[str, ...]) -> LinkTolerances:
    unknown = set(names) - TOLERANCE_NAMES
    if unknown:
        raise ValueError(f"unknown ASTM tolerance(s) {sorted(unknown)}; known: {sorted(TOLERANCE_NAMES)}")
    return LinkTolerances(**dict.fromkeys(names, True))


def _ends_with_terminator(text: bytes) -> bool:
    stripped = text.rstrip(b"\r\n")
    last = stripped.rsplit(b"\r", 1)[-1].lstrip(b"\n")
    return last[:1] in (b"L", b"l") and (len(last) == 1 or last[1:2] in (b"|", b"`", b"@", b"!"))


class AstmSession:
    def __init__(
        self,
        channel: Channel,
        *,
        device: str,
        driver: Driver,
        encoding: str,
        tolerances: LinkTolerances,
        timers: LinkTimers | None = None,
        ingestor: Ingestor,
        health: DeviceHealth,
        trace: Callable[[str, bytes], None],
        orders: OrderService | None = None,
        download_orders: bool = False,
        download_interval: float = 5.0,
        limits: EdgeLimits | None = None,
    ) -> None:
        self.channel = channel
        self.device = device
        self.driver = driver
        self.encoding = encoding
        self.limits = limits or EdgeLimits()
        self.link = AstmLink(Role.HOST, tolerances=tolerances, timers=timers or LinkTimers(),
                             max_frame_bytes=max(self.limits.max_frame_bytes, 256),
                             max_message_bytes=self.limits.max_message_bytes)
        now = asyncio.get_running_loop().time()
        self.last_progress = now
        self._last_bytes = now
        self._bytes_since_progress = 0
        self._noise = 0
        self._rejects = 0
        self.ingestor = ingestor
        self.health = health
        self.trace = trace
        self.orders = orders
        self.download_orders = download_orders and orders is not None
        self.download_interval = download_interval
        self._next_download = 0.0
        self._outbound: deque[Outbound] = deque()
        self._pending = bytearray()
        self._fragments = 0
        self._loop = asyncio.get_running_loop()

    async def run(self) -> None:
        try:
            await self._run()
        except DropConnection as exc:
            self.health.bump("errors")
            log.warning("connection dropped: limit exceeded", device=self.device, peer=self.channel.peer,
                        reason=exc.reason)
            await self._handle_quietly(self.link.connection_lost(self._loop.time()))

    async def _handle_quietly(self, events: list[astm_link.LinkEvent]) -> None:
        try:
            await self._handle(events)
        except DropConnection:
            pass

    def _edge_deadline(self) -> float | None:
        candidates = []
        if self.limits.progress_timeout and self._bytes_since_progress:
            candidates.append(self.last_progress + self.limits.progress_timeout)
        if self.limits.idle_timeout:
            candidates.append(self._last_bytes + self.limits.idle_timeout)
        return min(candidates) if candidates else None

    def _check_edge(self, now: float) -> None:
        if (self.limits.progress_timeout and self._bytes_since_progress
                and now - self.last_progress >= self.limits.progress_timeout):
            raise DropConnection(f"{self._bytes_since_progress} bytes in {now - self.last_progress:.0f} s without "
                                 f"a complete frame (progress_timeout={self.limits.progress_timeout:g} s)")
        if self.limits.idle_timeout and now - self._last_bytes >= self.limits.idle_timeout:
            raise DropConnection(f"silent for {now - self._last_bytes:.0f} s (idle_timeout)")

    async def _run(self) -> None:
        loop = self._loop
        while True:
            deadline = self.link.next_deadline()
            edge = self._edge_deadline()
            if edge is not None:
                deadline = edge if deadline is None else min(deadline, edge)
            if self.download_orders:
                await self._maybe_download()
                wake = self._next_download
                deadline = wake if deadline is None else min(deadline, wake)
            try:
                if deadline is None:
                    data = await self.channel.read()
                elif deadline <= loop.time():
                    raise TimeoutError
                else:
                    # asyncio.timeout_at, unlike wait_for, costs no extra task per read
                    async with asyncio.timeout_at(deadline):
                        data = await self.channel.read()
            except TimeoutError:
                self._check_edge(loop.time())
                await self._handle(self.link.handle_timer(loop.time()))
                await self._flush()
                continue
            if not data:
                await self._handle(self.link.connection_lost(loop.time()))
                break
            self._last_bytes = loop.time()
            self._bytes_since_progress += len(data)
            self._check_edge(self._last_bytes)
            self.health.bump("bytes_in", len(data))
            self.trace("in", data)
            await self._handle(self.link.receive_data(data, loop.time()))
            await self._flush()
        if self._pending:
            await self._commit(bytes(self._pending), complete=False)
            self._pending.clear()

    def _queue_outbound(self, outbound: Outbound) -> None:
        self._outbound.append(outbound)
        self.link.send_message(outbound.text, self._loop.time())

    async def _maybe_download(self) -> None:
        """When the line is idle, offer pending orders unasked (LIS01-A2 handles contention)."""
        now = self._loop.time()
        if now < self._next_download:
            return
        self._next_download = now + self.download_interval
        if self.orders is None or self.link.pending_outbound or self.link.state is not LinkState.IDLE:
            return
        outbound = await self.orders.downloads(self.device, self.driver, self.encoding)
        if outbound is not None:
            self._queue_outbound(outbound)
            await self._flush()

    async def _flush(self) -> None:
        out = self.link.data_to_send()
        if out:
            self.health.bump("bytes_out", len(out))
            self.trace("out", out)
            self.channel.write(out)
            await self.channel.drain()

    def _progress(self) -> None:
        self.last_progress = self._loop.time()
        self._bytes_since_progress = 0
        self._rejects = 0

    async def _handle(self, events: list[astm_link.LinkEvent]) -> None:
        for event in events:
            if isinstance(event, astm_link.NoiseDiscarded):
                self._noise += len(event.data)
                if self._noise > self.limits.max_noise_bytes:
                    raise DropConnection(f"{self._noise} bytes outside any frame (max_noise_bytes="
                                         f"{self.limits.max_noise_bytes})")
                continue
            if isinstance(event, astm_link.FrameRejected):
                self._rejects += 1
                self.health.bump("naks")
                log.warning("frame rejected", device=self.device, reason=event.reason)
                if self._rejects > self.limits.max_rejected_frames:
                    raise DropConnection(f"{self._rejects} frames rejected in a row "
                                         f"(max_rejected_frames={self.limits.max_rejected_frames})")
                continue
            self._progress()
            if isinstance(event, astm_link.TransferStarted):
                self.health.set_state(DeviceState.SENDING if event.outbound else DeviceState.RECEIVING)
            elif isinstance(event, astm_link.MessageReceived):
                text = event.text
                if self._pending and not self._pending.endswith(b"\r"):
                    self._pending += b"\r"
                self._pending += text
                if self._pending.count(b"\r") > self.limits.max_records:
                    message = bytes(self._pending)
                    self._pending.clear()
                    await self.ingestor.quarantine(
                        self.device, message, f"message has more than {self.limits.max_records} records "
                        "(max_records); raise the device's limit if this analyzer really sends that many", "astm")
                    self.link.accept_message(self._loop.time())
                elif _ends_with_terminator(bytes(self._pending)):
                    message = bytes(self._pending)
                    self._pending.clear()
                    decoded = await self._commit(message, complete=True)
                    self.link.accept_message(self._loop.time())
                    self._fragments = 0
                    if decoded is not None and self.orders is not None:
                        if decoded.queries:
                            for outbound in await self.orders.answer(self.device, self.driver, self.encoding,
                                                                     decoded):
                                self._queue_outbound(outbound)
                        if decoded.results:
                            await self.orders.resulted((r.sample_id, r.lis_code or r.instrument_code)
                                                       for r in decoded.results)
                else:
                    # One record per ETX frame (Vitros, Pentra): commit this fragment before its ACK
                    # so nothing the analyzer saw accepted exists only in memory (guarantee 1).
                    self._fragments += 1
                    await self.ingestor.store_fragment(self.device, event.raw or text, index=self._fragments,
                                                       peer=self.channel.peer, protocol="astm")
                    self.link.accept_message(self._loop.time())
            elif isinstance(event, astm_link.TransferEnded):
                if self._pending:
                    await self._commit(bytes(self._pending), complete=False)
                    self._pending.clear()
                if event.reason == "timeout":
                    self.health.bump("timeouts")
                self.health.set_state(DeviceState.CONNECTED)
            elif isinstance(event, astm_link.MessageAbandoned):
                self.health.bump("timeouts")
                partial = event.raw or event.text
                if partial:
                    await self.ingestor.quarantine(
                        self.device, partial, f"incomplete message dropped by the link: {event.reason}", "astm"
                    )
            elif isinstance(event, astm_link.Retransmitted):
                self.health.bump("retransmissions")
            elif isinstance(event, astm_link.MessageSent):
                if self._outbound and self.orders is not None:
                    await self.orders.delivered(self._outbound.popleft())
            elif isinstance(event, astm_link.SendFailed):
                self.health.bump("errors")
                log.warning("send failed", device=self.device, reason=event.reason)
                if self._outbound and self.orders is not None:
                    await self.orders.undelivered(self._outbound.popleft())
            elif isinstance(event, astm_link.AcceptTimedOut):
                self.health.bump("timeouts")

    async def _commit(self, message: bytes, *, complete: bool) -> Decoded | None:
        meta = {"complete": complete, "peer": self.channel.peer}
        return await self.ingestor.ingest(
            self.device, message, driver=self.driver, encoding=self.encoding, protocol="astm",
            received_at=datetime.now().astimezone(), link_meta=meta, started=time.perf_counter(),
        )
