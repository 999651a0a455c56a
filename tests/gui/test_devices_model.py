from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon

from benchlink.core.status import DeviceSnapshot, DeviceState
from benchlink.gui.models.devices_model import COLUMN_KEYS, STATE_COLOURS, DevicesModel
from benchlink.gui.panels.devices import EMPTY_TEXT, DevicesPanel

NOW = 1_700_000_000.0


def snap(
    name: str, state: DeviceState, *, reason: str = "", last: float | None = None, **counters: int
) -> DeviceSnapshot:
    return DeviceSnapshot(name=name, driver="astm", transport="tcp listen 127.0.0.1:5000", state=state,
                          reason=reason, counters=dict(counters), last_activity=last)


def cell(model: DevicesModel, row: int, key: str, role: int = Qt.ItemDataRole.DisplayRole) -> object:
    return model.data(model.index(row, COLUMN_KEYS.index(key)), role)


def light_colour(model: DevicesModel, row: int) -> str:
    icon = cell(model, row, "light", Qt.ItemDataRole.DecorationRole)
    assert isinstance(icon, QIcon)
    return icon.pixmap(14, 14).toImage().pixelColor(7, 7).name()


def test_rows_text_and_status_lights(qapp: object) -> None:
    model = DevicesModel(clock=lambda: NOW)
    model.set_snapshots([
        snap("cobas", DeviceState.CONNECTED, last=NOW - 30, messages=12, results=48, errors=1),
        snap("xn", DeviceState.ERROR, reason="connection refused"),
        snap("spare", DeviceState.DISABLED),
    ])
    assert model.rowCount() == 3
    assert cell(model, 0, "name") == "cobas"
    assert cell(model, 0, "messages") == "12"
    assert cell(model, 0, "results") == "48"
    assert cell(model, 0, "errors") == "1"
    assert cell(model, 0, "last_activity") == "30 s ago"
    assert cell(model, 1, "state") == "error: connection refused"
    assert cell(model, 1, "last_activity") == "never"
    assert cell(model, 2, "errors") == "0"
    assert light_colour(model, 0) == STATE_COLOURS[DeviceState.CONNECTED]
    assert light_colour(model, 1) == STATE_COLOURS[DeviceState.ERROR]
    assert light_colour(model, 2) == STATE_COLOURS[DeviceState.DISABLED]
    # The light is colour only; words for screen readers and colour-blind operators.
    assert cell(model, 1, "light", Qt.ItemDataRole.AccessibleTextRole) == "error: connection refused"


def test_apply_updates_in_place_and_appends_new_devices(qtbot: object) -> None:
    model = DevicesModel(clock=lambda: NOW)
    model.set_snapshots([snap("a", DeviceState.LISTENING), snap("b", DeviceState.LISTENING)])
    changed: list[int] = []
    model.dataChanged.connect(lambda top, _bottom, _roles=(): changed.append(top.row()))
    model.apply(snap("b", DeviceState.RECEIVING, messages=3))
    assert model.rowCount() == 2
    assert changed == [1]
    assert cell(model, 1, "state") == "receiving"
    assert light_colour(model, 1) == STATE_COLOURS[DeviceState.RECEIVING]
    model.apply(snap("c", DeviceState.CONNECTING))
    assert [s.name for s in model.snapshots()] == ["a", "b", "c"]


def test_panel_empty_state_and_buttons_follow_selection(qtbot: object) -> None:
    model = DevicesModel(clock=lambda: NOW)
    panel = DevicesPanel(model)
    qtbot.addWidget(panel)  # type: ignore[attr-defined]
    assert panel.stack.currentWidget() is panel.empty_label
    assert panel.empty_label.text() == EMPTY_TEXT
    assert not panel.connect_button.isEnabled() and not panel.disconnect_button.isEnabled()

    model.set_snapshots([snap("on", DeviceState.CONNECTED), snap("off", DeviceState.DISABLED)])
    assert panel.stack.currentWidget() is panel.table
    assert panel.selected_name() == "on"
    assert panel.disconnect_button.isEnabled() and not panel.connect_button.isEnabled()

    requests: list[tuple[str, bool]] = []
    panel.enable_requested.connect(lambda name, enabled: requests.append((name, enabled)))
    panel.select("off")
    assert panel.connect_button.isEnabled() and not panel.disconnect_button.isEnabled()
    qtbot.mouseClick(panel.connect_button, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert requests == [("off", True)]
