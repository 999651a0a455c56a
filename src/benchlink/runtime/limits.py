"""Limits at the network edge: what a hostile or broken peer may cost us before it is cut off.

Every limit ends the same way: a clear log entry naming the peer and the limit, a dropped
connection, and memory that never grew past the bound. The device keeps listening, so the
real analyzer is served as soon as it connects.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class EdgeLimits:
    #: largest single frame (ASTM) accepted before it is cut off
    max_frame_bytes: int = 64 * 1024
    #: largest complete message (ASTM or HL7)
    max_message_bytes: int = 4 * 1024 * 1024
    #: records (ASTM) or segments (HL7) in one message; more goes to quarantine
    max_records: int = 20_000
    #: bytes outside any frame tolerated per connection before it is dropped
    max_noise_bytes: int = 64 * 1024
    #: consecutive rejected (NAKed) frames before the connection is dropped
    max_rejected_frames: int = 20
    #: seconds bytes may trickle in without completing a frame or message (slowloris), 0 = off
    progress_timeout: float = 60.0
    #: seconds a connection may stay completely silent, 0 = off (many analyzers idle for hours)
    idle_timeout: float = 0.0
    #: new connections accepted per device and peer address per minute; more are closed at once
    max_connections_per_minute: int = 60
    #: a new connection replaces the current one when that has made no progress for this long
    supersede_after: float = 60.0


def parse_limits(raw: dict[str, Any], where: str) -> EdgeLimits:
    from benchlink.runtime.settings import ConfigError

    known = {f.name: f for f in fields(EdgeLimits)}
    unknown = set(raw) - set(known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known keys are {sorted(known)}")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{where}.{key} = {value!r}: use a number >= 0")
        values[key] = type(getattr(EdgeLimits(), key))(value)
    return EdgeLimits(**values)


class DropConnection(Exception):
    """Raised inside a session when the peer crossed a limit; the reason is logged."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RateLimiter:
    """Sliding one-minute window of accepted connections."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._times: deque[float] = deque()

    def allow(self, now: float | None = None) -> bool:
        if self.per_minute <= 0:
            return True
        now = time.monotonic() if now is None else now
        while self._times and now - self._times[0] > 60.0:
            self._times.popleft()
        if len(self._times) >= self.per_minute:
            return False
        self._times.append(now)
        return True
