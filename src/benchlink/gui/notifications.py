"""Tray notices for what needs a person: a device in error, a message quarantined.

Where the desktop has no tray (a kiosk session, the offscreen platform in tests) the notice
still reaches the status bar and the history. Repeats for the same device are throttled so a
flapping link does not bury the operator in pop-ups.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QSystemTrayIcon

from benchlink.core.status import DeviceSnapshot, DeviceState


@dataclass(frozen=True, slots=True)
class Notice:
    at: float
    kind: str  # "device-error" | "quarantine"
    device: str
    title: str
    text: str


class Notifier(QObject):
    shown = Signal(object)  # Notice

    def __init__(self, icon: QIcon, *, throttle_s: float = 30.0, clock: Callable[[], float] = time.monotonic,
                 parent: Any = None) -> None:
        super().__init__(parent)
        self.history: deque[Notice] = deque(maxlen=200)
        self._throttle = throttle_s
        self._clock = clock
        self._last: dict[tuple[str, str], float] = {}
        self._states: dict[str, DeviceState] = {}
        self.tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(icon, self)
            self.tray.setToolTip("Benchlink")
            self.tray.show()

    def device_changed(self, snapshot: DeviceSnapshot) -> None:
        """Only the transition into ERROR notifies; staying in error does not repeat it."""
        previous = self._states.get(snapshot.name)
        self._states[snapshot.name] = snapshot.state
        if snapshot.state == DeviceState.ERROR and previous != DeviceState.ERROR:
            reason = f": {snapshot.reason}" if snapshot.reason else ""
            self.notify("device-error", snapshot.name, f"{snapshot.name} needs attention",
                        f"The link to {snapshot.name} is in error{reason}.")

    def quarantined(self, device: str, quarantine_id: int) -> None:
        # The decode error can quote message bytes (PHI): the notice names the device and the id only.
        self.notify("quarantine", device, f"Message from {device} quarantined",
                    f"A message from {device} could not be decoded (#{quarantine_id}). "
                    "Open the Quarantine panel to retry or dismiss it.")

    def notify(self, kind: str, device: str, title: str, text: str) -> bool:
        now = self._clock()
        last = self._last.get((kind, device))
        if last is not None and now - last < self._throttle:
            return False
        self._last[(kind, device)] = now
        notice = Notice(time.time(), kind, device, title, text)
        self.history.append(notice)
        if self.tray is not None:
            icon = (QSystemTrayIcon.MessageIcon.Critical if kind == "device-error"
                    else QSystemTrayIcon.MessageIcon.Warning)
            self.tray.showMessage(title, text, icon, 10_000)
        self.shown.emit(notice)
        return True

    def close(self) -> None:
        if self.tray is not None:
            self.tray.hide()
