"""Results as they arrive, newest first: a filter bar that re-queries as you type, and a
detail pane with the stored raw message (control characters shown) and its link trace."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from benchlink.gui.date_range import DateRangeEdit
from benchlink.gui.formatting import display_value, plural
from benchlink.gui.models.results_model import COLUMN_KEYS, ResultsModel, is_unmapped
from benchlink.gui.queries import QueryRunner
from benchlink.gui.widgets import empty_label, make_table, text_view
from benchlink.gui.wire_text import hex_dump, show_controls

# (filter keyword, placeholder, accessible name)
FILTER_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("sample_id", "Sample", "Filter by sample ID"),
    ("patient_id", "Patient", "Filter by patient ID"),
    ("test", "Test", "Filter by test code"),
    ("flag", "Flag", "Filter by abnormal flag"),
)
ANY_DEVICE = "Any device"
STATUS_CHOICES: tuple[tuple[str, str | None], ...] = (
    ("Any status", None), ("Final (F)", "F"), ("Preliminary (P)", "P"), ("Corrected (C)", "C"), ("Cancelled (X)", "X"),
)
EXPORT_CHOICES: tuple[tuple[str, bool | None], ...] = (
    ("Exported or not", None), ("Not yet exported", False), ("Already exported", True),
)
EMPTY_TEXT = ("No results yet. They appear here, newest first, as soon as a connected analyzer "
              "sends them. Check the Devices panel: a green light means the link is up.")
EMPTY_FILTERED = "No results match these filters. Clear a filter (Esc in a field) to widen the search."

DEBOUNCE_MS = 300


class ResultsPanel(QWidget):
    """`make_filter(**values)` builds the store's filter object from the set fields."""

    map_requested = Signal(str, str)  # device, instrument code

    def __init__(
        self,
        model: ResultsModel,
        make_filter: Callable[..., Any],
        runner: QueryRunner | None = None,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("resultsPanel")
        self.model = model
        self.runner = runner
        self._make_filter = make_filter
        self._detail_generation = 0

        self.filters: dict[str, QLineEdit] = {}
        # Two rows, so the panel still fits a 1024-pixel-wide lab PC beside other docks.
        bar = QHBoxLayout()
        bar.setSpacing(4)
        bar2 = QHBoxLayout()
        bar2.setSpacing(4)
        self.dates = DateRangeEdit("results", self)
        self.dates.changed.connect(self._schedule_query)
        bar2.addWidget(self.dates)
        self.device = QComboBox(self)
        self.device.setObjectName("filter_device")
        self.device.setAccessibleName("Filter by device")
        self.device.addItem(ANY_DEVICE)
        self.device.currentTextChanged.connect(self._schedule_query)
        bar2.addWidget(self.device)
        for key, placeholder, accessible in FILTER_FIELDS:
            edit = QLineEdit(self)
            edit.setObjectName(f"filter_{key}")
            edit.setPlaceholderText(placeholder)
            edit.setAccessibleName(accessible)
            edit.setToolTip(accessible + " (exact match)")
            edit.setClearButtonEnabled(True)
            edit.setMinimumWidth(60)
            edit.textChanged.connect(self._schedule_query)
            # Esc clears the field, as the empty-table hint promises.
            clear = QAction(edit)
            clear.setShortcut(QKeySequence(Qt.Key.Key_Escape))
            clear.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            clear.triggered.connect(edit.clear)
            edit.addAction(clear)
            bar.addWidget(edit, 1)
            self.filters[key] = edit
        self.status = QComboBox(self)
        self.status.setObjectName("filter_status")
        self.status.setAccessibleName("Filter by result status")
        for label, _ in STATUS_CHOICES:
            self.status.addItem(label)
        self.status.currentIndexChanged.connect(self._schedule_query)
        self.exported = QComboBox(self)
        self.exported.setObjectName("filter_exported")
        self.exported.setAccessibleName("Filter by export state")
        for label, _ in EXPORT_CHOICES:
            self.exported.addItem(label)
        self.exported.currentIndexChanged.connect(self._schedule_query)
        bar2.addWidget(self.status)
        bar2.addWidget(self.exported)
        bar2.addStretch(1)
        self.summary = QLabel("", self)
        self.summary.setObjectName("resultsSummary")
        self.summary.setAccessibleName("Result count")
        self.summary.setMinimumWidth(130)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        bar2.addWidget(self.summary)

        self.table = make_table(self, "resultsTable", "Results", model)
        self.table.setSelectionMode(self.table.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for key, width in (("sample_id", 110), ("patient_id", 90), ("device", 120), ("instrument_code", 110),
                           ("lis_code", 80), ("test_name", 150), ("value", 80), ("units", 70), ("flags", 50),
                           ("status", 55), ("observed_at", 140)):
            header.resizeSection(COLUMN_KEYS.index(key), width)
        self.hint = empty_label(self, "resultsEmpty", EMPTY_TEXT, "Results")
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.hint)
        self.stack.addWidget(self.table)
        for signal in (model.modelReset, model.rowsInserted, model.rowsRemoved):
            signal.connect(self._sync_empty)
        model.loading_changed.connect(self._sync_empty)

        # -- detail pane
        detail = QWidget(self)
        self.detail_title = QLabel("Select a result to see the message it came in.", detail)
        self.detail_title.setObjectName("resultDetailTitle")
        self.detail_title.setAccessibleName("Selected result")
        self.detail_title.setWordWrap(True)
        self.map_button = QPushButton("&Map this code…", detail)
        self.map_button.setAccessibleName("Add a mapping for this instrument code")
        self.map_button.setToolTip("Open the Mapping panel with this device and instrument code filled in")
        self.map_button.setVisible(False)
        self.map_button.clicked.connect(self._map_selected)
        title_row = QHBoxLayout()
        title_row.addWidget(self.detail_title, 1)
        title_row.addWidget(self.map_button)
        self.fields_view = QLabel("", detail)
        self.fields_view.setObjectName("resultFields")
        self.fields_view.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fields_view.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.fields_view.setWordWrap(True)
        self.raw_view = text_view(detail, "resultRaw", "Raw message")
        self.hex_view = text_view(detail, "resultHex", "Raw message in hex")
        self.trace_view = text_view(detail, "resultTrace", "Message trace")
        self.detail_tabs = QTabWidget(detail)
        self.detail_tabs.setObjectName("resultDetailTabs")
        self.detail_tabs.addTab(self.fields_view, "Result")
        self.detail_tabs.addTab(self.raw_view, "Raw message")
        self.detail_tabs.addTab(self.hex_view, "Hex")
        self.detail_tabs.addTab(self.trace_view, "Trace")
        detail_layout = QVBoxLayout(detail)
        detail_layout.setContentsMargins(0, 0, 0, 0)
        detail_layout.addLayout(title_row)
        detail_layout.addWidget(self.detail_tabs)

        self.split = QSplitter(Qt.Orientation.Horizontal, self)
        self.split.setObjectName("resultsSplit")
        self.split.addWidget(self.stack)
        self.split.addWidget(detail)
        self.split.setStretchFactor(0, 3)
        self.split.setStretchFactor(1, 1)
        self.split.setSizes([900, 330])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addLayout(bar2)
        layout.addWidget(self.split, 1)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.apply_filter)

        model.total_changed.connect(self._show_total)
        model.query_failed.connect(self.summary.setText)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        model.modelReset.connect(self._selection_changed)
        self._sync_empty()

    # -- filters -------------------------------------------------------------------------
    def filter_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {key: edit.text().strip() for key, edit in self.filters.items()
                                  if edit.text().strip()}
        if self.device.currentText() not in ("", ANY_DEVICE):
            values["device"] = self.device.currentText()
        since, until = self.dates.value()
        if since is not None:
            values["since"] = since
        if until is not None:
            values["until"] = until
        status = STATUS_CHOICES[self.status.currentIndex()][1]
        if status is not None:
            values["status"] = status
        exported = EXPORT_CHOICES[self.exported.currentIndex()][1]
        if exported is not None:
            values["exported"] = exported
        return values

    def current_filter(self) -> Any:
        return self._make_filter(**self.filter_values())

    def apply_filter(self) -> None:
        self._debounce.stop()
        self.model.set_filter(self.current_filter())

    def set_devices(self, names: list[str]) -> None:
        for name in names:
            if self.device.findText(name) < 0:
                self.device.addItem(name)

    def save_state(self) -> dict[str, str]:
        state = {key: edit.text() for key, edit in self.filters.items()}
        state.update(dates=self.dates.state(), device=self.device.currentText(),
                     status=str(self.status.currentIndex()), exported=str(self.exported.currentIndex()),
                     split=",".join(str(s) for s in self.split.sizes()))
        return state

    def restore_state(self, state: dict[str, Any]) -> None:
        """Last session's filters come back; unknown or damaged values are ignored."""
        widgets: list[QWidget] = [*self.filters.values(), self.dates, self.device, self.status, self.exported]
        for widget in widgets:
            widget.blockSignals(True)
        try:
            for key, edit in self.filters.items():
                edit.setText(str(state.get(key, "") or ""))
            if state.get("dates"):
                self.dates.restore(str(state["dates"]))
            device = str(state.get("device", "") or "")
            if device and device != ANY_DEVICE:
                self.set_devices([device])
                self.device.setCurrentText(device)
            for combo, key, size in ((self.status, "status", len(STATUS_CHOICES)),
                                     (self.exported, "exported", len(EXPORT_CHOICES))):
                text = str(state.get(key, "0"))
                if text.isdigit() and int(text) < size:
                    combo.setCurrentIndex(int(text))
            sizes = [int(s) for s in str(state.get("split", "")).split(",") if s.isdigit()]
            if len(sizes) == 2 and all(sizes):
                self.split.setSizes(sizes)
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        # The date range's own children were not blocked: re-sync visibility from its preset.
        self.dates.restore(self.dates.state())

    def clear_filters(self) -> None:
        for edit in self.filters.values():
            edit.clear()
        self.device.setCurrentIndex(0)
        self.status.setCurrentIndex(0)
        self.exported.setCurrentIndex(0)
        self.dates.preset.setCurrentIndex(0)
        self.apply_filter()

    def focus_filter(self) -> None:
        edit = self.filters["sample_id"]
        edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        edit.selectAll()

    def focus_view(self) -> None:
        target = self.table if self.stack.currentWidget() is self.table else self.hint
        target.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _schedule_query(self, *_: Any) -> None:
        self._debounce.start()

    def _show_total(self, total: int) -> None:
        suffix = " (filtered)" if self.filter_values() else ""
        self.summary.setText(plural(total, "result") + suffix)
        self._sync_empty()

    def _sync_empty(self, *_: Any) -> None:
        has_rows = self.model.rowCount() > 0
        if not has_rows and not self.model.is_loading:
            self.hint.setText(EMPTY_FILTERED if self.filter_values() else EMPTY_TEXT)
        self.stack.setCurrentWidget(self.table if has_rows or self.model.is_loading else self.hint)

    # -- detail --------------------------------------------------------------------------
    def selected_row(self) -> Any | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def _selection_changed(self, *_: Any) -> None:
        row = self.selected_row()
        self._detail_generation += 1
        if row is None:
            self.detail_title.setText("Select a result to see the message it came in.")
            self.map_button.setVisible(False)
            for view in (self.raw_view, self.hex_view, self.trace_view):
                view.setPlainText("")
            self.fields_view.setText("")
            return
        self.map_button.setVisible(is_unmapped(row))
        code = row.lis_code or f"{row.instrument_code} (unmapped)"
        self.detail_title.setText(f"Sample {row.sample_id} · {code} = {row.value} {row.units}".strip())
        self.fields_view.setText("\n".join(
            f"{label}: {display_value(getattr(row, key, None))}"
            for key, label in (("id", "Result #"), ("message_id", "Message #"), ("device", "Device"),
                               ("sample_id", "Sample"), ("patient_id", "Patient"),
                               ("instrument_code", "Instrument code"),
                               ("lis_code", "LIS code"), ("test_name", "Test"), ("value", "Value"),
                               ("units", "Units"), ("reference_range", "Reference range"), ("flags", "Flags"),
                               ("status", "Status"), ("observed_at", "Observed"), ("received_at", "Received"),
                               ("exported_at", "Exported"))
        ))
        if self.runner is None or getattr(row, "message_id", None) is None:
            return
        source: Any = self.model.source  # the store; ResultsSource only promises the paged reads
        message_id, generation = row.message_id, self._detail_generation
        self.raw_view.setPlainText("Loading…")
        self.runner.submit(lambda: source.raw_message(message_id),
                           lambda raw: self._raw_arrived(generation, raw),
                           lambda exc: self._raw_arrived(generation, None))

    def _raw_arrived(self, generation: int, raw: Any | None) -> None:
        if generation != self._detail_generation:
            return
        if raw is None:
            self.raw_view.setPlainText("The raw message could not be read.")
            self.hex_view.setPlainText("")
            self.trace_view.setPlainText("")
            return
        self.raw_view.setPlainText(show_controls(raw.data, line_breaks=True))
        self.hex_view.setPlainText(hex_dump(raw.data))
        meta = json.dumps(raw.link_meta, indent=1, ensure_ascii=False, sort_keys=True)
        self.trace_view.setPlainText(
            f"message #{raw.id} {raw.direction} via {raw.protocol} from {raw.device}\n"
            f"received {display_value(raw.received_at)}, {len(raw.data)} bytes, decode: {raw.decode_status}\n"
            f"session {raw.session or '-'}\nsha256 {raw.sha256}\nlink: {meta}"
        )

    def _map_selected(self) -> None:
        row = self.selected_row()
        if row is not None:
            self.map_requested.emit(row.device, row.instrument_code)
