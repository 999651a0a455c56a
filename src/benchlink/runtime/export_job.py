"""One export, start to finish: select rows, write the file atomically, then record what went
where. Shared by `benchlink export`, the GUI dialog and the watched-folder hand-off, so each
counts and marks results the same way.

CSV from SQLite/SQLCipher takes the bulk path (:meth:`Store.bulk_export` +
:func:`write_csv_packed`): rows are marked by one UPDATE running beside the read, committed only
once the file is complete. PostgreSQL, and HL7, read rows and mark them afterwards. Both produce
the same file, the same ``exported_at`` stamps and the same ``exports``/audit entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from benchlink.exporters.csv_export import CsvOptions, write_csv
from benchlink.exporters.csv_packed import packed_layout, write_csv_packed
from benchlink.exporters.hl7_export import write_hl7
from benchlink.storage.store import ResultFilter, ResultRow, Store

FORMATS = ("csv", "hl7")


@dataclass(frozen=True, slots=True)
class ExportRequest:
    format: str
    out: Path
    filter: ResultFilter = field(default_factory=ResultFilter)
    new_only: bool = False
    csv: CsvOptions = field(default_factory=CsvOptions)
    hl7_batch: bool = False
    actor: str = "system"


@dataclass(frozen=True, slots=True)
class ExportOutcome:
    path: Path
    results: int
    messages: int  # HL7 messages written (0 for CSV)


def selected(store: Store, request: ExportRequest) -> ResultFilter:
    return replace(request.filter, exported=False) if request.new_only else request.filter


def run_export(store: Store, request: ExportRequest, *, progress: Callable[[int], None] | None = None,
               cancel: Callable[[], bool] | None = None) -> ExportOutcome:
    """Raises ``ExportCancelled`` (no file written, nothing marked) when *cancel* says so."""
    if request.format not in FORMATS:
        raise ValueError(f"export format {request.format!r}: use one of {', '.join(FORMATS)}")
    flt = selected(store, request)
    if request.format == "csv" and store.supports_bulk_export:
        return _bulk_csv(store, request, flt, progress, cancel)
    ids: list[int] = []

    def tap(rows: Iterator[ResultRow] | list[ResultRow]) -> Iterator[ResultRow]:
        for row in rows:
            ids.append(row.id)
            yield row

    messages = 0
    if request.format == "csv":
        write_csv(tap(store.iter_results(flt)), request.out, request.csv, progress=progress, cancel=cancel)
    else:
        # one ORU per sample: the writer groups consecutive rows, so order them by sample
        rows = sorted(store.iter_results(flt), key=lambda r: (r.device, r.sample_id, r.patient_id, r.patient_name,
                                                             r.id))
        messages = write_hl7(tap(rows), request.out, batch=request.hl7_batch, progress=progress, cancel=cancel)
    if ids:
        store.mark_exported(ids, datetime.now().astimezone(), str(request.out), actor=request.actor)
    return ExportOutcome(request.out, len(ids), messages)


def _bulk_csv(store: Store, request: ExportRequest, flt: ResultFilter, progress: Callable[[int], None] | None,
              cancel: Callable[[], bool] | None) -> ExportOutcome:
    options = request.csv
    with store.bulk_export(flt, datetime.now().astimezone(), str(request.out), actor=request.actor) as job:
        count = write_csv_packed(
            job.batches(packed_layout(options), options.delimiter), request.out, options,
            decoders=job.decoders, full_rows=job.full_rows, progress=progress, cancel=cancel,
            before_replace=job.finish,
        )
    return ExportOutcome(request.out, count, 0)
