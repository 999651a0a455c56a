"""Messages that could not be decoded: their error and bytes, and what the operator may do.

Retry replays the stored bytes through the device's (possibly fixed or upgraded) driver;
dismiss closes the entry. Both are audited under the operator's name; nothing is deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from benchlink.gui.models.table_model import Column, RowsModel
from benchlink.gui.queries import QueryRunner
from benchlink.gui.widgets import EmptyOr, empty_label, explain_permission, make_table, text_view
from benchlink.gui.wire_text import hex_dump, show_controls

STATES: tuple[tuple[str, str | None], ...] = (("Open", "open"), ("Retried", "retried"),
                                               ("Dismissed", "dismissed"), ("All", None))
EMPTY_TEXT = ("Nothing in quarantine. A message an analyzer sends that cannot be decoded lands here "
              "with its bytes and the error, so it is never lost.")

_OPEN = QBrush(QColor(208, 52, 44, 40))


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


class QuarantinePanel(QWidget):
    """`retry(row) -> str` runs on the query thread and returns what happened, for the status."""

    changed = Signal(str)

    def __init__(
        self,
        store: Any,
        runner: QueryRunner,
        *,
        actor: Callable[[], str],
        retry: Callable[[Any, str], str] | None,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("quarantinePanel")
        self.store = store
        self.runner = runner
        self._actor = actor
        self._retry = retry
        self.model = RowsModel(
            (
                Column("id", "#", numeric=True),
                Column("device", "Device"),
                Column("received_at", "Received"),
                Column("state", "State"),
                Column("size", "Bytes", lambda r: str(len(r.data)), numeric=True),
                Column("error", "Error", lambda r: _first_line(r.error), tooltip=lambda r: r.error),
            ),
            background=lambda r: _OPEN if r.state == "open" else None,
            parent=self,
        )
        self.state = QComboBox(self)
        self.state.setObjectName("quarantineState")
        self.state.setAccessibleName("Quarantine state shown")
        for label, _ in STATES:
            self.state.addItem(label)
        self.state.currentIndexChanged.connect(lambda _i: self.refresh())
        state_label = QLabel("&Show", self)
        state_label.setBuddy(self.state)
        self.refresh_button = QPushButton("&Refresh", self)
        self.refresh_button.setAccessibleName("Refresh quarantine")
        self.refresh_button.clicked.connect(self.refresh)
        self.retry_button = QPushButton("Re&try", self)
        self.retry_button.setAccessibleName("Retry decoding the selected message")
        self.retry_button.setToolTip("Decode the stored bytes again with the device's current driver and mapping")
        self.retry_button.clicked.connect(self.retry_selected)
        self.dismiss_button = QPushButton("Dis&miss", self)
        self.dismiss_button.setAccessibleName("Dismiss the selected message")
        self.dismiss_button.setToolTip("Close this entry (audited under your name); the bytes are kept")
        self.dismiss_button.clicked.connect(self.dismiss_selected)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)  # a long decode error must wrap, not widen the whole window
        self.status.setObjectName("quarantineStatus")
        self.status.setAccessibleName("Quarantine status")

        bar = QHBoxLayout()
        bar.addWidget(state_label)
        bar.addWidget(self.state)
        bar.addWidget(self.refresh_button)
        bar.addStretch(1)
        bar.addWidget(self.retry_button)
        bar.addWidget(self.dismiss_button)

        self.table = make_table(self, "quarantineTable", "Quarantined messages", self.model)
        for key, width in (("id", 50), ("device", 120), ("received_at", 150), ("state", 80), ("size", 60)):
            self.table.horizontalHeader().resizeSection(self.model.column_of(key), width)
        self.stack = EmptyOr(self.table, empty_label(self, "quarantineEmpty", EMPTY_TEXT, "Quarantine"), self)

        self.error_view = text_view(self, "quarantineError", "Decode error")
        self.error_view.setLineWrapMode(self.error_view.LineWrapMode.WidgetWidth)
        self.bytes_view = text_view(self, "quarantineBytes", "Quarantined bytes")
        self.hex_view = text_view(self, "quarantineHex", "Quarantined bytes in hex")
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.error_view, "&Error")
        self.tabs.addTab(self.bytes_view, "&Bytes")
        self.tabs.addTab(self.hex_view, "&Hex")

        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.stack)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        layout.addWidget(self.status)
        self.table.selectionModel().selectionChanged.connect(self._show_selected)
        self.model.modelReset.connect(self._show_selected)
        self.set_editable(True)

    # -- reading -------------------------------------------------------------------------
    def refresh(self) -> None:
        state = STATES[self.state.currentIndex()][1]
        store = self.store
        self.runner.submit(lambda: store.quarantine_list(state, limit=1000), self._arrived,
                           lambda exc: self.status.setText(f"Could not read the quarantine ({type(exc).__name__})"))

    def _arrived(self, rows: list[Any]) -> None:
        selected = self.selected()
        self.model.set_rows(rows)
        if selected is not None:
            self.select(selected.id)
        elif rows:
            self.table.selectRow(0)

    def selected(self) -> Any | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def select(self, quarantine_id: int) -> None:
        for index, row in enumerate(self.model.rows()):
            if row.id == quarantine_id:
                self.table.selectRow(index)
                return

    def _show_selected(self, *_: Any) -> None:
        row = self.selected()
        if row is None:
            self.error_view.setPlainText("")
            self.bytes_view.setPlainText("")
            self.hex_view.setPlainText("")
        else:
            self.error_view.setPlainText(row.error)
            self.bytes_view.setPlainText(show_controls(row.data, line_breaks=True))
            self.hex_view.setPlainText(hex_dump(row.data))
        self._sync_buttons()

    def set_editable(self, editable: bool) -> None:
        self._editable = editable
        explain_permission((self.retry_button, self.dismiss_button), editable,
                           "Retrying or dismissing needs the quarantine right: sign in with an account that has it.")
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        row = self.selected()
        actionable = self._editable and row is not None and row.state == "open"
        self.retry_button.setEnabled(actionable and self._retry is not None)
        self.dismiss_button.setEnabled(actionable)

    # -- commands ------------------------------------------------------------------------
    def dismiss_selected(self) -> None:
        row = self.selected()
        if row is None:
            return
        store, actor, qid = self.store, self._actor(), row.id
        self.runner.submit(lambda: store.set_quarantine_state(qid, "dismissed", actor=actor),
                           lambda _none: self._done(f"Quarantined message #{qid} dismissed"),
                           lambda exc: self._done(f"Could not dismiss #{qid}: {exc}"))

    def retry_selected(self) -> None:
        row, retry = self.selected(), self._retry
        if row is None or retry is None:
            return
        actor = self._actor()
        self.runner.submit(lambda: retry(row, actor), self._done,
                           lambda exc: self._done(f"Retry of #{row.id} failed: {exc}"))

    def _done(self, text: str) -> None:
        self.status.setText(text)
        self.changed.emit(text)
        self.refresh()

    def focus_view(self) -> None:
        self.stack.focus()
