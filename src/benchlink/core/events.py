"""A tiny synchronous publish/subscribe hub.

The engine publishes; the GUI, exporters and metrics subscribe. Subscribers run on the
publisher's thread (the asyncio loop), so they must be quick; a subscriber that raises is
reported and skipped so it cannot stall a device (guarantee 7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchlink.core.status import DeviceSnapshot


@dataclass(frozen=True, slots=True)
class ResultsStored:
    device: str
    message_id: int
    result_count: int


@dataclass(frozen=True, slots=True)
class DeviceChanged:
    snapshot: DeviceSnapshot


@dataclass(frozen=True, slots=True)
class MessageQuarantined:
    device: str
    quarantine_id: int
    error: str


@dataclass(frozen=True, slots=True)
class TraceChunk:
    """Bytes seen on a device's wire, for the communication trace view."""

    device: str
    direction: str  # "in" | "out"
    at: float
    data: bytes


Event = ResultsStored | DeviceChanged | MessageQuarantined | TraceChunk
Subscriber = Callable[[Any], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self.failures: int = 0

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    @property
    def listened(self) -> bool:
        """Whether anyone subscribes; publishers of per-frame events skip building them when not
        (a headless ``serve`` with 200 analyzers would otherwise make ~20 trace events a message)."""
        return bool(self._subscribers)

    def publish(self, event: Event) -> None:
        for callback in tuple(self._subscribers):
            try:
                callback(event)
            except Exception:  # noqa: BLE001 - a broken subscriber must not break ingestion
                self.failures += 1
