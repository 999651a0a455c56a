"""One small table model for the panels whose rows are plain records (orders, audit, plugins...).

Each column says how to turn a row into text; the model is bounded when asked to be, dropping
the oldest rows first, so a live feed (the wire trace) cannot grow without limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush

from benchlink.gui.formatting import display_value

Index = QModelIndex | QPersistentModelIndex


def _attribute(key: str) -> Callable[[Any], str]:
    return lambda row: display_value(getattr(row, key, None))


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str
    text: Callable[[Any], str] | None = None
    numeric: bool = False
    tooltip: Callable[[Any], str | None] | None = None

    def render(self, row: Any) -> str:
        return (self.text or _attribute(self.key))(row)


class RowsModel(QAbstractTableModel):
    def __init__(
        self,
        columns: Sequence[Column],
        *,
        capacity: int | None = None,
        background: Callable[[Any], QBrush | None] | None = None,
        foreground: Callable[[Any], QBrush | None] | None = None,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self.columns = tuple(columns)
        self.keys = tuple(c.key for c in self.columns)
        self.capacity = capacity
        self._rows: list[Any] = []
        self._background = background
        self._foreground = foreground

    def set_rows(self, rows: Iterable[Any]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        if self.capacity is not None:
            self._rows = self._rows[-self.capacity :]
        self.endResetModel()

    def append_rows(self, rows: Iterable[Any]) -> None:
        batch = list(rows)
        if self.capacity is not None:
            batch = batch[-self.capacity :]
        if not batch:
            return
        if self.capacity is not None:
            overflow = len(self._rows) + len(batch) - self.capacity
            if overflow > 0:
                self.beginRemoveRows(QModelIndex(), 0, overflow - 1)
                del self._rows[:overflow]
                self.endRemoveRows()
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(batch) - 1)
        self._rows.extend(batch)
        self.endInsertRows()

    def clear(self) -> None:
        self.set_rows([])

    def rows(self) -> list[Any]:
        return list(self._rows)

    def row_at(self, row: int) -> Any | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def column_of(self, key: str) -> int:
        return self.keys.index(key)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal
        if role == Qt.ItemDataRole.DisplayRole and horizontal and 0 <= section < len(self.columns):
            return self.columns[section].title
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.render(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            return column.tooltip(row) if column.tooltip is not None else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column.numeric:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.BackgroundRole and self._background is not None:
            return self._background(row)
        if role == Qt.ItemDataRole.ForegroundRole and self._foreground is not None:
            return self._foreground(row)
        if role == Qt.ItemDataRole.UserRole:
            return row
        return None


class KeyedRowsModel(QAbstractTableModel):
    """Row/column counts and header titles for the hand-written models (devices, results, log),
    which keep their rows in ``self._rows`` and their columns as ``(key, title)`` pairs."""

    columns_spec: tuple[tuple[str, str], ...] = ()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: Any = []  # a list, or a bounded deque for the log

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns_spec)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal
        if role == Qt.ItemDataRole.DisplayRole and horizontal and 0 <= section < len(self.columns_spec):
            return self.columns_spec[section][1]
        return None
