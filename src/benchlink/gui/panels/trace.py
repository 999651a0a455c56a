"""The communication trace: every chunk on every device's wire, with direction and timing.

Chunks come from the engine's TraceChunk events (already on the GUI thread, in batches). The
table is bounded (oldest chunks drop first) and can be paused, so a chatty line never grows
memory and the operator can read a frame while traffic continues. What arrives while paused is
held (as bounded as the table) and shown on resume: a trace with a silent gap misleads.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from benchlink.core.events import TraceChunk
from benchlink.gui.models.table_model import Column, RowsModel
from benchlink.gui.widgets import EmptyOr, empty_label, make_table
from benchlink.gui.wire_text import show_controls

ALL = "All devices"
EMPTY_TEXT = ("No traffic yet. Bytes appear here as soon as an analyzer connects and sends; "
              "<ENQ>, <STX> and <ACK> show the link conversation.")


@dataclass(frozen=True, slots=True)
class TraceLine:
    at: float
    device: str
    direction: str
    gap: float | None  # seconds since the previous chunk on the same device
    data: bytes

    @property
    def text(self) -> str:
        return show_controls(self.data, limit=4096)


def _time(line: TraceLine) -> str:
    return datetime.fromtimestamp(line.at).strftime("%H:%M:%S.%f")[:-3]


def _gap(line: TraceLine) -> str:
    return "" if line.gap is None else f"+{line.gap * 1000:.0f} ms"


def _direction(line: TraceLine) -> str:
    return "→ out" if line.direction == "out" else "← in"


_OUT = QBrush(QColor("#2563a8"))


class TraceModel(RowsModel):
    def __init__(self, capacity: int = 5000, parent: Any = None) -> None:
        super().__init__(
            (
                Column("at", "Time", _time),
                Column("device", "Device"),
                Column("direction", "Dir", _direction),
                Column("gap", "Gap", _gap, numeric=True),
                Column("bytes", "Bytes", lambda line: str(len(line.data)), numeric=True),
                Column("text", "Data", lambda line: line.text,
                       tooltip=lambda line: show_controls(line.data, limit=4096, line_breaks=True)),
            ),
            capacity=capacity,
            foreground=lambda line: _OUT if line.direction == "out" else None,
            parent=parent,
        )
        self._last: dict[str, float] = {}
        self.paused = False
        self._held: deque[TraceLine] = deque(maxlen=capacity)
        self.devices: set[str] = set()

    def add_chunks(self, chunks: Iterable[TraceChunk]) -> None:
        lines = []
        for chunk in chunks:
            previous = self._last.get(chunk.device)
            self._last[chunk.device] = chunk.at
            self.devices.add(chunk.device)
            lines.append(TraceLine(chunk.at, chunk.device, chunk.direction,
                                   None if previous is None else max(0.0, chunk.at - previous), chunk.data))
        if self.paused:
            self._held.extend(lines)
        else:
            self.append_rows(lines)

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if not paused and self._held:
            held = list(self._held)
            self._held.clear()
            self.append_rows(held)


class TraceFilter(QSortFilterProxyModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._device = ""

    def set_device(self, device: str) -> None:
        self.beginFilterChange()
        self._device = device
        self.endFilterChange()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if not self._device:
            return True
        model = self.sourceModel()
        line = model.row_at(source_row) if isinstance(model, TraceModel) else None
        return line is not None and line.device == self._device


class TracePanel(QWidget):
    def __init__(self, model: TraceModel, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("tracePanel")
        self.model = model
        self.proxy = TraceFilter(self)
        self.proxy.setSourceModel(model)

        self.device = QComboBox(self)
        self.device.setObjectName("traceDevice")
        self.device.setAccessibleName("Trace device")
        self.device.addItem(ALL)
        self.device.currentTextChanged.connect(lambda text: self.proxy.set_device("" if text == ALL else text))
        device_label = QLabel("De&vice", self)
        device_label.setBuddy(self.device)
        self.pause = QCheckBox("&Pause", self)
        self.pause.setAccessibleName("Pause the trace")
        self.pause.toggled.connect(self._set_paused)
        self.follow = QCheckBox("Follow", self)
        self.follow.setAccessibleName("Scroll to newest trace line")
        self.follow.setChecked(True)
        self.clear_button = QPushButton("Clear", self)
        self.clear_button.setAccessibleName("Clear the trace")
        self.clear_button.clicked.connect(model.clear)

        bar = QHBoxLayout()
        bar.addWidget(device_label)
        bar.addWidget(self.device, 1)
        bar.addWidget(self.pause)
        bar.addWidget(self.follow)
        bar.addWidget(self.clear_button)

        self.table = make_table(self, "traceTable", "Communication trace", self.proxy)
        header = self.table.horizontalHeader()
        for key, width in (("at", 100), ("device", 120), ("direction", 55), ("gap", 80), ("bytes", 55)):
            header.resizeSection(model.column_of(key), width)
        self.hint = empty_label(self, "traceEmpty", EMPTY_TEXT, "Communication trace")
        self.stack = EmptyOr(self.table, self.hint, self)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.stack, 1)
        self.proxy.rowsInserted.connect(self._on_rows)

    def add_chunks(self, chunks: list[TraceChunk]) -> None:
        self.model.add_chunks(chunks)
        for name in sorted(self.model.devices):
            if self.device.findText(name) < 0:
                self.device.addItem(name)

    def _set_paused(self, paused: bool) -> None:
        self.model.set_paused(paused)

    def _on_rows(self, *_: Any) -> None:
        if self.follow.isChecked():
            self.table.scrollToBottom()

    def focus_view(self) -> None:
        self.stack.focus()
