"""One ASTM conversation on one channel: bytes -> link -> commit -> ACK -> decode -> events.

The ordering here is guarantee 1 made concrete: the held ACK of a message's final frame is
released only after the writer thread has committed the raw bytes (and, in the same
transaction, the results decoded from them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from benchlink.core.driver import Driver
from benchlink.core.model import Decoded
from benchlink.protocols.astm import link as astm_link
from benchlink.protocols.astm.link import AstmLink, LinkTimers, LinkTolerances, Role
from benchlink.runtime.counters import DeviceHealth
from benchlink.runtime.ingest import Ingestor
from benchlink.runtime.logging_setup import get_logger
from benchlink.core.status import DeviceState
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
        answer_queries: Callable[[Decoded], Awaitable[bytes | None]] | None = None,
    ) -> None:
        self.channel = channel
        self.device = device
        self.driver = driver
        self.encoding = encoding
        self.link = AstmLink(Role.HOST, tolerances=tolerances, timers=timers or LinkTimers())
        self.ingestor = ingestor
        self.health = health
        self.trace = trace
        self.answer_queries = answer_queries
        self._pending = bytearray()
        self._loop = asyncio.get_running_loop()

    async def run(self) -> None:
        loop = self._loop
        while True:
            deadline = self.link.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                data = await asyncio.wait_for(self.channel.read(), timeout)
            except TimeoutError:
                await self._handle(self.link.handle_timer(loop.time()))
                await self._flush()
                continue
            if not data:
                break
            self.health.bump("bytes_in", len(data))
            self.trace("in", data)
            await self._handle(self.link.receive_data(data, loop.time()))
            await self._flush()
        if self._pending:
            await self._commit(bytes(self._pending), complete=False)
            self._pending.clear()

    async def _flush(self) -> None:
        out = self.link.data_to_send()
        if out:
            self.health.bump("bytes_out", len(out))
            self.trace("out", out)
            self.channel.write(out)
            await self.channel.drain()

    async def _handle(self, events: list[astm_link.LinkEvent]) -> None:
        for event in events:
            if isinstance(event, astm_link.TransferStarted):
                self.health.set_state(DeviceState.RECEIVING)
            elif isinstance(event, astm_link.MessageReceived):
                text = event.text
                if self._pending and not self._pending.endswith(b"\r"):
                    self._pending += b"\r"
                self._pending += text
                if _ends_with_terminator(bytes(self._pending)):
                    message = bytes(self._pending)
                    self._pending.clear()
                    decoded = await self._commit(message, complete=True)
                    self.link.accept_message(self._loop.time())
                    if decoded is not None and decoded.queries and self.answer_queries is not None:
                        answer = await self.answer_queries(decoded)
                        if answer:
                            self.link.send_message(answer, self._loop.time())
                else:
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
                partial = bytes(self._pending) + event.text
                self._pending.clear()
                if partial:
                    await self.ingestor.quarantine(
                        self.device, partial, f"incomplete message dropped by the link: {event.reason}", "astm"
                    )
            elif isinstance(event, astm_link.FrameRejected):
                self.health.bump("naks")
                log.warning("frame rejected", device=self.device, reason=event.reason)
            elif isinstance(event, astm_link.Retransmitted):
                self.health.bump("retransmissions")
            elif isinstance(event, astm_link.SendFailed):
                self.health.bump("errors")
                log.warning("send failed", device=self.device, reason=event.reason)

    async def _commit(self, message: bytes, *, complete: bool) -> Decoded | None:
        meta = {"complete": complete, "peer": self.channel.peer}
        return await self.ingestor.ingest(
            self.device, message, driver=self.driver, encoding=self.encoding, protocol="astm",
            received_at=datetime.now().astimezone(), link_meta=meta, started=time.perf_counter(),
        )
