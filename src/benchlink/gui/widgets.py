"""Building blocks every panel uses, so tables look and read the same everywhere."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QStackedWidget,
    QTableView,
    QWidget,
)


def make_table(parent: QWidget, name: str, accessible: str, model: QAbstractItemModel) -> QTableView:
    table = QTableView(parent)
    table.setObjectName(name)
    table.setAccessibleName(accessible)
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    # Tab leaves the table for the next control (arrows move between cells); moving cell by cell
    # trapped keyboard users in a table of thousands of rows.
    table.setTabKeyNavigation(False)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 6)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(True)
    header.setHighlightSections(False)
    # Small minimum so many docks still fit a 768-pixel-high screen; the splitters give room back.
    table.setMinimumHeight(table.fontMetrics().height() * 4)
    return table


def empty_label(parent: QWidget, name: str, text: str, accessible: str) -> QLabel:
    """The hint a new operator sees instead of a blank table: what to do next."""
    label = QLabel(text, parent)
    label.setObjectName(name)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    label.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    label.setAccessibleName(accessible)
    label.setAccessibleDescription(text)
    return label


class EmptyOr(QStackedWidget):
    """Shows `view` when its model has rows, else the hint; follows the model by itself."""

    def __init__(self, view: QTableView, hint: QLabel, parent: Any = None) -> None:
        super().__init__(parent)
        self.view = view
        self.hint = hint
        self.addWidget(hint)
        self.addWidget(view)
        model = view.model()
        for signal in (model.modelReset, model.rowsInserted, model.rowsRemoved, model.layoutChanged):
            signal.connect(self.sync)
        self.sync()

    def sync(self, *_: Any) -> None:
        self.setCurrentWidget(self.view if self.view.model().rowCount() > 0 else self.hint)

    def focus(self) -> None:
        current = self.currentWidget()
        if current is not None:
            current.setFocus(Qt.FocusReason.ShortcutFocusReason)


def text_view(parent: QWidget, name: str, accessible: str) -> QPlainTextEdit:
    view = QPlainTextEdit(parent)
    view.setObjectName(name)
    view.setAccessibleName(accessible)
    view.setReadOnly(True)
    view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
    font = view.font()
    font.setFamily("monospace")
    font.setStyleHint(font.StyleHint.Monospace)
    view.setFont(font)
    view.setMinimumHeight(view.fontMetrics().height() * 3)
    return view


NEEDS_SUPERVISOR = "Needs a supervisor or admin: sign in with such an account to change this."


def explain_permission(widgets: Any, allowed: bool, why: str = NEEDS_SUPERVISOR) -> None:
    """Show ``why`` as the tooltip of each widget the signed-in role may not use (its own tooltip
    otherwise): a greyed-out button alone left operators guessing whether something was broken."""
    for widget in widgets:
        original = widget.property("permittedToolTip")
        if original is None:
            original = widget.toolTip()
            widget.setProperty("permittedToolTip", original)
        widget.setToolTip(str(original) if allowed else why)
