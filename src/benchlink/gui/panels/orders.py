"""The worklist: enter or import orders, and follow each one from pending to resulted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from benchlink.gui.models.table_model import Column, RowsModel
from benchlink.gui.queries import QueryRunner
from benchlink.gui.widgets import EmptyOr, empty_label, explain_permission, make_table

STATE_FILTERS: tuple[tuple[str, str | None], ...] = (
    ("All", None), ("Pending", "pending"), ("Sent", "sent"), ("Acknowledged", "acknowledged"),
    ("Resulted", "resulted"), ("Cancelled", "cancelled"),
)
PRIORITIES: tuple[tuple[str, str], ...] = (("Routine", "R"), ("ASAP", "A"), ("Stat", "S"))
STATE_HELP = {
    "pending": "entered; not yet given to an analyzer",
    "sent": "downloaded to the analyzer or given in a query answer",
    "acknowledged": "the analyzer accepted the message carrying it",
    "resulted": "a result for this sample and test arrived",
    "cancelled": "withdrawn",
}
STATE_COLOURS = {"pending": "#8a8f98", "sent": "#d99a1e", "acknowledged": "#2563a8", "resulted": "#2e9d4f"}
EMPTY_TEXT = ("No orders yet. Enter a sample ID and its tests above, or import a worklist CSV "
              "(columns: sample_id, tests, priority, patient_id, patient_name, device).")
ANY_DEVICE = "Any device"


def imported_text(name: str, report: Any) -> str:
    """Say what an import left out, so an order the operator expected is not silently missing."""
    text = f"Imported {len(report.ids)} order line(s) from {name}"
    if report.already_open:
        text += f"; {len(report.already_open)} already open, left out"
    if report.repeated:
        text += f"; {len(report.repeated)} repeated in the file, entered once"
    return text


class OrdersPanel(QWidget):
    def __init__(self, worklist: Any, runner: QueryRunner, devices: Callable[[], list[str]],
                 parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("ordersPanel")
        self.worklist = worklist
        self.runner = runner
        self._devices = devices
        self.model = RowsModel(
            (
                Column("id", "#", numeric=True),
                Column("sample_id", "Sample"),
                Column("test", "Test"),
                Column("priority", "Priority"),
                Column("patient_id", "Patient"),
                Column("device", "Device", lambda r: r.device or "any"),
                Column("state", "State", tooltip=lambda r: STATE_HELP.get(r.state)),
                Column("created_at", "Entered"),
                Column("sent_at", "Sent"),
            ),
            foreground=lambda r: QBrush(QColor(STATE_COLOURS[r.state])) if r.state in STATE_COLOURS else None,
            parent=self,
        )

        form_box = QGroupBox("New order", self)
        self.sample = QLineEdit(form_box)
        self.sample.setObjectName("orderSample")
        self.sample.setAccessibleName("Order sample ID")
        self.tests = QLineEdit(form_box)
        self.tests.setObjectName("orderTests")
        self.tests.setAccessibleName("Order tests")
        self.tests.setPlaceholderText("GLU, CREA, ALT")
        self.priority = QComboBox(form_box)
        self.priority.setAccessibleName("Order priority")
        for label, _ in PRIORITIES:
            self.priority.addItem(label)
        self.patient = QLineEdit(form_box)
        self.patient.setAccessibleName("Order patient ID")
        self.device = QComboBox(form_box)
        self.device.setAccessibleName("Order device")
        self.add_button = QPushButton("&Add order", form_box)
        self.add_button.setAccessibleName("Add order")
        self.add_button.clicked.connect(self.add_order)
        self.import_button = QPushButton("&Import CSV…", form_box)
        self.import_button.setAccessibleName("Import worklist CSV")
        self.import_button.clicked.connect(self.choose_import)
        self.form_error = QLabel("", form_box)
        self.form_error.setObjectName("orderError")
        self.form_error.setAccessibleName("Order entry problem")
        self.form_error.setStyleSheet("color: #d0342c;")
        self.form_error.setWordWrap(True)
        # Two compact rows: the order form must leave the worklist most of the panel.
        first = QHBoxLayout()
        for text, widget, stretch in (("&Sample", self.sample, 1), ("&Tests", self.tests, 2),
                                      ("Priorit&y", self.priority, 0)):
            caption = QLabel(text, form_box)
            caption.setBuddy(widget)
            first.addWidget(caption)
            first.addWidget(widget, stretch)
        second = QHBoxLayout()
        for text, widget in (("Patient", self.patient), ("Device", self.device)):
            caption = QLabel(text, form_box)
            caption.setBuddy(widget)
            second.addWidget(caption)
            second.addWidget(widget, 1)
        second.addWidget(self.add_button)
        second.addWidget(self.import_button)
        box_layout = QVBoxLayout(form_box)
        box_layout.setContentsMargins(6, 4, 6, 4)
        box_layout.addLayout(first)
        box_layout.addLayout(second)
        box_layout.addWidget(self.form_error)
        self.sample.returnPressed.connect(self.tests.setFocus)
        self.tests.returnPressed.connect(self.add_order)

        self.state = QComboBox(self)
        self.state.setObjectName("ordersState")
        self.state.setAccessibleName("Order state shown")
        for label, _ in STATE_FILTERS:
            self.state.addItem(label)
        self.state.currentIndexChanged.connect(lambda _i: self.refresh())
        self._last_action = ""
        self.summary = QLabel("", self)
        self.summary.setAccessibleName("Order count")
        state_label = QLabel("S&how", self)
        state_label.setBuddy(self.state)
        bar = QHBoxLayout()
        bar.addWidget(state_label)
        bar.addWidget(self.state)
        bar.addStretch(1)
        bar.addWidget(self.summary)

        self.table = make_table(self, "ordersTable", "Orders", self.model)
        for key, width in (("id", 50), ("sample_id", 110), ("test", 80), ("priority", 60), ("patient_id", 90),
                           ("device", 110), ("state", 100), ("created_at", 140)):
            self.table.horizontalHeader().resizeSection(self.model.column_of(key), width)
        self.stack = EmptyOr(self.table, empty_label(self, "ordersEmpty", EMPTY_TEXT, "Orders"), self)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(form_box)
        layout.addLayout(bar)
        layout.addWidget(self.stack, 1)

        # Order states move as analyzers query and send; a cheap poll keeps the view honest.
        self._poll = QTimer(self)
        self._poll.setInterval(5000)
        self._poll.timeout.connect(self._poll_if_visible)
        self._poll.start()
        self.sync_devices()

    def sync_devices(self) -> None:
        current = self.device.currentText()
        self.device.clear()
        self.device.addItem(ANY_DEVICE)
        self.device.addItems(self._devices())
        if current and self.device.findText(current) >= 0:
            self.device.setCurrentText(current)

    def set_editable(self, editable: bool) -> None:
        widgets = (self.add_button, self.import_button, self.sample, self.tests)
        for widget in widgets:
            widget.setEnabled(editable)
        explain_permission(widgets, editable,
                           "Entering orders needs the orders right: sign in with an account that has it.")

    def _poll_if_visible(self) -> None:
        if self.isVisible() and self.runner.pending == 0:
            self.refresh()

    def refresh(self) -> None:
        state = STATE_FILTERS[self.state.currentIndex()][1]
        worklist = self.worklist
        self.runner.submit(lambda: worklist.list(state=state, limit=1000), self._arrived,
                           lambda exc: self.summary.setText(f"Could not read orders ({type(exc).__name__})"))

    def _arrived(self, rows: list[Any]) -> None:
        if [(r.id, r.state) for r in rows] != [(r.id, r.state) for r in self.model.rows()]:
            self.model.set_rows(rows)
        count = f"{len(rows)} order line{'s' if len(rows) != 1 else ''}"
        count += " (newest 1000)" if len(rows) >= 1000 else ""
        # The last add/import's outcome stays beside the count: the refresh it triggers used to wipe it at once.
        self.summary.setText(f"{count} · {self._last_action}" if self._last_action else count)

    def add_order(self) -> None:
        sample = self.sample.text().strip()
        tests = [t.strip() for t in self.tests.text().replace(";", ",").split(",") if t.strip()]
        if not sample:
            self.form_error.setText("Enter the sample ID printed on the tube.")
            self.sample.setFocus()
            return
        if not tests:
            self.form_error.setText("Enter at least one test code, separated by commas.")
            self.tests.setFocus()
            return
        priority = PRIORITIES[self.priority.currentIndex()][1]
        patient = self.patient.text().strip()
        device = "" if self.device.currentText() == ANY_DEVICE else self.device.currentText()
        worklist = self.worklist
        self.form_error.setText("")
        self.runner.submit(
            lambda: worklist.add(sample, tests, priority=priority, patient_id=patient, device=device),
            lambda ids: self._added(f"Added {len(ids)} order line(s) for {sample}"),
            lambda exc: self.form_error.setText(str(exc)),
        )

    def _added(self, text: str) -> None:
        self.sample.clear()
        self.tests.clear()
        self.patient.clear()
        self._last_action = text
        self.summary.setText(text)
        self.sample.setFocus()
        self.refresh()

    def choose_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import worklist", "", "CSV files (*.csv);;All files (*)")
        if path:
            self.import_csv(Path(path))

    def import_csv(self, path: Path) -> None:
        worklist = self.worklist
        self.form_error.setText("")
        self.runner.submit(lambda: worklist.import_file(path),
                           lambda report: self._added(imported_text(path.name, report)),
                           lambda exc: self._import_failed(f"{path.name}: {exc}"))

    def _import_failed(self, text: str) -> None:
        # An import is all or nothing, so nothing from this file is in; refresh in case others added orders.
        self.form_error.setText(text)
        self.refresh()

    def focus_view(self) -> None:
        self.sample.setFocus(Qt.FocusReason.ShortcutFocusReason)
