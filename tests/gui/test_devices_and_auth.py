"""Adding and editing devices through the dialog, and who may do it: real engine, real users."""

from __future__ import annotations

import socket
import tomllib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PySide6.QtCore import Qt

from benchlink.core.auth import Role, SecurityPolicy
from benchlink.core.status import DeviceState
from benchlink.gui.app import install_idle_lock
from benchlink.gui.auth_dialogs import CreateAdminDialog, LoginDialog, UnlockDialog
from benchlink.gui.panels.device_dialog import DeviceDialog
from benchlink.gui.queries import QueryRunner
from benchlink.runtime.auth_service import AuthService
from benchlink.storage.store import Store

from .conftest import close_window, open_window, run_on

GOOD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_add_then_edit_a_device_writes_config_and_restarts_only_that_device(
    qtbot: Any, loop: Any, store: Store, idle_engine: Any, qsettings: Any
) -> None:
    window = open_window(qtbot, idle_engine, qsettings)
    qtbot.mouseClick(window.devices_panel.add_button, Qt.MouseButton.LeftButton)
    dialog = window.findChild(DeviceDialog)
    assert isinstance(dialog, DeviceDialog)
    assert not dialog.save_button.isEnabled() and dialog.error_labels["name"].isVisibleTo(dialog)
    qtbot.keyClicks(dialog.name, "c311")
    dialog.host.setText("127.0.0.1")
    dialog.port.setText("70000")
    assert "between 1 and 65535" in dialog.error_labels["port"].text() and not dialog.save_button.isEnabled()
    port = free_port()
    dialog.port.setText(str(port))
    dialog.tls_cert.setText("/no/such/cert.pem")
    assert dialog.error_labels["tls_cert"].text().startswith("No such file")
    dialog.tls_cert.clear()
    dialog.tolerances["oversize_frames"].setChecked(True)
    assert dialog.save_button.isEnabled()
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "c311" in idle_engine.engine.runners, timeout=5000)
    qtbot.waitUntil(lambda: idle_engine.snapshots()[0].state == DeviceState.LISTENING, timeout=5000)
    qtbot.waitUntil(lambda: window.devices_model.rowCount() == 1, timeout=3000)
    data = tomllib.loads(idle_engine.settings.config_file.read_text(encoding="utf-8"))
    assert data["device"] == [{"name": "c311", "driver": "astm", "tolerances": ["oversize_frames"],
                               "transport": {"kind": "tcp-server", "host": "127.0.0.1", "port": port}}]
    assert store.audit().search(action="device.add")[0].target == "device:c311"
    assert window.results_panel.device.findText("c311") >= 0  # the filters know the new device

    first_runner = idle_engine.engine.runners["c311"]
    window.devices_panel.select("c311")
    edit = window.open_device_dialog("c311")
    assert edit.windowTitle() == "Edit device" and edit.name.text() == "c311"
    assert edit.tolerances["oversize_frames"].isChecked()
    edit.tolerances["lowercase_checksum"].setChecked(True)
    qtbot.mouseClick(edit.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: idle_engine.engine.runners["c311"] is not first_runner, timeout=5000)
    assert idle_engine.engine.runners["c311"].config.tolerances == ("lowercase_checksum", "oversize_frames")
    qtbot.waitUntil(lambda: len(store.audit().search(action="device.edit")) == 1, timeout=3000)
    run_on(loop, qtbot, window.wait_for_commands())
    close_window(qtbot, window)
    idle_engine.stop()  # stops the devices on the engine thread, then the thread
    assert not idle_engine.running


def test_serial_page_lists_ports_from_the_given_scanner(qtbot: Any) -> None:
    dialog = DeviceDialog(drivers=["astm"], taken_names=[], list_ports=lambda: ["/dev/ttyUSB0", "/dev/ttyUSB1"])
    qtbot.addWidget(dialog)
    dialog.kind.setCurrentIndex(dialog.kind.findData("serial"))
    assert dialog.transport_pages.currentIndex() == 1
    items = [dialog.serial_device.itemText(i) for i in range(dialog.serial_device.count())]
    assert items == ["/dev/ttyUSB0", "/dev/ttyUSB1"]
    dialog.name.setText("xn")
    dialog.serial_device.setCurrentText("")
    assert "serial port" in dialog.error_labels["serial_device"].text()
    dialog.serial_device.setCurrentText("/dev/ttyUSB1")
    dialog.parity.setCurrentText("E")
    assert dialog.revalidate() and dialog.result_config is not None
    assert dialog.result_config.transport.device == "/dev/ttyUSB1" and dialog.result_config.transport.parity == "E"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def auth(store: Store) -> tuple[AuthService, Clock]:
    clock = Clock()
    service = AuthService(store, policy=SecurityPolicy(idle_minutes=5), clock=clock)
    return service, clock


def test_first_start_creates_the_administrator_with_inline_password_rules(
    qtbot: Any, loop: Any, auth: tuple[AuthService, Clock]
) -> None:
    service, _ = auth
    runner = QueryRunner()
    dialog = CreateAdminDialog(service, runner)
    qtbot.addWidget(dialog)
    dialog.username.setText("admin")
    dialog.password.setText("short")
    assert not dialog.ok_button.isEnabled() and "at least 10 characters" in dialog.rules.text()
    dialog.password.setText(GOOD)
    dialog.repeat.setText(GOOD + "x")
    assert "differ" in dialog.rules.text()
    dialog.repeat.setText(GOOD)
    assert dialog.ok_button.isEnabled()
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.value.username == "admin" and dialog.value.actor.role == Role.ADMIN
    login = LoginDialog(service, runner)
    qtbot.addWidget(login)
    login.username.setText("admin")
    login.password.setText("wrong password!")
    qtbot.mouseClick(login.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "wrong password" in login.error.text(), timeout=5000)
    assert login.result() == 0
    runner.close()


def test_operator_session_hides_audit_and_editing_and_idle_lock_hides_panels(
    qtbot: Any, loop: Any, auth: tuple[AuthService, Clock], idle_engine: Any, qsettings: Any
) -> None:
    service, clock = auth
    admin = service.create_first_admin("admin", GOOD)
    service.add_user(admin, "olga", Role.OPERATOR, GOOD + "!")
    session = service.authenticate("olga", GOOD + "!")
    window = open_window(qtbot, idle_engine, qsettings, session=session)
    assert not window.audit_dock.isVisible() and not window.audit_dock.toggleViewAction().isVisible()
    assert not window.devices_panel.add_button.isEnabled() and not window.add_device_action.isEnabled()
    assert window.open_device_dialog(None) is None
    assert window.orders_panel.add_button.isEnabled()  # operators enter orders
    # What is greyed out says why: the supervisor's right, not a fault.
    for button in (window.devices_panel.add_button, window.devices_panel.edit_button):
        assert button.toolTip().startswith("Needs a supervisor or admin"), button.objectName()
    if window.mapping_panel is not None:
        assert not window.mapping_panel.save_button.isEnabled()
        assert window.mapping_panel.save_button.toolTip().startswith("Needs a supervisor or admin")
    for own in (window.orders_panel.add_button, window.quarantine_panel.retry_button):  # an operator's own
        assert "right" not in own.toolTip() and not own.toolTip().startswith("Needs")
    assert window.export_action.isEnabled()
    assert window.user_label.text() == "olga (operator)"

    export = window.open_export_dialog()  # shows the current filter, which may name a patient
    assert export is not None and export.isVisible()
    runner = QueryRunner()
    watch = install_idle_lock(window, session, runner)
    clock.now += timedelta(minutes=6)
    watch.check()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: not window.results_dock.isVisible(), timeout=2000)
    assert window.summary_label.text() == "Locked"
    assert not export.isVisible()  # nothing readable stays on screen, dialogs included
    unlock = window.findChild(UnlockDialog)
    assert unlock is not None and unlock.isVisible()
    unlock.password.setText(GOOD + "!")
    qtbot.mouseClick(unlock.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.results_dock.isVisible(), timeout=5000)
    assert not session.locked() and not window.audit_dock.isVisible()
    assert export.isVisible()  # and it comes back as it was
    export.reject()
    close_window(qtbot, window)
    runner.close()


def test_supervisor_gets_audit_and_device_editing(
    qtbot: Any, loop: Any, auth: tuple[AuthService, Clock], idle_engine: Any, qsettings: Any
) -> None:
    service, _ = auth
    admin = service.create_first_admin("admin", GOOD)
    service.add_user(admin, "sam", Role.SUPERVISOR, GOOD + "?")
    window = open_window(qtbot, idle_engine, qsettings, session=service.authenticate("sam", GOOD + "?"))
    assert window.audit_dock.toggleViewAction().isVisible() and window.devices_panel.add_button.isEnabled()
    close_window(qtbot, window)


def test_device_dialog_offers_the_detected_driver(qtbot) -> None:
    from benchlink.runtime.plugins import PluginManager

    plugins = PluginManager()

    def detect(data: bytes) -> tuple[str, str] | None:
        found = plugins.detect(data)
        return (found[0].info.name, found[1]) if found is not None else None

    dialog = DeviceDialog(drivers=sorted(plugins.drivers()), taken_names=[], list_ports=lambda: [], detect=detect)
    qtbot.addWidget(dialog)
    sysmex = b"H|\\^&|||XN-550^00-24^22723^^^^BD634545||||||||E1394-97\rL|1|N\r"
    assert dialog.detect_from_bytes(sysmex) == "sysmex-xn"
    assert dialog.driver.currentText() == "sysmex-xn"
    assert "XN-550" in dialog.detect_note.text()
    assert dialog.detect_from_bytes(b"\x00\x01 not a capture") is None
    assert "was recognised" in dialog.detect_note.text() and dialog.driver.currentText() == "sysmex-xn"
