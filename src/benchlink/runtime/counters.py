"""Per-device counters and state, owned by the device's task and copied out as snapshots."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from benchlink.core.status import COUNTER_NAMES, DeviceSnapshot, DeviceState


@dataclass(slots=True)
class DeviceHealth:
    name: str
    driver: str
    transport: str
    state: DeviceState = DeviceState.DISABLED
    reason: str = ""
    peer: str = ""
    last_activity: float | None = None
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTER_NAMES, 0))
    #: Called after a state change or a notifying bump; it takes the snapshot itself, only if someone
    #: is listening (three snapshots a message add up with 200 busy analyzers).
    on_change: Callable[[], None] | None = None

    def snapshot(self) -> DeviceSnapshot:
        return DeviceSnapshot(
            name=self.name,
            driver=self.driver,
            transport=self.transport,
            state=self.state,
            reason=self.reason,
            counters=dict(self.counters),
            last_activity=self.last_activity,
            peer=self.peer,
        )

    def set_state(self, state: DeviceState, reason: str = "") -> None:
        if state == self.state and reason == self.reason:
            return
        self.state = state
        self.reason = reason
        self._changed()

    def bump(self, counter: str, amount: int = 1, *, notify: bool = False) -> None:
        self.counters[counter] = self.counters.get(counter, 0) + amount
        self.last_activity = time.time()
        if notify:
            self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()
