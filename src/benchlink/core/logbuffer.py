"""The bounded in-memory log the Log panel renders (napari's _logging pattern).

Entries arrive already redacted by the logging pipeline; the buffer only bounds memory and
fans entries out to listeners.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class LogEntry:
    timestamp: str
    level: str
    event: str
    device: str = ""
    fields: dict[str, Any] = field(default_factory=dict)


class LogRing:
    """Thread-safe: structlog may log from the writer or serial reader threads."""

    def __init__(self, capacity: int = 5000) -> None:
        self._entries: deque[LogEntry] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._listeners: list[Callable[[LogEntry], None]] = []

    def append(self, entry: LogEntry) -> None:
        with self._lock:
            self._entries.append(entry)
            listeners = tuple(self._listeners)
        for listener in listeners:
            try:
                listener(entry)
            except Exception:  # noqa: BLE001 - a broken view must not break logging
                pass

    def entries(self) -> list[LogEntry]:
        with self._lock:
            return list(self._entries)

    def add_listener(self, listener: Callable[[LogEntry], None]) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


GLOBAL_LOG = LogRing()
