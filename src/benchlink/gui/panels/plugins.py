"""Which plugins run, which were disabled, and why: a vendor's first stop when a driver is missing."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget

from benchlink.gui.models.table_model import Column, RowsModel
from benchlink.gui.widgets import EmptyOr, empty_label, make_table, text_view

EMPTY_TEXT = "No plugins were found. Built-in drivers should always be listed; reinstall Benchlink."
_FAILED = QBrush(QColor("#d0342c"))


class PluginsPanel(QWidget):
    def __init__(self, plugins: Any, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("pluginsPanel")
        self.plugins = plugins
        self.model = RowsModel(
            (
                Column("name", "Plugin"),
                Column("version", "Version"),
                Column("state", "State"),
                Column("builtin", "Source", lambda r: "built-in" if r.builtin else "installed"),
                Column("provides", "Provides", lambda r: ", ".join(r.provides)),
                Column("error", "Error", lambda r: r.error.splitlines()[0] if r.error else "",
                       tooltip=lambda r: r.error or None),
            ),
            foreground=lambda r: _FAILED if r.state != "loaded" else None,
            parent=self,
        )
        self.table = make_table(self, "pluginsTable", "Plugins", self.model)
        # Provides is the column people read; Error is empty on a healthy install and takes what is left.
        for key, width in (("name", 170), ("version", 70), ("state", 90), ("builtin", 80), ("provides", 560)):
            self.table.horizontalHeader().resizeSection(self.model.column_of(key), width)
        self.stack = EmptyOr(self.table, empty_label(self, "pluginsEmpty", EMPTY_TEXT, "Plugins"), self)
        self.summary = QLabel("", self)
        self.summary.setObjectName("pluginsSummary")
        self.summary.setAccessibleName("Plugin summary")
        self.refresh_button = QPushButton("&Refresh", self)
        self.refresh_button.setAccessibleName("Refresh plugins")
        self.refresh_button.clicked.connect(self.refresh)
        self.detail = text_view(self, "pluginDetail", "Plugin error")
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.stack)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)  # without the detail's own factor the table got the smaller share
        bar = QHBoxLayout()
        bar.addWidget(self.summary, 1)
        bar.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        self.table.selectionModel().selectionChanged.connect(self._show_selected)
        self.refresh()

    def refresh(self) -> None:
        """The manager keeps its records in memory: no I/O, safe on the GUI thread."""
        records = list(self.plugins.records)
        self.model.set_rows(sorted(records, key=lambda r: (r.state == "loaded", not r.builtin, r.name)))
        loaded = sum(1 for r in records if r.state == "loaded")
        trouble = len(records) - loaded
        self.summary.setText(f"{loaded} loaded" + (f", {trouble} disabled or failed" if trouble else ""))

    def _show_selected(self, *_: Any) -> None:
        rows = self.table.selectionModel().selectedRows()
        record = self.model.row_at(rows[0].row()) if rows else None
        if record is None:
            self.detail.setPlainText("")
            return
        lines = [f"{record.name} {record.version} — {record.state}"]
        if record.api:
            lines.append(f"plugin API: {record.api}")
        if record.provides:
            lines.append("provides: " + ", ".join(record.provides))
        if record.error:
            lines += ["", record.error]
        self.detail.setPlainText("\n".join(lines))

    def focus_view(self) -> None:
        self.stack.focus()
