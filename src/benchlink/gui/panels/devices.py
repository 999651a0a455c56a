"""Which analyzers are connected, at a glance, and the switch to (dis)connect one."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from benchlink.core.status import DeviceState
from benchlink.gui.models.devices_model import COLUMN_KEYS, DevicesModel
from benchlink.gui.widgets import explain_permission

EMPTY_TEXT = ("No devices yet. Click “Add device…” to connect an analyzer (serial or TCP), "
              "or start the demo analyzer with: benchlink --demo")

_OFF_STATES = frozenset({DeviceState.DISABLED, DeviceState.STOPPED})


class DevicesPanel(QWidget):
    """Emits enable_requested(name, enabled); the window turns that into an engine call."""

    enable_requested = Signal(str, bool)
    add_requested = Signal()
    edit_requested = Signal(str)

    def __init__(self, model: DevicesModel, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("devicesPanel")
        self.model = model

        self.table = QTableView(self)
        self.table.setObjectName("devicesTable")
        self.table.setAccessibleName("Devices")
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        # Sized when devices come and go, not on every state change: ResizeToContents would
        # re-measure every cell each time a device flips between receiving and connected.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COLUMN_KEYS.index("state"), QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)

        self.empty_label = QLabel(EMPTY_TEXT, self)
        self.empty_label.setObjectName("devicesEmpty")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        # Focusable so Ctrl+1 lands somewhere a screen reader can read out when there are no rows.
        self.empty_label.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.empty_label.setAccessibleName("Devices")
        self.empty_label.setAccessibleDescription(EMPTY_TEXT)

        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.empty_label)
        self.stack.addWidget(self.table)

        self.connect_button = QPushButton("&Connect", self)
        self.connect_button.setAccessibleName("Connect selected device")
        self.connect_button.setToolTip("Enable the selected device and open its link")
        self.disconnect_button = QPushButton("D&isconnect", self)  # Alt+D is the Devices menu
        self.disconnect_button.setAccessibleName("Disconnect selected device")
        self.disconnect_button.setToolTip("Close the selected device's link and stop reconnecting")
        self.connect_button.clicked.connect(lambda: self._request(True))
        self.disconnect_button.clicked.connect(lambda: self._request(False))

        self.add_button = QPushButton("&Add device…", self)
        self.add_button.setAccessibleName("Add a device")
        self.add_button.setToolTip("Configure a new analyzer connection (saved to config.toml)")
        self.add_button.clicked.connect(self.add_requested.emit)
        self.edit_button = QPushButton("&Edit…", self)
        self.edit_button.setAccessibleName("Edit the selected device")
        self.edit_button.setToolTip("Change driver, transport and tolerances; only this device restarts")
        self.edit_button.clicked.connect(self._edit)
        self.table.doubleClicked.connect(lambda _index: self._edit())
        self._editable = True

        buttons = QHBoxLayout()
        buttons.addWidget(self.connect_button)
        buttons.addWidget(self.disconnect_button)
        buttons.addStretch(1)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.edit_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.stack, 1)
        layout.addLayout(buttons)

        model.modelReset.connect(self._sync)
        model.rowsInserted.connect(self._sync)
        model.rowsRemoved.connect(self._sync)
        model.dataChanged.connect(self._sync_buttons)
        self.table.selectionModel().selectionChanged.connect(self._sync_buttons)

        # Relative "last activity" times age on their own.
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(model.tick)
        self._ticker.start()
        self._sync()

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        snap = self.model.snapshot_at(rows[0].row())
        return snap.name if snap is not None else None

    def select(self, name: str) -> None:
        for row, snap in enumerate(self.model.snapshots()):
            if snap.name == name:
                self.table.selectionModel().select(
                    self.model.index(row, 0),
                    QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
                )
                return

    def focus_view(self) -> None:
        current = self.stack.currentWidget()
        if current is not None:
            current.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _request(self, enabled: bool) -> None:
        name = self.selected_name()
        if name is not None:
            self.enable_requested.emit(name, enabled)

    def _edit(self) -> None:
        name = self.selected_name()
        if name is not None and self._editable:
            self.edit_requested.emit(name)

    def set_editable(self, editable: bool) -> None:
        """Adding and editing devices needs the devices.edit permission; (dis)connecting does not."""
        self._editable = editable
        self.add_button.setEnabled(editable)
        explain_permission((self.add_button, self.edit_button), editable)
        self._sync_buttons()

    def _sync(self) -> None:
        has_rows = self.model.rowCount() > 0
        if has_rows:
            for column, key in enumerate(COLUMN_KEYS):
                if key != "state":
                    self.table.resizeColumnToContents(column)
        self.stack.setCurrentWidget(self.table if has_rows else self.empty_label)
        if has_rows and not self.table.selectionModel().hasSelection():
            self.table.selectRow(0)
        self._sync_buttons()

    def _sync_buttons(self, *_: Any) -> None:
        name = self.selected_name()
        snap = next((s for s in self.model.snapshots() if s.name == name), None)
        self.edit_button.setEnabled(snap is not None and self._editable)
        if snap is None:
            self.connect_button.setEnabled(False)
            self.disconnect_button.setEnabled(False)
            return
        off = snap.state in _OFF_STATES
        self.connect_button.setEnabled(off or snap.state == DeviceState.ERROR)
        self.disconnect_button.setEnabled(not off)
