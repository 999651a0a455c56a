"""The audit trail for supervisors: search it, page through it, and prove it is intact."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from benchlink.gui.date_range import DateRangeEdit
from benchlink.gui.models.table_model import Column, RowsModel
from benchlink.gui.queries import QueryRunner
from benchlink.gui.widgets import EmptyOr, empty_label, make_table, text_view

PAGE = 200
EMPTY_TEXT = "No audit entries match. Clear the search fields to see every entry, newest first."


def _json(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


class AuditPanel(QWidget):
    def __init__(self, store: Any, runner: QueryRunner, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("auditPanel")
        self.store = store
        self.runner = runner
        self._generation = 0
        self.exhausted = True
        self.model = RowsModel(
            (
                Column("id", "#", numeric=True),
                Column("at", "When"),
                Column("actor", "Who"),
                Column("action", "Action"),
                Column("target", "Target"),
                Column("change", "Change", lambda e: f"{_json(e.before)} → {_json(e.after)}"
                       if e.before is not None or e.after is not None else ""),
            ),
            parent=self,
        )
        self.fields: dict[str, QLineEdit] = {}
        bar = QHBoxLayout()
        for key, placeholder in (("actor", "User"), ("action", "Action, e.g. mapping.set"), ("target", "Target")):
            edit = QLineEdit(self)
            edit.setObjectName(f"audit_{key}")
            edit.setPlaceholderText(placeholder)
            edit.setAccessibleName(f"Audit {key}")
            edit.setClearButtonEnabled(True)
            edit.returnPressed.connect(self.search)
            bar.addWidget(edit, 1)
            self.fields[key] = edit
        self.dates = DateRangeEdit("audit", self)
        bar.addWidget(self.dates)
        self.search_button = QPushButton("&Search", self)
        self.search_button.setAccessibleName("Search the audit trail")
        self.search_button.clicked.connect(self.search)
        bar.addWidget(self.search_button)

        self.more_button = QPushButton("Load &older", self)
        self.more_button.setAccessibleName("Load older audit entries")
        self.more_button.clicked.connect(self.load_more)
        self.verify_button = QPushButton("&Verify chain", self)
        self.verify_button.setAccessibleName("Verify the audit hash chain")
        self.verify_button.setToolTip("Recompute every entry's hash; any edit, deletion or insertion is found")
        self.verify_button.clicked.connect(self.verify)
        self.verdict = QLabel("The chain has not been verified in this session.", self)
        self.verdict.setObjectName("auditVerdict")
        self.verdict.setAccessibleName("Audit verification result")
        self.verdict.setWordWrap(True)
        foot = QHBoxLayout()
        foot.addWidget(self.more_button)
        foot.addWidget(self.verify_button)
        foot.addWidget(self.verdict, 1)

        self.table = make_table(self, "auditTable", "Audit trail", self.model)
        for key, width in (("id", 50), ("at", 150), ("actor", 100), ("action", 140), ("target", 160)):
            self.table.horizontalHeader().resizeSection(self.model.column_of(key), width)
        self.stack = EmptyOr(self.table, empty_label(self, "auditEmpty", EMPTY_TEXT, "Audit trail"), self)
        self.detail = text_view(self, "auditDetail", "Audit entry detail")
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.stack)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        layout.addLayout(foot)
        self.table.selectionModel().selectionChanged.connect(self._show_selected)

    def _criteria(self) -> dict[str, Any]:
        since, until = self.dates.value()
        values: dict[str, Any] = {k: e.text().strip() for k, e in self.fields.items() if e.text().strip()}
        if "action" in values:  # people type the start of an action ("quarantine"), not its exact name
            values["action_prefix"] = values.pop("action")
        values.update(since=since, until=until)
        return values

    def search(self) -> None:
        self._generation += 1
        self.model.clear()
        self.exhausted = False
        self._fetch(None)

    def load_more(self) -> None:
        rows = self.model.rows()
        if rows and not self.exhausted:
            self._fetch(rows[-1].id)

    def _fetch(self, before_id: int | None) -> None:
        generation, criteria, audit = self._generation, self._criteria(), self.store.audit()
        self.more_button.setEnabled(False)
        self.runner.submit(lambda: audit.search(**criteria, before_id=before_id, limit=PAGE),
                           lambda rows: self._arrived(generation, rows),
                           lambda exc: self.verdict.setText(f"Could not search the audit trail ({exc})"))

    def _arrived(self, generation: int, rows: list[Any]) -> None:
        if generation != self._generation:
            return
        self.exhausted = len(rows) < PAGE
        self.model.append_rows(rows)
        self.more_button.setEnabled(not self.exhausted)

    def verify(self) -> None:
        audit = self.store.audit()
        self.verify_button.setEnabled(False)
        self.verdict.setText("Verifying…")
        self.runner.submit(audit.verify, self._verified,
                           lambda exc: self._verdict(False, f"Verification could not run: {exc}"))

    def _verified(self, report: Any) -> None:
        if report.ok:
            self._verdict(True, f"Chain intact: {report.reason}.")
        else:
            self._verdict(False, f"CHAIN BROKEN at entry {report.first_bad_id}: {report.reason}. "
                                 "Keep the database file as evidence and tell IT.")

    def _verdict(self, ok: bool, text: str) -> None:
        self.verify_button.setEnabled(True)
        self.verdict.setText(text)
        self.verdict.setProperty("ok", ok)
        self.verdict.setStyleSheet("color: #2e9d4f;" if ok else "color: #d0342c; font-weight: bold;")

    def _show_selected(self, *_: Any) -> None:
        rows = self.table.selectionModel().selectedRows()
        entry = self.model.row_at(rows[0].row()) if rows else None
        if entry is None:
            self.detail.setPlainText("")
            return
        self.detail.setPlainText(
            f"#{entry.id} {entry.at} by {entry.actor}: {entry.action} {entry.target}\n"
            f"before: {json.dumps(entry.before, indent=1, ensure_ascii=False)}\n"
            f"after:  {json.dumps(entry.after, indent=1, ensure_ascii=False)}\n"
            f"hash {entry.hash} (previous {entry.prev_hash})"
        )

    def focus_view(self) -> None:
        self.stack.focus()
