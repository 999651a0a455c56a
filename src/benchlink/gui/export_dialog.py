"""Export results to CSV or HL7 with a progress bar and a cancel button.

The export runs on its own thread (a big export must not hold up result queries). Progress
comes back as a queued Qt signal; cancel is a flag the exporter polls. Exporters write to a
temporary file and rename at the end, so a cancelled export leaves no partial file behind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from benchlink.exporters.errors import ExportCancelled

FORMATS: tuple[tuple[str, str, str], ...] = (
    ("csv", "CSV (comma, RFC 4180)", ".csv"),
    ("csv-excel", "CSV for Excel (semicolon, decimal comma)", ".csv"),
    ("hl7", "HL7 v2 ORU^R01 messages", ".hl7"),
    ("hl7-batch", "HL7 v2 batch file (FHS/BHS)", ".hl7"),
)


@dataclass(frozen=True, slots=True)
class ExportRequest:
    kind: str
    destination: Path
    flt: Any
    mark_exported: bool
    actor: str


def describe_filter(flt: Any) -> str:
    parts = []
    for f in fields(flt):
        value = getattr(flt, f.name)
        if value is None:
            continue
        if isinstance(value, datetime):
            value = value.astimezone().strftime("%Y-%m-%d %H:%M")
        if f.name == "exported":
            value = "already exported" if value else "not yet exported"
            parts.append(value)
            continue
        parts.append(f"{f.name.replace('_', ' ')} = {value}")
    return "; ".join(parts) or "every stored result"


def run_export(
    store: Any, request: ExportRequest, progress: Callable[[int], None], cancel: Callable[[], bool]
) -> int:
    """Blocking: runs on the export thread. Returns the number of results written."""
    from benchlink.exporters.csv_export import SEMICOLON, CsvOptions, write_csv
    from benchlink.exporters.hl7_export import write_hl7

    ids: list[int] = []

    def rows() -> Iterator[Any]:
        for row in store.iter_results(request.flt):
            ids.append(row.id)
            if len(ids) % 2000 == 0:
                progress(len(ids))
            yield row

    if request.kind in ("csv", "csv-excel"):
        options = SEMICOLON if request.kind == "csv-excel" else CsvOptions()
        write_csv(rows(), request.destination, options, cancel=cancel)
    else:
        write_hl7(rows(), request.destination, batch=request.kind == "hl7-batch", cancel=cancel)
    progress(len(ids))
    if request.mark_exported and ids:
        store.mark_exported(ids, datetime.now(UTC), str(request.destination), actor=request.actor)
    return len(ids)


class ExportJob(QObject):
    progress = Signal(int)
    finished = Signal(int)
    failed = Signal(str)
    cancelled = Signal(str)

    def __init__(self, store: Any, request: ExportRequest, parent: Any = None) -> None:
        super().__init__(parent)
        self.store = store
        self.request = request
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name="benchlink-export", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        # Signals emitted here are queued to the GUI thread, where this object lives.
        try:
            count = run_export(self.store, self.request, self.progress.emit, self._cancel.is_set)
        except ExportCancelled as exc:
            self.cancelled.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - shown to the operator, never swallowed
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.finished.emit(count)


class ExportDialog(QDialog):
    _counted = Signal(int)

    def __init__(self, store: Any, flt: Any, *, default_dir: Path, actor: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export results")
        self.store = store
        self.base_filter = flt
        self.actor = actor
        self.default_dir = default_dir
        self.job: ExportJob | None = None
        self.total: int | None = None

        self.format = QComboBox(self)
        self.format.setObjectName("exportFormat")
        self.format.setAccessibleName("Export format")
        for _, label, _ext in FORMATS:
            self.format.addItem(label)
        self.format.currentIndexChanged.connect(self._format_changed)
        self.only_new = QCheckBox("Only results not exported before", self)
        self.only_new.setAccessibleName("Only results not exported before")
        self.only_new.toggled.connect(self._filter_changed)
        self.mark = QCheckBox("Mark the exported results as exported", self)
        self.mark.setAccessibleName("Mark as exported")
        self.mark.setChecked(True)
        self.filter_text = QLabel("", self)
        self.filter_text.setObjectName("exportFilter")
        self.filter_text.setAccessibleName("Results that will be exported")
        self.filter_text.setWordWrap(True)
        self.destination = QLineEdit(self)
        self.destination.setObjectName("exportDestination")
        self.destination.setAccessibleName("Export destination file")
        self.browse = QPushButton("&Browse…", self)
        self.browse.setAccessibleName("Choose export destination")
        self.browse.clicked.connect(self._browse)
        dest_row = QHBoxLayout()
        dest_row.addWidget(self.destination, 1)
        dest_row.addWidget(self.browse)

        self.bar = QProgressBar(self)
        self.bar.setObjectName("exportProgress")
        self.bar.setAccessibleName("Export progress")
        self.bar.setValue(0)
        self.status = QLabel("", self)
        self.status.setObjectName("exportStatus")
        self.status.setAccessibleName("Export status")
        self.status.setWordWrap(True)

        self.buttons = QDialogButtonBox(self)
        self.export_button = self.buttons.addButton("&Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.export_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel_or_close)

        form = QFormLayout()
        form.addRow("&Format", self.format)
        form.addRow("Results", self.filter_text)
        form.addRow("", self.only_new)
        # A text label beside a layout has no buddy, so its mnemonic shows as a literal "&".
        save_label = QLabel("&Save to", self)
        save_label.setBuddy(self.destination)
        form.addRow(save_label, dest_row)
        form.addRow("", self.mark)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self._counted.connect(self._count_arrived)
        self._format_changed(0)
        self._filter_changed()
        self.resize(560, 0)

    def filter(self) -> Any:
        return replace(self.base_filter, exported=False) if self.only_new.isChecked() else self.base_filter

    def kind(self) -> str:
        return FORMATS[self.format.currentIndex()][0]

    def _format_changed(self, _index: int) -> None:
        ext = FORMATS[self.format.currentIndex()][2]
        current = self.destination.text().strip()
        if not current:
            stamp = datetime.now().strftime("%Y%m%d-%H%M")
            self.destination.setText(str(self.default_dir / f"results-{stamp}{ext}"))
        else:
            self.destination.setText(str(Path(current).with_suffix(ext)))

    def _filter_changed(self, *_: Any) -> None:
        self.filter_text.setText(describe_filter(self.filter()))
        flt, store = self.filter(), self.store
        self.total = None
        counted = self._counted

        def count() -> None:
            try:
                counted.emit(store.count_results(flt))
            except (RuntimeError, Exception):  # noqa: BLE001 - dialog gone or DB busy: the count is a nicety
                return

        threading.Thread(target=count, name="benchlink-export-count", daemon=True).start()

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export results to", self.destination.text(),
                                              "CSV (*.csv);;HL7 (*.hl7 *.txt);;All files (*)")
        if path:
            self.destination.setText(path)

    def request(self) -> ExportRequest | None:
        text = self.destination.text().strip()
        if not text:
            self.status.setText("Choose where to save the export.")
            return None
        destination = Path(text).expanduser()
        if not destination.parent.is_dir():
            self.status.setText(f"The folder {destination.parent} does not exist; choose another place.")
            return None
        return ExportRequest(self.kind(), destination, self.filter(), self.mark.isChecked(), self.actor)

    def start(self) -> None:
        request = self.request()
        if request is None:
            return
        self.job = ExportJob(self.store, request, self)
        self.job.progress.connect(self._progress)
        self.job.finished.connect(self._finished)
        self.job.failed.connect(self._failed)
        self.job.cancelled.connect(self._failed)
        for widget in (self.export_button, self.format, self.destination, self.browse, self.only_new, self.mark):
            widget.setEnabled(False)
        self.status.setText("Exporting…")
        self.bar.setRange(0, self.total or 0)
        self.job.start()

    def _progress(self, count: int) -> None:
        if self.total:
            self.bar.setValue(min(count, self.total))
        self.status.setText(f"{count} results written…")

    def _finished(self, count: int) -> None:
        self.bar.setRange(0, max(count, 1))
        self.bar.setValue(max(count, 1))
        self.status.setText(f"Exported {count} results to {self.job.request.destination if self.job else ''}")
        self.cancel_button.setText("Close")
        self.job = None

    def _failed(self, text: str) -> None:
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.status.setText(text)
        for widget in (self.export_button, self.format, self.destination, self.browse, self.only_new, self.mark):
            widget.setEnabled(True)
        self.job = None

    def cancel_or_close(self) -> None:
        self.reject()

    def reject(self) -> None:
        """Esc, the title bar's close and Cancel all land here. While an export runs, closing would
        delete the dialog and its job under the export thread (whose next signal then raises and the
        export is lost without a word), so ask the job to stop and stay open until it says it has."""
        if self.job is not None:
            self.status.setText("Cancelling…")
            self.job.cancel()
            return
        super().reject()

    def _count_arrived(self, total: int) -> None:
        self.total = total
        if self.job is None:
            self.status.setText(f"{total} results match.")
