"""A date-range picker: presets an operator uses daily, plus from/to dates for anything else.

`preset_range` is pure so the boundaries (local midnight, half-open ranges) are tested exactly.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import QComboBox, QDateEdit, QHBoxLayout, QLabel, QWidget

PRESETS: tuple[str, ...] = ("Any time", "Today", "Yesterday", "Last 7 days", "Last 30 days", "Between…")


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time()).astimezone()


def preset_range(
    preset: str, today: date, start: date | None = None, end: date | None = None
) -> tuple[datetime | None, datetime | None]:
    """(since, until), half-open, in local time; `Between…` includes both end dates."""
    if preset == "Today":
        return local_midnight(today), None
    if preset == "Yesterday":
        return local_midnight(today - timedelta(days=1)), local_midnight(today)
    if preset == "Last 7 days":
        return local_midnight(today - timedelta(days=6)), None
    if preset == "Last 30 days":
        return local_midnight(today - timedelta(days=29)), None
    if preset == "Between…" and start is not None and end is not None:
        low, high = min(start, end), max(start, end)
        return local_midnight(low), local_midnight(high + timedelta(days=1))
    return None, None


class DateRangeEdit(QWidget):
    changed = Signal()

    def __init__(self, name: str, parent: Any = None) -> None:
        super().__init__(parent)
        self.preset = QComboBox(self)
        self.preset.setObjectName(f"{name}Preset")
        self.preset.setAccessibleName("Date range")
        self.preset.addItems(PRESETS)
        today = QDate.currentDate()
        self.start = QDateEdit(today.addDays(-7), self)
        self.start.setObjectName(f"{name}From")
        self.start.setAccessibleName("From date")
        self.end = QDateEdit(today, self)
        self.end.setObjectName(f"{name}To")
        self.end.setAccessibleName("To date (included)")
        for edit in (self.start, self.end):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            # dateChanged carries the new date; `changed` has no argument, and PySide refuses to drop
            # it (TypeError on every edit, so the query was never re-run).
            edit.dateChanged.connect(lambda _date: self.changed.emit())
        self.dash = QLabel("–", self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.preset)
        layout.addWidget(self.start)
        layout.addWidget(self.dash)
        layout.addWidget(self.end)
        self.preset.currentTextChanged.connect(self._preset_changed)
        self._preset_changed(self.preset.currentText())

    def _preset_changed(self, text: str) -> None:
        custom = text == "Between…"
        for widget in (self.start, self.end, self.dash):
            widget.setVisible(custom)
        self.changed.emit()

    def value(self) -> tuple[datetime | None, datetime | None]:
        start, end = self.start.date(), self.end.date()
        return preset_range(self.preset.currentText(), date.today(), date(start.year(), start.month(), start.day()),
                            date(end.year(), end.month(), end.day()))

    def state(self) -> str:
        return "|".join((self.preset.currentText(), self.start.date().toString("yyyy-MM-dd"),
                         self.end.date().toString("yyyy-MM-dd")))

    def restore(self, state: str) -> None:
        parts = state.split("|")
        if len(parts) != 3 or parts[0] not in PRESETS:
            return
        for edit, text in ((self.start, parts[1]), (self.end, parts[2])):
            parsed = QDate.fromString(text, "yyyy-MM-dd")
            if parsed.isValid():
                edit.setDate(parsed)
        self.preset.setCurrentText(parts[0])
