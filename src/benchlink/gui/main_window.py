"""The Benchlink shell: dockable Devices / Results / Log panels over one engine.

The window only renders models and forwards commands. Engine events arrive on the loop
thread (the Qt thread under qasync) and go through a queued Qt signal anyway, so a
publisher on another thread could never touch a widget directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from PySide6.QtCore import QByteArray, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QWidget

from benchlink.core.events import DeviceChanged, MessageQuarantined, ResultsStored
from benchlink.core.logbuffer import GLOBAL_LOG, LogRing
from benchlink.gui.contracts import GuiEngine
from benchlink.gui.formatting import summary_text
from benchlink.gui.models.devices_model import DevicesModel, is_linked
from benchlink.gui.models.log_model import LogFeed, LogModel
from benchlink.gui.models.results_model import ResultsModel
from benchlink.gui.panels.devices import DevicesPanel
from benchlink.gui.panels.log import LogPanel
from benchlink.gui.panels.results import ResultsPanel
from benchlink.gui.queries import QueryRunner

_log = structlog.get_logger("benchlink.gui")

STATE_VERSION = 1


def default_filter_factory() -> Callable[..., Any]:
    from benchlink.storage.store import ResultFilter

    return ResultFilter


class _BusBridge(QObject):
    received = Signal(object)


class MainWindow(QMainWindow):
    """Must be created while the asyncio loop runs (qasync), because it starts reading at once."""

    closed = Signal()

    def __init__(
        self,
        engine: GuiEngine,
        *,
        settings: QSettings | None = None,
        make_filter: Callable[..., Any] | None = None,
        log_ring: LogRing = GLOBAL_LOG,
        page_size: int = 100,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("Benchlink")
        self.engine = engine
        self.settings = settings if settings is not None else QSettings()
        self._make_filter = make_filter or default_filter_factory()
        self.runner = QueryRunner()
        self.results_today: int | None = None
        self._command_tasks: set[asyncio.Task[None]] = set()
        self._closing = False

        self.devices_model = DevicesModel(parent=self)
        self.results_model = ResultsModel(engine.store, self.runner, page_size=page_size, parent=self)
        self.log_model = LogModel(parent=self)
        self.log_feed = LogFeed(log_ring, self.log_model, parent=self)

        self.devices_panel = DevicesPanel(self.devices_model)
        self.results_panel = ResultsPanel(self.results_model, self._make_filter)
        self.log_panel = LogPanel(self.log_model)
        self.devices_dock = self._dock("devicesDock", "&Devices", self.devices_panel)
        self.results_dock = self._dock("resultsDock", "&Results", self.results_panel)
        self.log_dock = self._dock("logDock", "&Log", self.log_panel)
        self.setDockNestingEnabled(True)
        self._default_layout()
        self._default_state = self.saveState(STATE_VERSION)

        self.summary_label = QLabel("", self)
        self.summary_label.setObjectName("deviceSummary")
        self.summary_label.setAccessibleName("Device summary")
        self.statusBar().addPermanentWidget(self.summary_label)

        self._build_actions()

        self.devices_panel.enable_requested.connect(self.enable_device)
        self._bridge = _BusBridge(self)
        self._bridge.received.connect(self._on_event, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe = engine.bus.subscribe(self._bridge.received.emit)

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
        self.devices_model.set_snapshots(engine.snapshots())
        self.results_panel.apply_filter()
        self.refresh_results_today()
        self._update_summary()

    # -- construction --------------------------------------------------------------------
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

    def _default_layout(self) -> None:
        for dock in (self.devices_dock, self.results_dock, self.log_dock):
            self.removeDockWidget(dock)
        self.addDockWidget(Qt.DockWidgetArea.TopDockWidgetArea, self.devices_dock)
        self.splitDockWidget(self.devices_dock, self.results_dock, Qt.Orientation.Vertical)
        self.splitDockWidget(self.results_dock, self.log_dock, Qt.Orientation.Vertical)
        for dock in (self.devices_dock, self.results_dock, self.log_dock):
            dock.show()
        self.resizeDocks(
            [self.devices_dock, self.results_dock, self.log_dock], [115, 480, 160], Qt.Orientation.Vertical
        )

    def _build_actions(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        view_menu = self.menuBar().addMenu("&View")
        self.panel_actions: list[QAction] = []
        for number, (dock, panel) in enumerate(
            ((self.devices_dock, self.devices_panel), (self.results_dock, self.results_panel),
             (self.log_dock, self.log_panel)),
            start=1,
        ):
            action = QAction(f"Go to {dock.windowTitle()}", self)
            action.setShortcut(QKeySequence(f"Ctrl+{number}"))
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
        view_menu.addSeparator()
        for dock in (self.devices_dock, self.results_dock, self.log_dock):
            view_menu.addAction(dock.toggleViewAction())
        reset = QAction("Reset &layout", self)
        reset.triggered.connect(self.reset_layout)
        view_menu.addAction(reset)

    # -- layout persistence --------------------------------------------------------------
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

    def save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(STATE_VERSION))
        self.settings.sync()

    def reset_layout(self) -> None:
        self.restoreState(self._default_state, STATE_VERSION)
        for dock in (self.devices_dock, self.results_dock, self.log_dock):
            dock.setFloating(False)
            dock.show()

    # -- navigation ----------------------------------------------------------------------
    def show_panel(self, dock: QDockWidget, panel: Any) -> None:
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

    # -- commands ------------------------------------------------------------------------
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
        task = asyncio.get_running_loop().create_task(command())
        self._command_tasks.add(task)
        task.add_done_callback(self._command_tasks.discard)

    async def wait_for_commands(self) -> None:
        while self._command_tasks:
            await asyncio.gather(*tuple(self._command_tasks), return_exceptions=True)

    def refresh_results_today(self) -> None:
        midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
        flt = self._make_filter(since=midnight)
        store = self.engine.store
        self.runner.submit(lambda: store.count_results(flt), self._results_today_arrived)

    def _results_today_arrived(self, count: int) -> None:
        self.results_today = count
        self._update_summary()

    def _update_summary(self) -> None:
        snapshots = self.devices_model.snapshots()
        linked = sum(1 for snap in snapshots if is_linked(snap))
        self.summary_label.setText(summary_text(len(snapshots), linked, self.results_today))

    # -- engine events -------------------------------------------------------------------
    def _on_event(self, event: object) -> None:
        if self._closing:
            return
        if isinstance(event, DeviceChanged):
            self.devices_model.apply(event.snapshot)
            self._update_summary()
        elif isinstance(event, ResultsStored):
            self.results_model.notify_new_results()
            if not self._today_timer.isActive():
                self._today_timer.start()
        elif isinstance(event, MessageQuarantined):
            # The decode error can quote message bytes (PHI); the status bar names only the device.
            self.statusBar().showMessage(
                f"A message from {event.device} could not be decoded and was quarantined "
                f"(#{event.quarantine_id})",
                15_000,
            )

    # -- shutdown ------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closing:
            self._closing = True
            self.save_layout()
            self._unsubscribe()
            self.log_feed.close()
            self._today_timer.stop()
            self._minute_timer.stop()
            self.runner.close()
            self.closed.emit()
        super().closeEvent(event)
