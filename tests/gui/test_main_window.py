"""The window over the REAL engine and store: the demo analyzer sends ASTM over loopback TCP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QHeaderView, QWidget

from benchlink.core.events import MessageQuarantined
from benchlink.core.logbuffer import LogEntry, LogRing
from benchlink.core.status import DeviceState
from benchlink.gui.main_window import MainWindow
from benchlink.gui.panels.devices import EMPTY_TEXT
from benchlink.runtime.engine import Engine
from benchlink.storage.store import Store

from .conftest import demo_device, gui_settings, hosted, run_on, seed_results

# Qt's own sub-widgets (dock title buttons, date-edit spin parts): Qt names them itself.
_QT_INTERNAL = frozenset({"qt_spinbox_lineedit", "qt_dockwidget_closebutton", "qt_dockwidget_floatbutton"})
_INTERNAL_WIDGETS: tuple[type, ...] = (QHeaderView,)  # part of a named table


@pytest.fixture
def qsettings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def demo_engine(store: Store, tmp_path: Path) -> Iterator[Any]:
    """The demo analyzer's engine, started on its own thread as the app runs it."""
    host = hosted(Engine(gui_settings(tmp_path, demo_device(), demo=True), store, demo_interval=0.2),
                  start_engine=True)
    yield host
    host.stop()
    assert not host.running


def make_window(qtbot: Any, engine: Any, qsettings: QSettings, **kwargs: Any) -> MainWindow:
    window = MainWindow(engine, settings=qsettings, **kwargs)
    qtbot.addWidget(window)
    return window


def close(qtbot: Any, window: MainWindow) -> None:
    with qtbot.waitSignal(window.closed, timeout=2000):
        window.close()


def test_live_results_and_device_state_from_the_demo_analyzer(
    qtbot: Any, loop: Any, demo_engine: Any, qsettings: QSettings
) -> None:
    window = make_window(qtbot, demo_engine, qsettings)
    window.show()
    model = window.results_model
    # Results arrive over TCP, are committed, published and prepended while the window is open.
    qtbot.waitUntil(lambda: model.rowCount() >= 8, timeout=15_000)
    top = [model.row_at(r).id for r in range(model.rowCount())]
    assert top == sorted(top, reverse=True)
    assert {model.row_at(r).device for r in range(model.rowCount())} == {"demo-analyzer"}
    devices = window.devices_model
    assert devices.rowCount() == 1 and devices.snapshot_at(0).name == "demo-analyzer"  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: devices.snapshot_at(0).counters.get("results", 0) > 0, timeout=5000)  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: (window.results_today or 0) > 0, timeout=5000)
    text = window.summary_label.text()
    assert text.startswith("1 device · ") and text.endswith(" results today")
    assert window.results_panel.summary.text().endswith("results")
    close(qtbot, window)


def test_disconnect_button_disables_the_device_through_the_engine(
    qtbot: Any, loop: Any, demo_engine: Any, qsettings: QSettings
) -> None:
    window = make_window(qtbot, demo_engine, qsettings)
    window.show()
    panel = window.devices_panel
    qtbot.waitUntil(lambda: panel.disconnect_button.isEnabled(), timeout=5000)
    qtbot.mouseClick(panel.disconnect_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: demo_engine.snapshots()[0].state == DeviceState.DISABLED, timeout=5000)
    qtbot.waitUntil(lambda: window.devices_model.snapshot_at(0).state == DeviceState.DISABLED, timeout=5000)  # type: ignore[union-attr]
    assert panel.connect_button.isEnabled()
    qtbot.mouseClick(panel.connect_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: demo_engine.snapshots()[0].state != DeviceState.DISABLED, timeout=5000)
    run_on(loop, qtbot, window.wait_for_commands())
    close(qtbot, window)


def test_empty_state_and_existing_results(
    qtbot: Any, loop: Any, store: Store, idle_engine: Any, qsettings: QSettings
) -> None:
    seed_results(store, 12, unmapped_every=4)
    window = make_window(qtbot, idle_engine, qsettings)
    window.show()
    assert window.devices_panel.stack.currentWidget() is window.devices_panel.empty_label
    assert window.devices_panel.empty_label.text() == EMPTY_TEXT
    qtbot.waitUntil(lambda: window.results_model.rowCount() == 12, timeout=5000)
    qtbot.waitUntil(lambda: window.summary_label.text() == "0 devices · 0 connected · 12 results today",
                    timeout=5000)
    close(qtbot, window)


def test_filter_bar_requeries_after_typing_stops(
    qtbot: Any, loop: Any, store: Store, idle_engine: Any, qsettings: QSettings
) -> None:
    seed_results(store, 20, per_message=2)
    window = make_window(qtbot, idle_engine, qsettings)
    window.show()
    model = window.results_model
    qtbot.waitUntil(lambda: model.rowCount() == 20, timeout=5000)
    qtbot.keyClicks(window.results_panel.filters["sample_id"], "S00007")
    assert model.rowCount() == 20  # debounced: nothing re-queried mid-typing
    qtbot.waitUntil(lambda: model.rowCount() == 2, timeout=5000)
    assert model.current_filter.sample_id == "S00007"
    qtbot.waitUntil(lambda: window.results_panel.summary.text() == "2 results (filtered)", timeout=5000)
    window.results_panel.filters["sample_id"].clear()
    qtbot.waitUntil(lambda: model.rowCount() == 20, timeout=5000)
    close(qtbot, window)


def test_layout_is_saved_and_restored(
    qtbot: Any, loop: Any, idle_engine: Any, qsettings: QSettings
) -> None:
    window = make_window(qtbot, idle_engine, qsettings)
    window.show()
    assert window.log_dock.isVisible()
    window.log_dock.hide()
    window.resize(780, 650)  # above the minimum size
    close(qtbot, window)

    again = make_window(qtbot, idle_engine, qsettings)
    again.show()
    assert not again.log_dock.isVisible()
    assert again.devices_dock.isVisible()
    assert (again.width(), again.height()) == (780, 650)
    again.reset_layout()
    assert again.log_dock.isVisible()
    close(qtbot, again)


def test_keyboard_shortcuts_switch_panels_and_focus_filters(
    qtbot: Any, loop: Any, idle_engine: Any, qsettings: QSettings
) -> None:
    window = make_window(qtbot, idle_engine, qsettings)
    window.show()
    window.activateWindow()
    # Window shortcuts only fire in the active window; offscreen activation is asynchronous.
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window and QApplication.focusWidget() is not None,
                    timeout=2000)
    qtbot.keyClick(window, Qt.Key.Key_6, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.log_panel.table, timeout=2000)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is window.log_panel.text
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is window.devices_panel.empty_label  # no devices: the hint
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is window.results_panel.filters["sample_id"]
    qtbot.waitUntil(lambda: not window.results_model.is_loading, timeout=3000)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is window.results_panel.hint  # no results yet: the hint, readable
    assert "newest first" in window.results_panel.hint.text()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
    assert window.quarantine_panel.isAncestorOf(QApplication.focusWidget())
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_7, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is window.trace_panel.hint
    # Every interactive widget a screen reader can reach has a name.
    from PySide6.QtWidgets import QAbstractButton, QAbstractItemView, QComboBox, QLineEdit

    unnamed = [w.objectName() or type(w).__name__ for w in window.findChildren(QWidget)
               if isinstance(w, QLineEdit | QComboBox | QAbstractItemView | QAbstractButton)
               and w.isVisibleTo(window) and not w.accessibleName() and not isinstance(w.parent(), QComboBox)
               and w.objectName() not in _QT_INTERNAL and not isinstance(w, _INTERNAL_WIDGETS)
               and not (isinstance(w, QAbstractButton) and w.text().replace("&", "").strip())]
    assert unnamed == []
    close(qtbot, window)


def test_log_panel_shows_ring_entries_and_quarantine_reaches_status_bar(
    qtbot: Any, loop: Any, idle_engine: Any, qsettings: QSettings
) -> None:
    ring = LogRing()
    ring.append(LogEntry("2024-01-01T00:00:00", "warning", "checksum mismatch", "xn"))
    window = make_window(qtbot, idle_engine, qsettings, log_ring=ring)
    assert window.log_panel.proxy.rowCount() == 1
    ring.append(LogEntry("2024-01-01T00:00:01", "error", "link timeout", "xn"))
    qtbot.waitUntil(lambda: window.log_panel.proxy.rowCount() == 2, timeout=2000)
    idle_engine.bus.publish(MessageQuarantined("xn", 7, "bad checksum in 'DOE^JOHN'"))
    qtbot.waitUntil(lambda: "quarantined (#7)" in window.statusBar().currentMessage(), timeout=2000)
    assert "DOE" not in window.statusBar().currentMessage()
    close(qtbot, window)
    ring.append(LogEntry("2024-01-01T00:00:02", "error", "after close", "xn"))
    assert idle_engine.bus.publish(MessageQuarantined("xn", 8, "x")) is None  # unsubscribed: no error
