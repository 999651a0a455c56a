"""Editing the From/To dates of a Between… range re-runs whatever listens (the Results query)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QDate

from benchlink.gui.date_range import DateRangeEdit


def test_each_date_edit_signals_a_change(qtbot: Any) -> None:
    edit = DateRangeEdit("results")
    qtbot.addWidget(edit)
    edit.preset.setCurrentText("Between…")
    with qtbot.waitSignal(edit.changed, timeout=1000):
        edit.end.setDate(QDate(2026, 3, 15))
    with qtbot.waitSignal(edit.changed, timeout=1000):
        edit.start.setDate(QDate(2026, 3, 1))
