"""The live diagnostic log: a bounded table fed by GLOBAL_LOG plus a level/text filter.

LogRing listeners may fire on any thread (the DB writer, serial readers), while Qt models
may only change on the GUI thread. LogFeed queues entries and wakes the GUI thread with a
queued signal, then inserts whatever arrived within LOG_BATCH_MS at once; a burst of thousands
of lines becomes one batched insert and one repaint.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor

from benchlink.core.logbuffer import LogEntry, LogRing
from benchlink.core.redaction import redact_mapping, scrub_text
from benchlink.gui.formatting import level_rank
from benchlink.gui.models.table_model import KeyedRowsModel

Index = QModelIndex | QPersistentModelIndex

COLUMNS: tuple[tuple[str, str], ...] = (
    ("timestamp", "Time"),
    ("level", "Level"),
    ("device", "Device"),
    ("event", "Event"),
    ("fields", "Details"),
)
COLUMN_KEYS: tuple[str, ...] = tuple(key for key, _ in COLUMNS)
LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error", "critical")

_LEVEL_COLOURS = {"warning": QColor("#b86e00"), "error": QColor("#d0342c"), "critical": QColor("#d0342c")}


def short_timestamp(stamp: str) -> str:
    """ISO stamps to 'YYYY-MM-DD HH:MM:SS.mmm': the panel is read by people, not parsers."""
    text = stamp.replace("T", " ", 1)
    dot = text.find(".")
    if dot != -1:
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        text = text[: min(end, dot + 4)] + text[end:]
    return text


def redacted(entry: LogEntry) -> LogEntry:
    """A second PHI screen at the glass: the pipeline redacts, but a line appended to the ring by
    any other path (a plugin's own handler) must not show a patient either."""
    return LogEntry(entry.timestamp, entry.level, scrub_text(entry.event), entry.device,
                    redact_mapping(entry.fields))


def format_fields(fields: dict[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in fields.items())


class LogModel(KeyedRowsModel):
    columns_spec = COLUMNS

    def __init__(self, capacity: int = 2000, parent: Any = None) -> None:
        super().__init__(parent)
        self.capacity = capacity
        self._rows: deque[LogEntry] = deque()

    def append_entries(self, entries: Iterable[LogEntry]) -> None:
        batch = [redacted(entry) for entry in list(entries)[-self.capacity :]]
        if not batch:
            return
        overflow = len(self._rows) + len(batch) - self.capacity
        if overflow > 0:
            # Oldest lines go first so memory stays bounded however chatty a device is.
            self.beginRemoveRows(QModelIndex(), 0, overflow - 1)
            for _ in range(overflow):
                self._rows.popleft()
            self.endRemoveRows()
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(batch) - 1)
        self._rows.extend(batch)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows.clear()
        self.endResetModel()

    def entry_at(self, row: int) -> LogEntry | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        entry = self._rows[index.row()]
        key = COLUMN_KEYS[index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if key == "fields":
                return format_fields(entry.fields)
            if key == "timestamp" and role == Qt.ItemDataRole.DisplayRole:
                return short_timestamp(entry.timestamp)
            return str(getattr(entry, key))
        if role == Qt.ItemDataRole.ForegroundRole:
            colour = _LEVEL_COLOURS.get(entry.level.lower())
            return QBrush(colour) if colour is not None else None
        if role == Qt.ItemDataRole.UserRole:
            return entry
        return None


class LogFilterProxy(QSortFilterProxyModel):
    """Shows entries at or above a level whose text contains a needle (case-insensitive)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._min_rank = level_rank("debug")
        self._needle = ""
        self._device = ""

    def set_device(self, device: str) -> None:
        """'' shows every device (and lines that name none)."""
        self.beginFilterChange()
        self._device = device
        self.endFilterChange()

    def set_min_level(self, level: str) -> None:
        self.beginFilterChange()
        self._min_rank = level_rank(level)
        self.endFilterChange()

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self._needle = text.strip().lower()
        self.endFilterChange()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        entry = model.entry_at(source_row) if isinstance(model, LogModel) else None
        if entry is None:
            return False
        if level_rank(entry.level) < self._min_rank:
            return False
        if self._device and entry.device != self._device:
            return False
        if not self._needle:
            return True
        haystack = f"{entry.event} {entry.device} {format_fields(entry.fields)}".lower()
        return self._needle in haystack


#: Lines are shown at most this often: under ingest every message logs several lines, and one
#: insert + repaint per line kept the GUI thread (and the GIL) busy enough to stall it.
LOG_BATCH_MS = 100


class LogFeed(QObject):
    """Bridges LogRing (any thread) to LogModel (GUI thread), in batches of up to LOG_BATCH_MS."""

    _wake = Signal()

    def __init__(self, ring: LogRing, model: LogModel, parent: Any = None, batch_ms: int = LOG_BATCH_MS) -> None:
        super().__init__(parent)
        self._model = model
        self._pending: deque[LogEntry] = deque(maxlen=model.capacity)
        self._lock = threading.Lock()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(batch_ms)
        self._timer.timeout.connect(self._drain)
        # Queued even when emitted on the GUI thread: a log line emitted while the model is
        # mid-update must not re-enter it.
        self._wake.connect(self._schedule, Qt.ConnectionType.QueuedConnection)
        # Listen first, then copy the backlog, then drop backlog lines the listener also saw:
        # no line is lost or shown twice when another thread logs during start-up.
        self._remove = ring.add_listener(self._on_entry)
        backlog = ring.entries()
        seen = {id(entry) for entry in backlog}
        with self._lock:
            kept = [entry for entry in self._pending if id(entry) not in seen]
            self._pending.clear()
            self._pending.extend(kept)
        model.append_entries(backlog)

    def _on_entry(self, entry: LogEntry) -> None:
        with self._lock:
            was_empty = not self._pending
            self._pending.append(entry)
        if was_empty:
            self._wake.emit()

    def _schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _drain(self) -> None:
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
        self._model.append_entries(batch)

    def close(self) -> None:
        self._remove()
        self._timer.stop()
