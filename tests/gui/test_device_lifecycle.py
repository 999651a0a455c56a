"""Device lifecycle through the window on a real hosted engine: saving one device must not touch
another the operator connected by hand, and a renamed or removed device leaves no row behind."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from benchlink.core.events import DeviceChanged
from benchlink.core.status import DeviceSnapshot, DeviceState
from benchlink.runtime.settings import DeviceConfig, TransportConfig
from benchlink.storage.store import Store

from .conftest import close_window, open_window, run_on


def listener(name: str, *, enabled: bool = True) -> DeviceConfig:
    """A TCP server device on an ephemeral port: starts anywhere, collides with nothing."""
    return DeviceConfig(name=name, driver="astm", enabled=enabled,
                        transport=TransportConfig(kind="tcp-server", host="127.0.0.1", port=0))


def state_of(host: Any, name: str) -> DeviceState | None:
    return next((s.state for s in host.snapshots() if s.name == name), None)


def table_names(window: Any) -> list[str]:
    return [s.name for s in window.devices_model.snapshots()]


def combo_items(combo: Any) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def test_saving_another_device_keeps_a_hand_connected_device_connected(
    qtbot: Any, loop: Any, store: Store, idle_engine: Any, qsettings: Any
) -> None:
    window = open_window(qtbot, idle_engine, qsettings)
    off1 = listener("off1", enabled=False)  # "Connect when Benchlink starts" unticked
    window.save_device(off1, None)
    qtbot.waitUntil(lambda: state_of(idle_engine, "off1") == DeviceState.DISABLED, timeout=5000)
    window.enable_device("off1", True)  # the operator's Connect
    qtbot.waitUntil(lambda: state_of(idle_engine, "off1") == DeviceState.LISTENING, timeout=5000)
    connected = idle_engine.engine.runners["off1"]

    window.save_device(listener("other"), None)
    qtbot.waitUntil(lambda: state_of(idle_engine, "other") == DeviceState.LISTENING, timeout=5000)
    run_on(loop, qtbot, window.wait_for_commands())
    assert idle_engine.engine.runners["off1"] is connected  # not restarted...
    assert state_of(idle_engine, "off1") == DeviceState.LISTENING  # ...and not stopped as "disabled"
    qtbot.waitUntil(lambda: window.devices_model.rowCount() == 2, timeout=3000)
    row = {s.name: s for s in window.devices_model.snapshots()}["off1"]
    assert row.state == DeviceState.LISTENING

    # Editing off1 itself still applies its configuration (enabled=false): that device restarts.
    window.save_device(listener("off1", enabled=False), off1)
    run_on(loop, qtbot, window.wait_for_commands())
    assert idle_engine.engine.runners["off1"] is connected  # the configuration did not change
    window.save_device(DeviceConfig(name="off1", driver="astm", enabled=False, receive_timeout=10.0,
                                    transport=off1.transport), off1)
    qtbot.waitUntil(lambda: idle_engine.engine.runners["off1"] is not connected, timeout=5000)
    qtbot.waitUntil(lambda: state_of(idle_engine, "off1") == DeviceState.DISABLED, timeout=5000)

    # Connect then Disconnect by hand behave as before.
    window.enable_device("off1", True)
    qtbot.waitUntil(lambda: state_of(idle_engine, "off1") == DeviceState.LISTENING, timeout=5000)
    window.enable_device("off1", False)
    qtbot.waitUntil(lambda: state_of(idle_engine, "off1") == DeviceState.DISABLED, timeout=5000)
    run_on(loop, qtbot, window.wait_for_commands())
    close_window(qtbot, window)


def test_renaming_a_device_leaves_no_ghost_row_and_f5_resyncs(
    qtbot: Any, loop: Any, store: Store, idle_engine: Any, qsettings: Any
) -> None:
    window = open_window(qtbot, idle_engine, qsettings)
    cli = listener("cli")
    window.save_device(cli, None)
    qtbot.waitUntil(lambda: state_of(idle_engine, "cli") == DeviceState.LISTENING, timeout=5000)
    run_on(loop, qtbot, window.wait_for_commands())
    qtbot.waitUntil(lambda: table_names(window) == ["cli"], timeout=3000)

    window.save_device(listener("cli2"), cli)  # Edit… → rename → Save
    qtbot.waitUntil(lambda: state_of(idle_engine, "cli2") == DeviceState.LISTENING, timeout=5000)
    run_on(loop, qtbot, window.wait_for_commands())
    qtbot.wait(300)  # let every queued event of the old runner be drained
    assert table_names(window) == ["cli2"]
    assert "cli" not in combo_items(window.results_panel.device)
    assert "cli2" in combo_items(window.results_panel.device)
    if window.mapping_panel is not None:
        assert "cli" not in combo_items(window.mapping_panel.device_filter)
        assert "cli2" in combo_items(window.mapping_panel.device_filter)

    # A straggling event from the removed device must not bring its row back.
    stale = DeviceSnapshot(name="cli", driver="astm", transport="tcp-server", state=DeviceState.STOPPED)
    idle_engine.bus.publish(DeviceChanged(stale))
    qtbot.wait(300)
    assert table_names(window) == ["cli2"]
    assert "cli" not in window.device_names()

    # F5 rebuilds the table from the engine, whatever the table held.
    window.devices_model.apply(stale)
    assert table_names(window) == ["cli2", "cli"]
    window.devices_panel.select("cli2")
    qtbot.keyClick(window, Qt.Key.Key_F5)
    assert table_names(window) == ["cli2"]
    assert window.devices_panel.selected_name() == "cli2"
    close_window(qtbot, window)
