"""From a complete message to committed rows: decode, commit (raw + results together), publish.

Decoding happens before the commit so the raw bytes and their results share one transaction;
a message that fails to decode is still committed, verbatim, to quarantine — the analyzer
gets its ACK because we *have* the bytes, and the operator sees the error (guarantee 3).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import datetime

from benchlink.core.driver import Driver
from benchlink.core.events import EventBus, MessageQuarantined, ResultsStored
from benchlink.core.mapping import MappingTable
from benchlink.core.model import Decoded, Result
from benchlink.runtime.counters import DeviceHealth
from benchlink.runtime.logging_setup import get_logger
from benchlink.storage.store import InboundMessage
from benchlink.storage.writer import GroupCommitWriter

log = get_logger("benchlink.ingest")


class Ingestor:
    def __init__(self, writer: GroupCommitWriter, bus: EventBus, mapping: MappingTable | None = None,
                 process: Callable[[str, Result], Result] | None = None) -> None:
        self.writer = writer
        self.process = process
        self.bus = bus
        self.mapping = mapping or MappingTable()
        self.health: dict[str, DeviceHealth] = {}
        self.latencies: deque[float] = deque(maxlen=10_000)  # message complete -> committed, seconds

    async def ingest(
        self,
        device: str,
        data: bytes,
        *,
        driver: Driver,
        encoding: str,
        protocol: str,
        received_at: datetime,
        link_meta: dict[str, object],
        started: float,
    ) -> Decoded | None:
        decoded: Decoded | None = None
        error = ""
        try:
            decoded = driver.decode(data, encoding=encoding)
        except Exception as exc:  # noqa: BLE001 - any driver failure quarantines, never crashes the device
            error = f"{type(exc).__name__}: {exc}"
        if decoded is not None:
            raw_results = decoded.results
            if self.process is not None:
                raw_results = tuple(self.process(device, r) for r in raw_results)
            results = tuple(self.mapping.apply(device, r) for r in raw_results)
            status = "ok" if results or decoded.queries else "empty"
            inbound = InboundMessage(
                device=device, protocol=protocol, data=data, received_at=received_at,
                results=results, link_meta=link_meta, decode_status=status,
            )
        else:
            inbound = InboundMessage(
                device=device, protocol=protocol, data=data, received_at=received_at,
                link_meta=link_meta, decode_status="quarantined", error=error,
            )
        outcome = await self.writer.commit(inbound)
        self.latencies.append(time.perf_counter() - started)
        health = self.health.get(device)
        if outcome.duplicate:
            log.info("duplicate message ignored", device=device, message_id=outcome.message_id)
            return decoded
        if decoded is None:
            if health is not None:
                health.bump("quarantined", notify=True)
                health.bump("errors")
            log.warning("message quarantined", device=device, message_id=outcome.message_id, error=error)
            self.bus.publish(MessageQuarantined(device, outcome.quarantine_id or 0, error))
            return None
        if health is not None:
            health.bump("messages")
            health.bump("results", len(inbound.results), notify=True)
        log.info("message stored", device=device, message_id=outcome.message_id, results=len(inbound.results))
        self.bus.publish(ResultsStored(device, outcome.message_id, len(inbound.results)))
        return decoded

    async def store_fragment(self, device: str, raw: bytes, *, index: int, peer: str, protocol: str) -> None:
        """Durably keep part of a message whose ETX frame is about to be ACKed. The complete
        message is stored again when its terminator arrives; fragments are the evidence if it never does."""
        inbound = InboundMessage(
            device=device, protocol=protocol, data=raw, received_at=datetime.now().astimezone(),
            link_meta={"fragment": index, "peer": peer}, decode_status="empty",
        )
        await self.writer.commit(inbound)

    async def quarantine(self, device: str, data: bytes, error: str, protocol: str) -> None:
        inbound = InboundMessage(
            device=device, protocol=protocol, data=data, received_at=datetime.now().astimezone(),
            decode_status="quarantined", error=error,
        )
        outcome = await self.writer.commit(inbound)
        health = self.health.get(device)
        if health is not None:
            health.bump("quarantined", notify=True)
        log.warning("message quarantined", device=device, message_id=outcome.message_id, error=error)
        self.bus.publish(MessageQuarantined(device, outcome.quarantine_id or 0, error))
