"""The Benchlink shell: dockable panels over one engine; the layout and filters are remembered.

The window only renders models and forwards commands. Engine events are queued from the bus
(any thread) and drained in batches on the GUI thread, so a burst of a thousand results or
trace chunks costs one repaint, not a thousand.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from PySide6.QtCore import QByteArray, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QDialog, QDockWidget, QLabel, QMainWindow, QWidget

from benchlink.core.events import DeviceChanged, MessageQuarantined, ResultsStored, TraceChunk
from benchlink.core.logbuffer import GLOBAL_LOG, LogRing
from benchlink.core.status import DeviceSnapshot, DeviceState
from benchlink.gui.contracts import GuiEngine
from benchlink.gui.formatting import summary_text
from benchlink.gui.models.devices_model import DevicesModel, is_linked, status_icon
from benchlink.gui.models.log_model import LogFeed, LogModel
from benchlink.gui.models.results_model import ResultsModel
from benchlink.gui.notifications import Notifier
from benchlink.gui.panels.audit import AuditPanel
from benchlink.gui.panels.devices import DevicesPanel
from benchlink.gui.panels.log import LogPanel
from benchlink.gui.panels.orders import OrdersPanel
from benchlink.gui.panels.plugins import PluginsPanel
from benchlink.gui.panels.quarantine import QuarantinePanel
from benchlink.gui.panels.results import ResultsPanel
from benchlink.gui.panels.trace import TraceModel, TracePanel
from benchlink.gui.queries import QueryRunner
from benchlink.gui.theme import THEMES, apply_theme

_log = structlog.get_logger("benchlink.gui")

STATE_VERSION = 2
#: Ctrl+<n> per panel; fixed, so a shortcut learnt on one workstation works on every other.
PANEL_SHORTCUTS: dict[str, int] = {
    "devicesDock": 1, "resultsDock": 2, "mappingDock": 3, "ordersDock": 4, "quarantineDock": 5,
    "logDock": 6, "traceDock": 7, "auditDock": 8, "pluginsDock": 9,
}
EVENT_BATCH_MS = 50


def default_filter_factory() -> Callable[..., Any]:
    from benchlink.storage.store import ResultFilter

    return ResultFilter


class _EventQueue(QObject):
    """Bus events from any thread -> one queued wake-up -> a batch drained on the GUI thread."""

    wake = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._pending: deque[object] = deque(maxlen=50_000)  # bounded: a stalled GUI cannot eat memory
        self.dropped = 0

    def push(self, event: object) -> None:
        with self._lock:
            was_empty = not self._pending
            if len(self._pending) == self._pending.maxlen:
                self.dropped += 1
            self._pending.append(event)
        if was_empty:
            self.wake.emit()

    def take(self) -> list[object]:
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
        return batch


class MainWindow(QMainWindow):
    """Must be created while the asyncio loop runs (qasync), because it starts reading at once.

    `session` is the signed-in user (runtime.auth_service.Session) or None when no users exist;
    it decides which panels and editing actions are offered.
    """

    closed = Signal()
    lock_requested = Signal()

    def __init__(
        self,
        engine: GuiEngine,
        *,
        settings: QSettings | None = None,
        make_filter: Callable[..., Any] | None = None,
        log_ring: LogRing = GLOBAL_LOG,
        page_size: int = 100,
        session: Any = None,
        retry: Callable[[Any, str], str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("Benchlink")
        self.setWindowIcon(status_icon(DeviceState.CONNECTED))
        self.engine = engine
        self.session = session
        self.settings = settings if settings is not None else QSettings()
        self._make_filter = make_filter or default_filter_factory()
        self.runner = QueryRunner()
        # Totals get their own reader: a full count (100-400 ms at a million rows) must never hold
        # up the next page, and a count for a filter already replaced is dropped unstarted.
        self.count_runner = QueryRunner(name="benchlink-gui-count")
        self.results_today: int | None = None
        self._command_tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._locked_state: QByteArray | None = None
        self._hidden_dialogs: list[QDialog] = []

        store = engine.store
        self.devices_model = DevicesModel(parent=self)
        #: Device names this window put in the panels' device lists; a name that leaves the engine
        #: is taken out again (the panels only ever add), and only names the window added.
        self._listed_devices: set[str] = set()
        #: Devices whose row was dropped because the engine no longer runs them: their last events
        #: can still be queued, and must not add the row back unless the engine runs the name again.
        self._removed_devices: set[str] = set()
        self.results_model = ResultsModel(store, self.runner, page_size=page_size, count_runner=self.count_runner,
                                          parent=self)
        self.log_model = LogModel(parent=self)
        self.log_feed = LogFeed(log_ring, self.log_model, parent=self)
        self.trace_model = TraceModel(parent=self)

        self.devices_panel = DevicesPanel(self.devices_model)
        self.results_panel = ResultsPanel(self.results_model, self._make_filter, self.runner)
        self.log_panel = LogPanel(self.log_model)
        self.trace_panel = TracePanel(self.trace_model)
        self.quarantine_panel = QuarantinePanel(store, self.runner, actor=self.actor_name,
                                                retry=retry if retry is not None else _default_retry(engine))
        self.orders_panel = OrdersPanel(getattr(engine, "worklist", None), self.runner, self.device_names)
        self.audit_panel = AuditPanel(store, self.runner)
        self.plugins_panel = PluginsPanel(getattr(engine, "plugins", None) or _NoPlugins())
        self.mapping_panel = _make_mapping_panel(self)

        self.devices_dock = self._dock("devicesDock", "&Devices", self.devices_panel)
        self.results_dock = self._dock("resultsDock", "&Results", self.results_panel)
        self.mapping_dock = (self._dock("mappingDock", "&Mapping", self.mapping_panel)
                             if self.mapping_panel is not None else None)
        self.orders_dock = self._dock("ordersDock", "&Orders", self.orders_panel)
        self.quarantine_dock = self._dock("quarantineDock", "&Quarantine", self.quarantine_panel)
        self.log_dock = self._dock("logDock", "&Log", self.log_panel)
        self.trace_dock = self._dock("traceDock", "&Trace", self.trace_panel)
        self.audit_dock = self._dock("auditDock", "&Audit", self.audit_panel)
        self.plugins_dock = self._dock("pluginsDock", "&Plugins", self.plugins_panel)
        self.setDockNestingEnabled(True)
        self._default_layout()
        self._default_state = self.saveState(STATE_VERSION)

        self.summary_label = QLabel("", self)
        self.summary_label.setObjectName("deviceSummary")
        self.summary_label.setAccessibleName("Device summary")
        self.statusBar().addPermanentWidget(self.summary_label)
        self.user_label = QLabel("", self)
        self.user_label.setObjectName("signedInUser")
        self.user_label.setAccessibleName("Signed-in user")
        self.statusBar().addPermanentWidget(self.user_label)
        self.notifier = Notifier(self.windowIcon(), parent=self)
        self.notifier.shown.connect(lambda notice: self.statusBar().showMessage(notice.text, 15_000))

        self._build_actions()

        self.devices_panel.enable_requested.connect(self.enable_device)
        self.devices_panel.add_requested.connect(lambda: self.open_device_dialog(None))
        self.devices_panel.edit_requested.connect(self.open_device_dialog)
        self.results_panel.map_requested.connect(self.map_code)
        self.quarantine_panel.changed.connect(lambda text: self.statusBar().showMessage(text, 10_000))
        self.quarantine_panel.changed.connect(lambda _text: self.results_panel.apply_filter())
        if self.mapping_panel is not None:
            self.mapping_panel.replayed.connect(lambda text: self.statusBar().showMessage(text, 15_000))
            self.mapping_panel.replayed.connect(lambda _text: self.results_panel.apply_filter())
        self.events = _EventQueue(self)
        self.events.wake.connect(self._schedule_drain, Qt.ConnectionType.QueuedConnection)
        self._drain_timer = QTimer(self)
        self._drain_timer.setSingleShot(True)
        self._drain_timer.setInterval(EVENT_BATCH_MS)
        self._drain_timer.timeout.connect(self._drain_events)
        self._unsubscribe = engine.bus.subscribe(self.events.push)

        # "Today" rolls over at midnight and counts drift as other writers add rows.
        self._today_timer = QTimer(self)
        self._today_timer.setSingleShot(True)
        self._today_timer.setInterval(1000)
        self._today_timer.timeout.connect(self.refresh_results_today)
        self._minute_timer = QTimer(self)
        self._minute_timer.setInterval(60_000)
        self._minute_timer.timeout.connect(self.refresh_results_today)
        self._minute_timer.start()

        self.restore_layout()
        self.restore_preferences()
        self.devices_model.set_snapshots(engine.snapshots())
        self.sync_device_names()
        self.results_panel.apply_filter()  # first in the reader's queue: it is what the operator sees
        self.quarantine_panel.refresh()
        self.orders_panel.refresh()
        # Panels behind a tab read their data when first shown, not before the first results page.
        self._unloaded: dict[QDockWidget, Callable[[], None]] = {self.audit_dock: self.audit_panel.search}
        if self.mapping_dock is not None and self.mapping_panel is not None:
            self._unloaded[self.mapping_dock] = self.mapping_panel.refresh
        for dock in self._unloaded:
            dock.visibilityChanged.connect(lambda visible, d=dock: self._first_shown(d, visible))
        for dock in tuple(self._unloaded):
            self._first_shown(dock, not dock.visibleRegion().isEmpty() and dock.isVisible())
        self.refresh_results_today()
        self._update_summary()
        self.apply_permissions()

    # -- construction --------------------------------------------------------------------
    def _first_shown(self, dock: QDockWidget, visible: bool) -> None:
        if not visible or self._closing:
            return
        load = self._unloaded.pop(dock, None)
        if load is None:
            return
        if dock is self.audit_dock and not self.can("audit.view"):
            return
        load()

    def _dock(self, name: str, title: str, panel: QWidget) -> QDockWidget:
        dock = QDockWidget(title.replace("&", ""), self)
        dock.setObjectName(name)
        dock.setWidget(panel)
        dock.setAccessibleName(f"{title.replace('&', '')} panel")
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        return dock

    def docks(self) -> list[QDockWidget]:
        return [d for d in (self.devices_dock, self.results_dock, self.mapping_dock, self.orders_dock,
                            self.quarantine_dock, self.log_dock, self.trace_dock, self.audit_dock,
                            self.plugins_dock) if d is not None]

    def panels(self) -> list[tuple[QDockWidget, Any]]:
        return [(dock, dock.widget()) for dock in self.docks()]

    def _default_layout(self) -> None:
        for dock in self.docks():
            self.removeDockWidget(dock)
        top = Qt.DockWidgetArea.TopDockWidgetArea
        self.addDockWidget(top, self.devices_dock)
        self.splitDockWidget(self.devices_dock, self.results_dock, Qt.Orientation.Vertical)
        self.splitDockWidget(self.results_dock, self.log_dock, Qt.Orientation.Vertical)
        centre = [d for d in (self.mapping_dock, self.orders_dock, self.quarantine_dock, self.audit_dock,
                              self.plugins_dock) if d is not None]
        for dock in centre:
            self.tabifyDockWidget(self.results_dock, dock)
        self.tabifyDockWidget(self.log_dock, self.trace_dock)
        for dock in self.docks():
            dock.show()
        self.results_dock.raise_()
        self.log_dock.raise_()
        self.resizeDocks([self.devices_dock, self.results_dock, self.log_dock], [120, 470, 170],
                         Qt.Orientation.Vertical)

    def _build_actions(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.export_action = QAction("&Export results…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_action.setStatusTip("Export the results shown (current filters) to CSV or HL7")
        self.export_action.triggered.connect(self.open_export_dialog)
        file_menu.addAction(self.export_action)
        self.addAction(self.export_action)
        file_menu.addSeparator()
        self.lock_action = QAction("&Lock", self)
        self.lock_action.setShortcut(QKeySequence("Ctrl+L"))
        self.lock_action.triggered.connect(self.lock_requested.emit)
        self.lock_action.setEnabled(self.session is not None)
        file_menu.addAction(self.lock_action)
        self.addAction(self.lock_action)
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))  # StandardKey.Quit is empty on Windows
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        device_menu = self.menuBar().addMenu("&Devices")
        self.add_device_action = QAction("&Add device…", self)
        self.add_device_action.setShortcut(QKeySequence("Ctrl+Shift+N"))
        self.add_device_action.triggered.connect(lambda: self.open_device_dialog(None))
        device_menu.addAction(self.add_device_action)
        self.addAction(self.add_device_action)

        view_menu = self.menuBar().addMenu("&View")
        self.panel_actions: list[QAction] = []
        for dock, panel in self.panels():
            action = QAction(f"Go to {dock.windowTitle()}", self)
            action.setObjectName(f"goto_{dock.objectName()}")
            action.setShortcut(QKeySequence(f"Ctrl+{PANEL_SHORTCUTS[dock.objectName()]}"))
            action.triggered.connect(lambda _=False, d=dock, p=panel: self.show_panel(d, p))
            view_menu.addAction(action)
            self.addAction(action)
            self.panel_actions.append(action)
        view_menu.addSeparator()
        find_action = QAction("&Find…", self)
        find_action.setShortcut(QKeySequence.StandardKey.Find)
        find_action.triggered.connect(self.focus_filter)
        view_menu.addAction(find_action)
        self.addAction(find_action)
        self.find_action = find_action
        refresh = QAction("&Refresh", self)
        refresh.setShortcut(QKeySequence.StandardKey.Refresh)
        refresh.triggered.connect(self.refresh_all)
        view_menu.addAction(refresh)
        self.addAction(refresh)
        view_menu.addSeparator()
        panels_menu = view_menu.addMenu("&Panels")
        for dock in self.docks():
            panels_menu.addAction(dock.toggleViewAction())
        theme_menu = view_menu.addMenu("&Theme")
        self.theme_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        for theme in THEMES:
            action = QAction(theme.capitalize(), self, checkable=True)
            action.triggered.connect(lambda _=False, t=theme: self.set_theme(t))
            group.addAction(action)
            theme_menu.addAction(action)
            self.theme_actions[theme] = action
        reset = QAction("Reset &layout", self)
        reset.triggered.connect(self.reset_layout)
        view_menu.addAction(reset)

    # -- permissions ---------------------------------------------------------------------
    def actor_name(self) -> str:
        return self.session.username if self.session is not None else "system"

    def can(self, permission: str) -> bool:
        """No session means no users exist yet: the workstation is not access-controlled."""
        if self.session is None:
            return True
        from benchlink.core.auth import Permission

        return bool(self.session.actor.can(Permission(permission)))

    def apply_permissions(self) -> None:
        audit = self.can("audit.view")
        self.audit_dock.toggleViewAction().setVisible(audit)
        if not audit:
            self.audit_dock.hide()
            self.audit_panel.model.clear()
        for action in self.panel_actions:
            if action.text() == f"Go to {self.audit_dock.windowTitle()}":
                action.setEnabled(audit)
        devices = self.can("devices.edit")
        self.devices_panel.set_editable(devices)
        self.add_device_action.setEnabled(devices)
        self.orders_panel.set_editable(self.can("orders.edit"))
        self.quarantine_panel.set_editable(self.can("quarantine.edit"))
        self.export_action.setEnabled(self.can("export"))
        if self.mapping_panel is not None and hasattr(self.mapping_panel, "set_editable"):
            self.mapping_panel.set_editable(self.can("mappings.edit"))
        self.user_label.setText(
            f"{self.session.username} ({self.session.actor.role.value})" if self.session is not None else "")

    def set_session(self, session: Any) -> None:
        self.session = session
        self.lock_action.setEnabled(session is not None)
        self.apply_permissions()

    # -- layout and preferences ------------------------------------------------------------
    def restore_layout(self) -> bool:
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        restored = False
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            restored = self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        if isinstance(state, QByteArray) and not state.isEmpty():
            restored = self.restoreState(state, STATE_VERSION) and restored
        return restored

    def restore_preferences(self) -> None:
        filters = self.settings.value("results/filters")
        if isinstance(filters, dict):
            self.results_panel.restore_state({str(k): v for k, v in filters.items()})
        theme = str(self.settings.value("view/theme", "system") or "system")
        self.set_theme(theme, save=False)

    def save_layout(self) -> None:
        state = self._locked_state if self._locked_state is not None else self.saveState(STATE_VERSION)
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", state)
        self.settings.setValue("results/filters", self.results_panel.save_state())
        self.settings.sync()

    def reset_layout(self) -> None:
        self.restoreState(self._default_state, STATE_VERSION)
        for dock in self.docks():
            dock.setFloating(False)
            dock.show()
        self.apply_permissions()

    def set_theme(self, theme: str, *, save: bool = True) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            theme = apply_theme(app, theme)
        if theme in self.theme_actions:
            self.theme_actions[theme].setChecked(True)
        if save:
            self.settings.setValue("view/theme", theme)

    # -- navigation ----------------------------------------------------------------------
    def show_panel(self, dock: QDockWidget, panel: Any) -> None:
        if not dock.toggleViewAction().isVisible():
            return  # a panel this user may not open
        dock.show()
        dock.raise_()
        panel.focus_view()

    def focus_filter(self) -> None:
        """Ctrl+F filters whichever of Log/Results the operator is in; Results by default."""
        focus = self.focusWidget()
        if focus is not None and self.log_panel.isAncestorOf(focus):
            self.log_panel.focus_filter()
            return
        self.results_dock.show()
        self.results_dock.raise_()
        self.results_panel.focus_filter()

    def refresh_all(self) -> None:
        self.refresh_devices()
        self.results_panel.apply_filter()
        self.quarantine_panel.refresh()
        self.orders_panel.refresh()
        self.plugins_panel.refresh()
        if self.can("audit.view"):
            self.audit_panel.search()
        if self.mapping_panel is not None:
            self.mapping_panel.refresh()

    def map_code(self, device: str, code: str) -> None:
        if self.mapping_panel is None or self.mapping_dock is None:
            self.statusBar().showMessage("Mappings are not available in this build.", 5000)
            return
        self.mapping_dock.show()
        self.mapping_dock.raise_()
        self.mapping_panel.start_new(device, code)

    # -- lock ----------------------------------------------------------------------------
    def hide_for_lock(self) -> None:
        """Nothing readable stays on screen while the session is locked."""
        if self._locked_state is None:
            self._locked_state = self.saveState(STATE_VERSION)
        for dock in self.docks():
            dock.hide()
        # Open dialogs too: the Export dialog shows its filter (a patient ID), the device dialog hosts.
        # The unlock dialog itself is opened after this, so it is never among them.
        self._hidden_dialogs = [d for d in self.findChildren(QDialog) if d.isVisible()]
        for dialog in self._hidden_dialogs:
            dialog.hide()
        self.summary_label.setText("Locked")

    def restore_after_lock(self) -> None:
        if self._locked_state is not None:
            self.restoreState(self._locked_state, STATE_VERSION)
            self._locked_state = None
        for dialog in self._hidden_dialogs:
            dialog.show()
        self._hidden_dialogs = []
        self.apply_permissions()
        self._update_summary()

    # -- commands ------------------------------------------------------------------------
    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._command_tasks.add(task)
        task.add_done_callback(self._command_tasks.discard)

    def enable_device(self, name: str, enabled: bool) -> None:
        async def command() -> None:
            try:
                await self.engine.enable_device(name, enabled)
            except Exception as exc:  # noqa: BLE001 - report, keep the window alive
                _log.warning("gui_enable_device_failed", device=name, error_type=type(exc).__name__)
                verb = "connect" if enabled else "disconnect"
                self.statusBar().showMessage(f"Could not {verb} {name}: {exc}")
                return
            self.devices_model.set_snapshots(self.engine.snapshots())
            self._update_summary()

        verb = "Connecting" if enabled else "Disconnecting"
        self.statusBar().showMessage(f"{verb} {name}…", 3000)
        self._spawn(command())

    def refresh_devices(self) -> None:
        """Rebuild the table from the engine's devices (running and not started) after the engine
        starts, a save or F5: events only update rows, so this is what drops removed or renamed ones."""
        selected = self.devices_panel.selected_name()
        before = {snap.name for snap in self.devices_model.snapshots()}
        snapshots = self.engine.snapshots()
        now = {snap.name for snap in snapshots}
        self._removed_devices = (self._removed_devices | before) - now
        self.devices_model.set_snapshots(snapshots)
        if selected is not None:
            self.devices_panel.select(selected)
        self.sync_device_names()
        self._update_summary()

    def device_configs(self) -> tuple[Any, ...]:
        settings = getattr(self.engine, "settings", None)
        return tuple(getattr(settings, "devices", ()) or ())

    def device_names(self) -> list[str]:
        names = [c.name for c in self.device_configs()]
        names += [s.name for s in self.devices_model.snapshots() if s.name not in names]
        return names

    def sync_device_names(self) -> None:
        names = self.device_names()
        gone = self._listed_devices - set(names)
        self._listed_devices = set(names)
        if gone:
            combos = [self.results_panel.device]
            if self.mapping_panel is not None:
                combos += [self.mapping_panel.device_filter, self.mapping_panel.device]
            for combo in combos:
                _drop_items(combo, gone)
        self.results_panel.set_devices(names)
        self.log_panel.set_devices(names)
        self.orders_panel.sync_devices()
        if self.mapping_panel is not None:
            self.mapping_panel.set_devices(names)

    def open_device_dialog(self, name: str | None) -> Any:
        """Returns the (non-modal) dialog so tests and callers can drive it."""
        from benchlink.gui.panels.device_dialog import DeviceDialog
        from benchlink.transports.serial_port import list_serial_ports

        if not self.can("devices.edit"):
            self.statusBar().showMessage("Adding or editing devices needs a supervisor.", 5000)
            return None
        config = next((c for c in self.device_configs() if c.name == name), None) if name else None
        plugins = getattr(self.engine, "plugins", None)
        drivers = list(plugins.drivers()) if plugins is not None else ["astm", "hl7"]
        def detect(data: bytes) -> tuple[str, str] | None:
            found = plugins.detect(data) if plugins is not None else None
            return (found[0].info.name, found[1]) if found is not None else None

        dialog = DeviceDialog(drivers=drivers, taken_names=self.device_names(), config=config,
                              others=self.device_configs(),
                              list_ports=list_serial_ports, detect=detect, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.save_device(dialog.result_config, config))
        dialog.open()
        return dialog

    def save_device(self, config: Any, previous: Any | None) -> None:
        """Write config.toml atomically, restart only this device, and audit the change."""
        if config is None:
            return
        from benchlink.gui.device_config import device_to_toml, save_device

        path = self.engine.settings.config_file  # type: ignore[attr-defined]
        previous_name = previous.name if previous is not None else None
        devices = [c for c in self.device_configs() if c.name not in {previous_name, config.name}]
        devices.append(config)
        store, actor = self.engine.store, self.actor_name()
        before = device_to_toml(previous) if previous is not None else None
        after = device_to_toml(config)

        async def command() -> None:
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(None, lambda: save_device(path, config, previous_name=previous_name))
                await loop.run_in_executor(None, lambda: store.audit().append(
                    actor, "device.edit" if previous is not None else "device.add", f"device:{config.name}",
                    before, after))
                await self.engine.apply_devices(tuple(devices))
            except Exception as exc:  # noqa: BLE001 - the dialog closed; the status bar says why
                _log.warning("gui_device_save_failed", device=config.name, error_type=type(exc).__name__)
                self.statusBar().showMessage(f"Could not save {config.name}: {exc}")
                return
            self.refresh_devices()
            self.devices_panel.select(config.name)
            self.statusBar().showMessage(f"Saved {config.name} to {path.name}; only this device restarted", 8000)

        self._spawn(command())

    def open_export_dialog(self) -> Any:
        from benchlink.gui.export_dialog import ExportDialog

        if not self.can("export"):
            return None
        settings = getattr(self.engine, "settings", None)
        export_dir = getattr(settings, "export_dir", None)
        if export_dir is not None:
            export_dir.mkdir(parents=True, exist_ok=True)
        dialog = ExportDialog(self.engine.store, self.results_panel.current_filter(),
                              default_dir=export_dir or Path.home(),
                              actor=self.actor_name(), parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _code: self.results_panel.apply_filter())
        dialog.open()
        return dialog

    async def wait_for_commands(self) -> None:
        """Every engine call the window started has finished: only then may the engine stop."""
        def in_flight() -> tuple[asyncio.Task[None], ...]:
            mapping = getattr(self.mapping_panel, "pending", None) or set()
            return (*self._command_tasks, *mapping)

        while tasks := in_flight():
            await asyncio.gather(*tasks, return_exceptions=True)

    def refresh_results_today(self) -> None:
        midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
        flt = self._make_filter(since=midnight)
        store = self.engine.store
        self.count_runner.submit(lambda: store.count_results(flt), self._results_today_arrived)

    def _results_today_arrived(self, count: int) -> None:
        self.results_today = count
        self._update_summary()

    def _update_summary(self) -> None:
        if self._locked_state is not None:
            return
        snapshots = self.devices_model.snapshots()
        linked = sum(1 for snap in snapshots if is_linked(snap))
        errors = sum(1 for snap in snapshots if snap.state == DeviceState.ERROR)
        text = summary_text(len(snapshots), linked, self.results_today)
        if errors:
            text += f" · {errors} in error"
        self.summary_label.setText(text)

    # -- engine events -------------------------------------------------------------------
    def _schedule_drain(self) -> None:
        if not self._drain_timer.isActive():
            self._drain_timer.start()

    def _drain_events(self) -> None:
        if self._closing:
            return
        trace: list[TraceChunk] = []
        snapshots: dict[str, Any] = {}  # a device flips receiving/connected per message: keep the last
        changed = False
        stored = False
        quarantined = False
        for event in self.events.take():
            if isinstance(event, TraceChunk):
                trace.append(event)
            elif isinstance(event, DeviceChanged):
                self.notifier.device_changed(event.snapshot)  # sees every transition into error
                snapshots[event.snapshot.name] = event.snapshot
                changed = True
            elif isinstance(event, ResultsStored):
                stored = True
            elif isinstance(event, MessageQuarantined):
                quarantined = True
                self.notifier.quarantined(event.device, event.quarantine_id)
                # The decode error can quote message bytes (PHI); the status bar names only the device.
                self.statusBar().showMessage(
                    f"A message from {event.device} could not be decoded and was quarantined "
                    f"(#{event.quarantine_id})",
                    15_000,
                )
        if trace:
            self.trace_panel.add_chunks(trace)
        if snapshots:
            self._apply_device_events(list(snapshots.values()))
        if changed:
            self._update_summary()
        if stored:
            self.results_model.notify_new_results()
            if not self._today_timer.isActive():
                self._today_timer.start()
        if quarantined:
            self.quarantine_panel.refresh()

    def _apply_device_events(self, snapshots: list[DeviceSnapshot]) -> None:
        """Update rows from events without resurrecting removed devices: one removed or renamed
        away still sends its final "stopped" after the table was rebuilt, and that event must drop
        its row (or be ignored), not bring it back as a ghost. Other unknown names are added: the
        engine may still be starting its devices when the window first reads them."""
        live: set[str] | None = None

        def engine_has(name: str) -> bool:
            nonlocal live
            if live is None:  # read once per drain, and only when a row may come or go
                live = {snap.name for snap in self.engine.snapshots()}
            return name in live

        rows_changed = False
        for snapshot in snapshots:
            name = snapshot.name
            known = self.devices_model.has(name)
            if known and snapshot.state == DeviceState.STOPPED and not engine_has(name):
                self._removed_devices.add(name)
                rows_changed = self.devices_model.remove(name) or rows_changed
            elif known or name not in self._removed_devices or engine_has(name):
                self._removed_devices.discard(name)
                rows_changed = self.devices_model.apply(snapshot) or rows_changed
        if rows_changed:
            self.sync_device_names()

    # -- shutdown ------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closing:
            self._closing = True
            self.save_layout()
            self._unsubscribe()
            self.log_feed.close()
            self.notifier.close()
            self._today_timer.stop()
            self._minute_timer.stop()
            self._drain_timer.stop()
            self.runner.close()
            self.count_runner.close()
            self.closed.emit()
        super().closeEvent(event)


def _drop_items(combo: Any, names: set[str]) -> None:
    """Take removed devices out of a device list, except the one it is filtering on right now:
    switching the operator's filter under them would silently change what they are looking at."""
    for name in names:
        index = combo.findText(name)
        if index >= 0 and index != combo.currentIndex():
            combo.removeItem(index)


class _NoPlugins:
    records: list[Any] = []

    def drivers(self) -> dict[str, Any]:
        return {}


def _default_retry(engine: Any) -> Callable[[Any, str], str] | None:
    """Retry = replay the stored bytes through the device's driver (storage.replay, when present)."""
    try:
        from benchlink.gui.replay_actions import make_retry
    except ImportError:
        return None
    return make_retry(engine)


def _make_mapping_panel(window: MainWindow) -> Any:
    try:
        from benchlink.gui.panels.mapping import MappingPanel
    except ImportError:
        return None
    return MappingPanel(window.engine, window.runner, actor=window.actor_name, parent=None, load=False)

