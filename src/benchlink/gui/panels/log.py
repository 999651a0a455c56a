"""The live diagnostic log (PHI-redacted), filterable by level, device and text."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from benchlink.gui.models.log_model import COLUMN_KEYS, LEVELS, LogFilterProxy, LogModel

ALL_DEVICES = "All devices"


class LogPanel(QWidget):
    def __init__(self, model: LogModel, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("logPanel")
        self.model = model
        self.proxy = LogFilterProxy(self)
        self.proxy.setSourceModel(model)

        self.level = QComboBox(self)
        self.level.setObjectName("logLevel")
        self.level.setAccessibleName("Minimum log level")
        self.level.addItems([level.capitalize() for level in LEVELS])
        self.level.setCurrentIndex(LEVELS.index("info"))
        self.proxy.set_min_level("info")
        self.level.currentIndexChanged.connect(lambda i: self.proxy.set_min_level(LEVELS[i]))

        self.text = QLineEdit(self)
        self.text.setObjectName("logText")
        self.text.setPlaceholderText("Filter log text")
        self.text.setAccessibleName("Filter log text")
        self.text.setClearButtonEnabled(True)
        self.text.textChanged.connect(self.proxy.set_text)

        self.device = QComboBox(self)
        self.device.setObjectName("logDevice")
        self.device.setAccessibleName("Log device")
        self.device.addItem(ALL_DEVICES)
        self.device.currentTextChanged.connect(
            lambda text: self.proxy.set_device("" if text == ALL_DEVICES else text))
        model.rowsInserted.connect(self._learn_devices)
        model.modelReset.connect(self._learn_devices)

        self.follow = QCheckBox("Follow", self)
        self.follow.setAccessibleName("Scroll to newest log line")
        self.follow.setChecked(True)

        level_label = QLabel("&Level", self)
        level_label.setBuddy(self.level)
        bar = QHBoxLayout()
        bar.addWidget(level_label)
        bar.addWidget(self.level)
        bar.addWidget(self.device)
        bar.addWidget(self.text, 1)
        bar.addWidget(self.follow)

        self.table = QTableView(self)
        self.table.setObjectName("logTable")
        self.table.setAccessibleName("Log")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 4)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        for key, width in (("timestamp", 225), ("level", 70), ("device", 120), ("event", 220)):
            header.resizeSection(COLUMN_KEYS.index(key), width)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.table)

        self.proxy.rowsInserted.connect(self._follow)
        self._learn_devices()

    def set_devices(self, names: list[str]) -> None:
        for name in names:
            if name and self.device.findText(name) < 0:
                self.device.addItem(name)

    def _learn_devices(self, _parent: object = None, first: int | None = None, last: int | None = None) -> None:
        """Only the rows just inserted (at most the last 200) are looked at: this runs per batch."""
        count = self.model.rowCount()
        start = max(0, count - 200) if first is None else max(first, (last or 0) - 200)
        stop = count if last is None else last + 1
        seen = {entry.device for r in range(start, stop) if (entry := self.model.entry_at(r)) is not None}
        new = sorted(d for d in seen if d and self.device.findText(d) < 0)
        if new:
            self.set_devices(new)

    def focus_filter(self) -> None:
        self.text.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.text.selectAll()

    def focus_view(self) -> None:
        self.table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _follow(self, _parent: QModelIndex, _first: int, _last: int) -> None:
        if self.follow.isChecked():
            self.table.scrollToBottom()
