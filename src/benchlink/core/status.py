"""Device health as plain data, so the GUI, `benchlink status` and /metrics render one shape."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class DeviceState(enum.StrEnum):
    DISABLED = "disabled"
    CONNECTING = "connecting"
    LISTENING = "listening"
    CONNECTED = "connected"
    RECEIVING = "receiving"
    SENDING = "sending"
    ERROR = "error"
    STOPPED = "stopped"


COUNTER_NAMES: tuple[str, ...] = (
    "messages",
    "results",
    "errors",
    "naks",
    "retransmissions",
    "timeouts",
    "quarantined",
    "bytes_in",
    "bytes_out",
)


@dataclass(frozen=True, slots=True)
class DeviceSnapshot:
    """A point-in-time copy of one device's state; safe to hand to another thread."""

    name: str
    driver: str
    transport: str
    state: DeviceState
    reason: str = ""
    counters: dict[str, int] = field(default_factory=dict)
    last_activity: float | None = None
    peer: str = ""

    def as_json(self) -> dict[str, object]:
        """The status file's form. Hand-written rather than ``dataclasses.asdict``, whose deep copy
        cost ~20 µs a device: with 1,000 devices that stalled the event loop every second."""
        return {"name": self.name, "driver": self.driver, "transport": self.transport, "state": str(self.state),
                "reason": self.reason, "counters": dict(self.counters), "last_activity": self.last_activity,
                "peer": self.peer}
