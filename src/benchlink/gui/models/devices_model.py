"""Device health as a table, one row per configured device, keyed by name."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPixmap

from benchlink.core.status import DeviceSnapshot, DeviceState
from benchlink.gui.formatting import relative_time
from benchlink.gui.models.table_model import KeyedRowsModel

Index = QModelIndex | QPersistentModelIndex

# Green means results can flow, amber means waiting for the analyzer, red needs a person.
STATE_COLOURS: dict[DeviceState, str] = {
    DeviceState.CONNECTED: "#2e9d4f",
    DeviceState.RECEIVING: "#2e9d4f",
    DeviceState.SENDING: "#2e9d4f",
    DeviceState.LISTENING: "#d99a1e",
    DeviceState.CONNECTING: "#d99a1e",
    DeviceState.ERROR: "#d0342c",
    DeviceState.DISABLED: "#8a8f98",
    DeviceState.STOPPED: "#8a8f98",
}

LINKED_STATES = frozenset({DeviceState.CONNECTED, DeviceState.RECEIVING, DeviceState.SENDING})

COLUMNS: tuple[tuple[str, str], ...] = (
    ("light", ""),
    ("name", "Device"),
    ("driver", "Driver"),
    ("transport", "Transport"),
    ("state", "State"),
    ("messages", "Messages"),
    ("results", "Results"),
    ("errors", "Errors"),
    ("last_activity", "Last activity"),
)
COLUMN_KEYS: tuple[str, ...] = tuple(key for key, _ in COLUMNS)
_COUNTER_COLUMNS = frozenset({"messages", "results", "errors"})


def state_colour(state: DeviceState) -> QColor:
    return QColor(STATE_COLOURS.get(state, "#8a8f98"))


def is_linked(snapshot: DeviceSnapshot) -> bool:
    return snapshot.state in LINKED_STATES


def state_text(snapshot: DeviceSnapshot) -> str:
    return f"{snapshot.state.value}: {snapshot.reason}" if snapshot.reason else snapshot.state.value


_icon_cache: dict[str, QIcon] = {}


def status_icon(state: DeviceState) -> QIcon:
    """A round light; painted once per colour because the view asks for it on every repaint."""
    colour = STATE_COLOURS.get(state, "#8a8f98")
    icon = _icon_cache.get(colour)
    if icon is None:
        pixmap = QPixmap(14, 14)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QColor(colour).darker(130))
        painter.setBrush(QColor(colour))
        painter.drawEllipse(1, 1, 12, 12)
        painter.end()
        icon = _icon_cache[colour] = QIcon(pixmap)
    return icon


class DevicesModel(KeyedRowsModel):
    columns_spec = COLUMNS

    def __init__(self, clock: Callable[[], float] = time.time, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[DeviceSnapshot] = []
        self._clock = clock

    # -- updates -------------------------------------------------------------------------
    def set_snapshots(self, snapshots: Iterable[DeviceSnapshot]) -> None:
        self.beginResetModel()
        self._rows = list(snapshots)
        self.endResetModel()

    def apply(self, snapshot: DeviceSnapshot) -> bool:
        """Replace one device's row in place so selection and scroll position survive; returns
        True when the device was new to the table. Callers decide whether an unknown name is a
        device the engine really runs: a late event from a removed one must not bring it back."""
        for row, current in enumerate(self._rows):
            if current.name == snapshot.name:
                self._rows[row] = snapshot
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
                return False
        position = len(self._rows)
        self.beginInsertRows(QModelIndex(), position, position)
        self._rows.append(snapshot)
        self.endInsertRows()
        return True

    def remove(self, name: str) -> bool:
        """Drop one device's row (removed or renamed in the engine) without resetting the others."""
        for row, current in enumerate(self._rows):
            if current.name == name:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._rows[row]
                self.endRemoveRows()
                return True
        return False

    def has(self, name: str) -> bool:
        return any(row.name == name for row in self._rows)

    def tick(self) -> None:
        """Relative times age without new snapshots; repaint just that column."""
        if self._rows:
            column = COLUMN_KEYS.index("last_activity")
            self.dataChanged.emit(
                self.index(0, column), self.index(len(self._rows) - 1, column), [Qt.ItemDataRole.DisplayRole]
            )

    def snapshot_at(self, row: int) -> DeviceSnapshot | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def snapshots(self) -> list[DeviceSnapshot]:
        return list(self._rows)

    # -- Qt model API --------------------------------------------------------------------
    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal
                and 0 <= section < len(COLUMNS) and COLUMNS[section][0] == "light"):
            return "Link status"
        return super().headerData(section, orientation, role)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        snap = self._rows[index.row()]
        key = COLUMN_KEYS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(snap, key)
        if role == Qt.ItemDataRole.DecorationRole and key == "light":
            return status_icon(snap.state)
        if role == Qt.ItemDataRole.ForegroundRole and key == "state":
            return QBrush(state_colour(snap.state)) if snap.state == DeviceState.ERROR else None
        described = role in (Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole)
        if described and key in ("light", "state"):
            # The light alone is colour-only; the tooltip/accessible text carries the words.
            tip = state_text(snap)
            return f"{tip} (peer {snap.peer})" if snap.peer else tip
        if role == Qt.ItemDataRole.TextAlignmentRole and key in _COUNTER_COLUMNS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return snap.name
        return None

    def _display(self, snap: DeviceSnapshot, key: str) -> str | None:
        if key == "light":
            return None
        if key == "state":
            return state_text(snap)
        if key in _COUNTER_COLUMNS:
            return str(snap.counters.get(key, 0))
        if key == "last_activity":
            return relative_time(snap.last_activity, self._clock())
        value = getattr(snap, key)
        return str(value)
