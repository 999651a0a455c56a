"""Instrument code -> lab code, per device: edit, import/export CSV, see history, map what arrived
unmapped in one click, and replay the affected results after a change.

Every change is a new version in the mapping store, audited under the signed-in user. Nothing here
blocks the GUI thread: reads, writes and replays all go through the query thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from benchlink.gui.models.table_model import Column, RowsModel
from benchlink.gui.queries import QueryRunner
from benchlink.gui.unmapped import unmapped_codes
from benchlink.gui.widgets import EmptyOr, empty_label, explain_permission, make_table

ALL = "All devices"
EVERY_DEVICE = "*"
EMPTY_TEXT = ("No mappings yet. Pick a code from “Unmapped codes seen” below and click “Map…”, "
              "or import a CSV (device, instrument_code, lis_code, name, units, factor).")
UNMAPPED_EMPTY = "Every code received so far is mapped."
_UNMAPPED = QBrush(QColor(255, 196, 0, 70))


def _factor(row: Any) -> str:
    return f"{row.factor:g}"


class MappingPanel(QWidget):
    replayed = Signal(str)

    def __init__(self, engine: Any, runner: QueryRunner, *, actor: Callable[[], str], parent: Any = None,
                 load: bool = True) -> None:
        """`load=False` leaves the first read to the caller: listing unmapped codes groups every
        stored result (1.6 s at a million rows), so the window runs it only once the panel is shown."""
        super().__init__(parent)
        self.setObjectName("mappingPanel")
        from benchlink.storage.mappings import MappingStore

        self.engine = engine
        self.store = MappingStore(engine.store.engine, engine.store.audit())
        self.runner = runner
        self._actor = actor
        self._editable = True
        self.last_changed_device: str | None = None
        #: engine calls in flight (the window waits for them before the engine stops)
        self.pending: set[asyncio.Task[None]] = set()

        self.model = RowsModel(
            (
                Column("device", "Device", lambda r: "every device" if r.device == EVERY_DEVICE else r.device),
                Column("instrument_code", "Instrument code"),
                Column("lis_code", "LIS code"),
                Column("name", "Name"),
                Column("units", "Units"),
                Column("factor", "Factor", _factor, numeric=True),
                Column("version", "Version", lambda r: f"v{r.version}", numeric=True),
                Column("valid_from", "Since"),
            ),
            parent=self,
        )
        self.unmapped_model = RowsModel(
            (
                Column("device", "Device"),
                Column("instrument_code", "Instrument code"),
                Column("test_name", "Name sent"),
                Column("count", "Results", lambda r: str(r.count), numeric=True),
                Column("last_seen", "Last seen"),
            ),
            background=lambda _r: _UNMAPPED,
            parent=self,
        )
        self.history_model = RowsModel(
            (
                Column("version", "Version", lambda r: f"v{r.version}"),
                Column("lis_code", "LIS code"),
                Column("units", "Units"),
                Column("factor", "Factor", _factor),
                Column("valid_from", "From"),
                Column("retired", "State", lambda r: "replaced" if r.retired else "current"),
            ),
            parent=self,
        )

        # -- top bar
        self.device_filter = QComboBox(self)
        self.device_filter.setObjectName("mappingDeviceFilter")
        self.device_filter.setAccessibleName("Show mappings of device")
        self.device_filter.addItems([ALL, EVERY_DEVICE])
        self.device_filter.currentTextChanged.connect(lambda _t: self.refresh())
        self.import_button = QPushButton("&Import CSV…", self)
        self.import_button.setAccessibleName("Import mappings from CSV")
        self.import_button.clicked.connect(self.choose_import)
        self.export_button = QPushButton("E&xport CSV…", self)
        self.export_button.setAccessibleName("Export mappings to CSV")
        self.export_button.clicked.connect(self.choose_export)
        bar = QHBoxLayout()
        label = QLabel("De&vice", self)
        label.setBuddy(self.device_filter)
        bar.addWidget(label)
        bar.addWidget(self.device_filter)
        bar.addStretch(1)
        bar.addWidget(self.import_button)
        bar.addWidget(self.export_button)

        # -- editor
        editor = QGroupBox("Mapping", self)
        self.device = QComboBox(editor)
        self.device.setObjectName("mappingDevice")
        self.device.setAccessibleName("Mapping device")
        self.device.setEditable(True)
        self.device.addItem(EVERY_DEVICE)
        self.code = QLineEdit(editor)
        self.code.setObjectName("mappingCode")
        self.code.setAccessibleName("Instrument code")
        self.lis = QLineEdit(editor)
        self.lis.setObjectName("mappingLis")
        self.lis.setAccessibleName("LIS code")
        self.name = QLineEdit(editor)
        self.name.setAccessibleName("Test name")
        self.units = QLineEdit(editor)
        self.units.setAccessibleName("Units")
        self.factor = QLineEdit("1", editor)
        self.factor.setObjectName("mappingFactor")
        self.factor.setAccessibleName("Conversion factor")
        self.factor.setToolTip("The numeric value is multiplied by this factor (1 = no conversion)")
        self.save_button = QPushButton("&Save mapping", editor)
        self.save_button.setAccessibleName("Save mapping")
        self.save_button.clicked.connect(self.save)
        self.retire_button = QPushButton("&Remove", editor)
        self.retire_button.setAccessibleName("Remove the selected mapping")
        self.retire_button.clicked.connect(self.retire_selected)
        self.error = QLabel("", editor)
        self.error.setObjectName("mappingError")
        self.error.setAccessibleName("Mapping problem")
        self.error.setStyleSheet("color: #d0342c;")
        self.error.setWordWrap(True)
        grid = QGridLayout(editor)
        for col, (text, widget) in enumerate((("Device", self.device), ("Instrument code", self.code),
                                              ("LIS code", self.lis), ("Name", self.name), ("Units", self.units),
                                              ("Factor", self.factor))):
            caption = QLabel(text, editor)
            caption.setBuddy(widget)
            grid.addWidget(caption, 0, col)
            grid.addWidget(widget, 1, col)
        grid.addWidget(self.save_button, 1, 6)
        grid.addWidget(self.retire_button, 1, 7)
        grid.addWidget(self.error, 2, 0, 1, 8)
        grid.setContentsMargins(6, 2, 6, 2)
        self.error.hide()  # shown only with a problem, so the table keeps the room
        self.lis.returnPressed.connect(self.save)
        self.factor.returnPressed.connect(self.save)

        # -- replay offer
        self.replay_box = QWidget(self)
        self.replay_text = QLabel("", self.replay_box)
        self.replay_text.setObjectName("replayOffer")
        self.replay_text.setWordWrap(True)
        self.replay_button = QPushButton("Re&play affected results", self.replay_box)
        self.replay_button.setAccessibleName("Replay the results affected by the mapping change")
        self.replay_button.clicked.connect(self.replay_changed)
        replay_row = QHBoxLayout(self.replay_box)
        replay_row.setContentsMargins(0, 0, 0, 0)
        replay_row.addWidget(self.replay_text, 1)
        replay_row.addWidget(self.replay_button)
        self.replay_box.hide()
        self.status = QLabel("", self)
        self.status.setObjectName("mappingStatus")
        self.status.setAccessibleName("Mapping status")
        self.status.setWordWrap(True)

        # -- tables
        self.table = make_table(self, "mappingTable", "Mappings", self.model)
        self.stack = EmptyOr(self.table, empty_label(self, "mappingEmpty", EMPTY_TEXT, "Mappings"), self)
        self.history_table = make_table(self, "mappingHistory", "Versions of the selected mapping",
                                        self.history_model)
        self.unmapped_table = make_table(self, "unmappedTable", "Unmapped codes seen", self.unmapped_model)
        self.unmapped_stack = EmptyOr(self.unmapped_table,
                                      empty_label(self, "unmappedEmpty", UNMAPPED_EMPTY, "Unmapped codes"), self)
        self.map_button = QPushButton("&Map…", self)
        self.map_button.setAccessibleName("Map the selected unmapped code")
        self.map_button.clicked.connect(self.map_selected_unmapped)
        self.unmapped_table.doubleClicked.connect(lambda _i: self.map_selected_unmapped())
        unmapped_page = QWidget(self)
        unmapped_layout = QVBoxLayout(unmapped_page)
        unmapped_layout.setContentsMargins(2, 2, 2, 2)
        unmapped_layout.addWidget(self.unmapped_stack, 1)
        unmapped_layout.addWidget(self.map_button, 0, Qt.AlignmentFlag.AlignRight)
        self.side_tabs = QTabWidget(self)
        self.side_tabs.setObjectName("mappingSideTabs")
        self.side_tabs.addTab(unmapped_page, "&Unmapped codes seen")
        self.side_tabs.addTab(self.history_table, "&History")

        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.stack)
        split.addWidget(self.side_tabs)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(editor)
        layout.addWidget(self.replay_box)
        layout.addWidget(split, 1)
        layout.addWidget(self.status)
        self.table.selectionModel().selectionChanged.connect(self._selected)
        if load:
            self.refresh()

    def _set_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    # -- reading -------------------------------------------------------------------------
    def refresh(self) -> None:
        device = self.device_filter.currentText()
        store, engine = self.store, self.engine.store.engine
        self.runner.submit(lambda: store.current_mappings(None if device == ALL else device), self.model.set_rows,
                           lambda exc: self.status.setText(f"Could not read mappings ({type(exc).__name__})"))
        self.runner.submit(lambda: unmapped_codes(engine), self.unmapped_model.set_rows,
                           lambda exc: self.status.setText(f"Could not list unmapped codes ({type(exc).__name__})"))

    def set_devices(self, names: list[str]) -> None:
        for combo in (self.device_filter, self.device):
            for name in names:
                if combo.findText(name) < 0:
                    combo.addItem(name)

    def selected(self) -> Any | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def _selected(self, *_: Any) -> None:
        row = self.selected()
        self.retire_button.setEnabled(self._editable and row is not None)
        if row is None:
            self.history_model.clear()
            return
        self._fill(row.device, row.instrument_code, row.lis_code, row.name, row.units, row.factor)
        store = self.store
        self.runner.submit(lambda: store.history(row.device, row.instrument_code), self.history_model.set_rows)

    def show_history(self) -> None:
        self.side_tabs.setCurrentIndex(1)

    def _fill(self, device: str, code: str, lis: str = "", name: str = "", units: str = "",
              factor: float = 1.0) -> None:
        self.set_devices([device])
        self.device.setCurrentText(device)
        self.code.setText(code)
        self.lis.setText(lis)
        self.name.setText(name)
        self.units.setText(units)
        self.factor.setText(f"{factor:g}")
        self._set_error("")

    # -- one click from an unmapped code ------------------------------------------------
    def start_new(self, device: str, code: str) -> None:
        """Prefill the editor for `code` from `device`; the operator types the lab code and presses Enter."""
        name = next((u.test_name for u in self.unmapped_model.rows()
                     if u.device == device and u.instrument_code == code), "")
        self._fill(device, code, name=name)
        self.lis.setFocus(Qt.FocusReason.OtherFocusReason)

    def map_selected_unmapped(self) -> None:
        rows = self.unmapped_table.selectionModel().selectedRows()
        code = self.unmapped_model.row_at(rows[0].row()) if rows else None
        if code is not None:
            self.start_new(code.device, code.instrument_code)

    # -- writing -------------------------------------------------------------------------
    def set_editable(self, editable: bool) -> None:
        """Mappings are owned by supervisors; operators see them and the unmapped list only."""
        self._editable = editable
        widgets = (self.save_button, self.import_button, self.map_button, self.replay_button, self.lis, self.code,
                   self.factor)
        for widget in widgets:
            widget.setEnabled(editable)
        self.retire_button.setEnabled(editable and self.selected() is not None)
        explain_permission((*widgets, self.retire_button), editable)

    def save(self) -> None:
        if not self._editable:
            return
        device = self.device.currentText().strip() or EVERY_DEVICE
        code, lis = self.code.text().strip(), self.lis.text().strip()
        if not code or not lis:
            self._set_error("Enter the instrument code and the lab (LIS) code it maps to.")
            return
        try:
            factor = float(self.factor.text().strip().replace(",", ".") or "1")
        except ValueError:
            self._set_error(f"Factor {self.factor.text()!r} is not a number; use 1 for no conversion.")
            self.factor.setFocus()
            return
        store, actor, name, units = self.store, self._actor(), self.name.text().strip(), self.units.text().strip()
        self.runner.submit(
            lambda: store.set_mapping(device, code, lis, name=name, units=units, factor=factor, actor=actor),
            lambda row: self._changed(device, f"Saved {code} → {lis} (v{row.version})" if row is not None
                                      else f"{code} → {lis} was already the current mapping"),
            lambda exc: self._set_error(str(exc)),
        )

    def retire_selected(self) -> None:
        row = self.selected()
        if row is None or not self._editable:
            return
        store, actor = self.store, self._actor()
        self.runner.submit(lambda: store.retire(row.device, row.instrument_code, actor=actor),
                           lambda _ok: self._changed(row.device, f"Removed the mapping of {row.instrument_code}"),
                           lambda exc: self._set_error(str(exc)))

    def choose_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import mappings", "", "CSV files (*.csv);;All files (*)")
        if path:
            self.import_csv(Path(path))

    def import_csv(self, path: Path) -> None:
        store, actor = self.store, self._actor()
        self.runner.submit(lambda: store.import_csv(path, actor=actor),
                           lambda counts: self._changed("*", f"Imported {path.name}: {counts[0]} changed, "
                                                             f"{counts[1]} already current"),
                           lambda exc: self._set_error(str(exc)))

    def choose_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export mappings", "mappings.csv", "CSV files (*.csv)")
        if path:
            self.export_csv(Path(path))

    def export_csv(self, path: Path) -> None:
        store = self.store
        self.runner.submit(lambda: store.export_csv(path),
                           lambda count: self.status.setText(f"Exported {count} mappings to {path}"),
                           lambda exc: self._set_error(str(exc)))

    def _changed(self, device: str, text: str) -> None:
        self._reload_live_mapping()
        self.status.setText(text)
        self._set_error("")
        self.last_changed_device = device
        scope = "every device" if device == EVERY_DEVICE else device
        self.replay_text.setText(f"Results already stored from {scope} still carry the old codes. "
                                 "Replay them to apply the change (the raw messages are kept verbatim).")
        self.replay_box.setVisible(self._editable)
        self.refresh()

    def _reload_live_mapping(self) -> None:
        """New results use the changed mapping at once: the engine swaps its table on its own loop."""
        reload = getattr(self.engine, "reload_mappings", None)
        if reload is None:
            return

        async def run() -> None:
            try:
                await reload()
            except Exception as exc:  # noqa: BLE001 - the saved mapping stands; live ingest lags
                self._set_error(f"Saved, but the running devices still use the previous mapping: {exc}")

        task = asyncio.get_running_loop().create_task(run())
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    def replay_changed(self) -> None:
        from benchlink.gui.replay_actions import replay_after_mapping

        device, engine, actor = self.last_changed_device or EVERY_DEVICE, self.engine, self._actor()
        self.replay_button.setEnabled(False)
        self.status.setText("Replaying…")
        self.runner.submit(lambda: replay_after_mapping(engine, device, actor), self._replayed,
                           lambda exc: self._replayed(f"Replay failed: {exc}"))

    def _replayed(self, text: str) -> None:
        self.status.setText(text)
        self.replay_box.hide()
        self.replay_button.setEnabled(self._editable)
        self.refresh()
        self.replayed.emit(text)

    def focus_view(self) -> None:
        self.stack.focus()
