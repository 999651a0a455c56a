"""Results as they arrive, newest first, with a filter bar that re-queries as you type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from benchlink.gui.formatting import plural
from benchlink.gui.models.results_model import COLUMN_KEYS, ResultsModel

# (filter keyword, placeholder, accessible name)
FILTER_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("sample_id", "Sample", "Filter by sample ID"),
    ("patient_id", "Patient", "Filter by patient ID"),
    ("device", "Device", "Filter by device"),
    ("test", "Test", "Filter by test code or name"),
    ("flag", "Flag", "Filter by abnormal flag"),
)

DEBOUNCE_MS = 300


class ResultsPanel(QWidget):
    """`make_filter(**values)` builds the store's filter object from the non-empty fields."""

    def __init__(
        self,
        model: ResultsModel,
        make_filter: Callable[..., Any],
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("resultsPanel")
        self.model = model
        self._make_filter = make_filter

        self.filters: dict[str, QLineEdit] = {}
        bar = QHBoxLayout()
        bar.setSpacing(4)
        for key, placeholder, accessible in FILTER_FIELDS:
            edit = QLineEdit(self)
            edit.setObjectName(f"filter_{key}")
            edit.setPlaceholderText(placeholder)
            edit.setAccessibleName(accessible)
            edit.setToolTip(accessible)
            edit.setClearButtonEnabled(True)
            edit.textChanged.connect(self._schedule_query)
            bar.addWidget(edit, 1)
            self.filters[key] = edit
        self.summary = QLabel("", self)
        self.summary.setObjectName("resultsSummary")
        self.summary.setAccessibleName("Result count")
        self.summary.setMinimumWidth(150)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        bar.addWidget(self.summary)

        self.table = QTableView(self)
        self.table.setObjectName("resultsTable")
        self.table.setAccessibleName("Results")
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        for key, width in (("sample_id", 110), ("patient_id", 90), ("device", 120), ("instrument_code", 110),
                           ("lis_code", 80), ("test_name", 150), ("value", 80), ("units", 70), ("flags", 50),
                           ("status", 55), ("observed_at", 140)):
            header.resizeSection(COLUMN_KEYS.index(key), width)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.table)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.apply_filter)

        model.total_changed.connect(self._show_total)
        model.query_failed.connect(self.summary.setText)

    def filter_values(self) -> dict[str, str]:
        return {key: edit.text().strip() for key, edit in self.filters.items() if edit.text().strip()}

    def apply_filter(self) -> None:
        self._debounce.stop()
        self.model.set_filter(self._make_filter(**self.filter_values()))

    def focus_filter(self) -> None:
        edit = self.filters["sample_id"]
        edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        edit.selectAll()

    def focus_view(self) -> None:
        self.table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _schedule_query(self) -> None:
        self._debounce.start()

    def _show_total(self, total: int) -> None:
        suffix = " (filtered)" if self.filter_values() else ""
        self.summary.setText(plural(total, "result") + suffix)
