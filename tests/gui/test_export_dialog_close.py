"""Esc or the window's close button during an export: the dialog must cancel like Cancel does and
stay open until the export thread has stopped, never vanish under it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from benchlink.gui.export_dialog import ExportDialog
from benchlink.storage.store import ResultFilter, Store

from .conftest import seed_results
from .test_panels import GatedStore


def test_esc_and_close_during_an_export_cancel_it_and_keep_the_dialog_open(
    qtbot: Any, tmp_path: Path, store: Store
) -> None:
    seed_results(store, 30, per_message=3)
    gated = GatedStore(store)
    dialog = ExportDialog(gated, ResultFilter(), default_dir=tmp_path, actor="alice")
    qtbot.addWidget(dialog)
    out = tmp_path / "out.csv"
    dialog.destination.setText(str(out))
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.start()
    job = dialog.job
    assert job is not None

    try:
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)
        assert dialog.isVisible() and dialog.status.text() == "Cancelling…"
        dialog.close()  # the title bar's close button
        assert dialog.isVisible() and dialog.job is job
    finally:
        gated.gate.set()
    qtbot.waitUntil(lambda: "cancelled" in dialog.status.text(), timeout=5000)
    assert job.wait(5)  # the export thread has ended; nothing dangles
    assert dialog.isVisible() and dialog.export_button.isEnabled()
    assert not out.exists() and not list(tmp_path.glob(".out.csv.*"))  # nothing half-written
    assert store.count_results(ResultFilter(exported=True)) == 0

    qtbot.keyClick(dialog, Qt.Key.Key_Escape)  # with nothing running, Esc closes as before
    assert not dialog.isVisible()
