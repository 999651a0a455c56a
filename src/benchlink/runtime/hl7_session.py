"""One HL7 v2 conversation over MLLP: frame -> commit -> ACK, and QRY^Q02 answered from the worklist.

As for ASTM, the acknowledgement is written only after the raw message is committed. AA means
stored and decoded; AE means stored but not understood (it sits in quarantine for the operator);
AR means the bytes are not an HL7 message at all (they are quarantined too).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial

from benchlink.core.driver import Driver
from benchlink.core.status import DeviceState
from benchlink.protocols.hl7.ack import QueryOrder, build_ack, build_query_response, build_reject, parse_query
from benchlink.protocols.hl7.errors import Hl7Error
from benchlink.protocols.hl7.message import Hl7Message, parse_message
from benchlink.protocols.hl7.mllp import MllpFramer, MllpMessage, MllpNoise, MllpOverflow, frame
from benchlink.runtime.counters import DeviceHealth
from benchlink.runtime.ingest import Ingestor
from benchlink.runtime.limits import DropConnection, EdgeLimits
from benchlink.runtime.logging_setup import get_logger
from benchlink.runtime.orders import OrderService
from benchlink.transports.base import Channel

log = get_logger("benchlink.hl7")
_control_ids = itertools.count(1)


def _control_id() -> str:
    return f"BL{int(time.time())}{next(_control_ids):05d}"


def _timestamp() -> str:
    return datetime.now().astimezone().strftime("%Y%m%d%H%M%S%z")


class Hl7Session:
    def __init__(
        self,
        channel: Channel,
        *,
        device: str,
        driver: Driver,
        encoding: str | None,
        ingestor: Ingestor,
        health: DeviceHealth,
        trace: Callable[[str, bytes], None],
        orders: OrderService | None = None,
        limits: EdgeLimits | None = None,
    ) -> None:
        self.channel = channel
        self.device = device
        self.driver = driver
        self.encoding = encoding
        self.ingestor = ingestor
        self.health = health
        self.trace = trace
        self.orders = orders
        self.limits = limits or EdgeLimits()
        self.framer = MllpFramer(max_message_bytes=self.limits.max_message_bytes,
                                 max_noise_bytes=self.limits.max_noise_bytes)
        self._loop = asyncio.get_running_loop()
        self.last_progress = self._loop.time()
        self._last_bytes = self.last_progress
        self._noise = 0

    async def run(self) -> None:
        try:
            await self._run()
        except DropConnection as exc:
            self.health.bump("errors")
            log.warning("connection dropped: limit exceeded", device=self.device, peer=self.channel.peer,
                        reason=exc.reason)

    def _timeout(self) -> float | None:
        now = self._loop.time()
        candidates = []
        if self.limits.progress_timeout and self.framer.in_message:
            candidates.append(self.last_progress + self.limits.progress_timeout - now)
        if self.limits.idle_timeout:
            candidates.append(self._last_bytes + self.limits.idle_timeout - now)
        return max(0.0, min(candidates)) if candidates else None

    async def _run(self) -> None:
        while True:
            try:
                data = await asyncio.wait_for(self.channel.read(), self._timeout())
            except TimeoutError:
                if self.framer.in_message:
                    raise DropConnection(f"{self.framer.buffered} bytes without a complete MLLP frame for "
                                         f"{self.limits.progress_timeout:g} s (progress_timeout)") from None
                raise DropConnection("silent past idle_timeout") from None
            if not data:
                if self.framer.in_message:
                    self.health.bump("errors")
                    log.warning("connection closed inside an MLLP frame", device=self.device,
                                buffered=self.framer.buffered)
                return
            self._last_bytes = self._loop.time()
            self.health.bump("bytes_in", len(data))
            self.trace("in", data)
            for event in self.framer.feed(data):
                if isinstance(event, MllpMessage):
                    self.last_progress = self._loop.time()
                    await self._on_message(event.payload)
                elif isinstance(event, MllpOverflow):
                    self.health.bump("errors")
                    log.warning("MLLP message discarded", device=self.device, reason=event.reason,
                                discarded=event.discarded)
                elif isinstance(event, MllpNoise):
                    self._noise += len(event.data)
                    log.info("bytes outside MLLP frames ignored", device=self.device, count=len(event.data))
                    if self._noise > self.limits.max_noise_bytes:
                        raise DropConnection(f"{self._noise} bytes outside MLLP frames (max_noise_bytes)")

    async def _send(self, payload: bytes) -> None:
        out = frame(payload)
        self.health.bump("bytes_out", len(out))
        self.trace("out", out)
        self.channel.write(out)
        await self.channel.drain()

    async def _on_message(self, payload: bytes) -> None:
        self.health.set_state(DeviceState.RECEIVING)
        try:
            message: Hl7Message | None = parse_message(payload, profile_encoding=self.encoding)
        except Hl7Error as exc:
            message = None
            parse_error = str(exc)
        if message is None:
            await self.ingestor.quarantine(self.device, payload, f"not an HL7 message: {parse_error}", "hl7")
            await self._send(build_reject(payload, "message could not be parsed", control_id=_control_id(),
                                          timestamp=_timestamp()))
            self.health.set_state(DeviceState.CONNECTED)
            return
        if len(message.segments) > self.limits.max_records:
            await self.ingestor.quarantine(self.device, payload, f"message has more than {self.limits.max_records} "
                                           "segments (max_records)", "hl7")
            await self._send(build_ack(message, "AE", "too many segments", control_id=_control_id(),
                                       timestamp=_timestamp()))
            return
        kind = message.message_type.split("^")[0]
        if kind == "ACK":
            # the analyzer acknowledging our DSR^Q03 / orders: nothing to store as a result
            self.health.set_state(DeviceState.CONNECTED)
            return
        decoded = await self.ingestor.ingest(
            self.device, payload, driver=self.driver, encoding=self.encoding or "", protocol="hl7",
            received_at=datetime.now().astimezone(), link_meta={"peer": self.channel.peer,
                                                                "control_id": message.control_id},
            started=time.perf_counter(),
        )
        code = "AA" if decoded is not None else "AE"
        await self._send(build_ack(message, code, "" if code == "AA" else "stored, not decoded; see quarantine",
                                   control_id=_control_id(), timestamp=_timestamp()))
        if kind == "QRY":
            try:
                await self._answer_query(message)
            except Hl7Error:
                # logged with its traceback (no locals), the connection stays up for the next message
                self.health.bump("errors")
                log.exception("query could not be answered", device=self.device)
        elif decoded is not None and decoded.results and self.orders is not None:
            await self.orders.resulted((r.sample_id, r.lis_code or r.instrument_code) for r in decoded.results)
        self.health.set_state(DeviceState.CONNECTED)

    async def _answer_query(self, message: Hl7Message) -> None:
        query = parse_query(message)
        found: list[QueryOrder] = []
        ids: list[int] = []
        if self.orders is not None:
            loop = asyncio.get_running_loop()
            requests, ids = await loop.run_in_executor(
                None, partial(self.orders.worklist.requests_for, query.sample_ids, device=self.device))
            found = [QueryOrder(sample_id=r.sample_id, tests=r.tests, patient_id=r.patient_id,
                                patient_name=r.patient_name, stat=r.priority == "S") for r in requests]
        for response in build_query_response(message, found, control_id=_control_id(), timestamp=_timestamp()):
            await self._send(response)
        if ids and self.orders is not None:
            await asyncio.get_running_loop().run_in_executor(None, partial(self.orders.worklist.mark, ids, "sent"))
        log.info("query answered", device=self.device, samples=len(query.sample_ids), orders=len(ids))
