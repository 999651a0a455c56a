"""Export throughput: CSV of 1,000,000 rows (goal >= 200k rows/s) and HL7 ORU^R01 of 100,000
samples (goal >= 5,000 messages/s), from in-memory rows, to a temp directory; then the export a
user runs: ``run_export`` CSV from an encrypted store of 1,000,000 results, end to end (select,
format, atomic file, mark exported), first ``--new-only`` (every result new), then all again.

The store is built once (Store.commit_inbound batches; ~40 s) and cached in the temp directory
as ``benchlink-bench-export-<rows>.db``; each run copies it, so both export rows start alike.

Run: ``.venv/bin/python bench/bench_export.py [csv_rows] [hl7_samples] [store_rows]``. Prints a table.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

from benchlink.core.model import Result
from benchlink.exporters.csv_export import SEMICOLON, CsvOptions, write_csv
from benchlink.exporters.hl7_export import write_hl7
from benchlink.runtime.export_job import ExportRequest, run_export
from benchlink.storage.database import open_engine
from benchlink.storage.store import InboundMessage, ResultRow, Store

STORE_KEY = bytes(range(32))
STORE_LAYOUT = "v1"  # bump when the built rows change, so a stale cached store is rebuilt

TESTS = [
    ("GLU", "2345-7", "Glucose", "mmol/L", "3.9-6.1"),
    ("ALT", "1742-6", "ALT", "U/L", "0-40"),
    ("CREA", "2160-0", "Creatinine", "umol/L", "45-90"),
    ("WBC", "6690-2", "WBC", "10^9/L", "4.0-10.0"),
    ("HGB", "718-7", "Hemoglobin", "g/dL", "12-16"),
    ("PLT", "777-3", "Platelets", "10^9/L", "150-400"),
    ("CRP", "1988-5", "CRP", "mg/L", "<5"),
    ("NA", "2951-2", "Sodium", "mmol/L", "135-145"),
]


ROWS_BASE = datetime(2024, 3, 1, 8, 0, tzinfo=timezone(timedelta(hours=1)))


def rows(count: int) -> Iterator[ResultRow]:
    base = ROWS_BASE
    for i in range(count):
        sample = i // len(TESTS)
        code, lis, name, units, rng = TESTS[i % len(TESTS)]
        number = 1.0 + (i % 997) / 10
        at = base + timedelta(seconds=sample)
        yield ResultRow(
            id=i, message_id=sample, device="BS-200", sample_id=f"S{sample:08d}",
            patient_id=f"P{sample % 50000:06d}", patient_name="Doe^Jane", instrument_code=code,
            lis_code=lis, test_name=name, value=f"{number:.2f}", numeric_value=number,
            comparator="", units=units, reference_range=rng, flags="H" if i % 7 == 0 else "N",
            status="F", kind="patient", observed_at=at, received_at=at + timedelta(seconds=5),
            exported_at=None,
        )


def cached_store(count: int) -> Path:
    """The encrypted store of ``count`` results (one message per sample, 8 results each), built
    once through Store.commit_inbound and kept in the temp directory for later runs."""
    path = Path(tempfile.gettempdir()) / f"benchlink-bench-export-{count}-{STORE_LAYOUT}.db"
    if path.exists():
        return path
    building = path.with_suffix(".building")
    for leftover in (building, Path(f"{building}-wal"), Path(f"{building}-shm")):
        leftover.unlink(missing_ok=True)
    store = Store(open_engine(None, path=building, key=STORE_KEY))
    store.migrate()
    batch: list[InboundMessage] = []
    for sample, start in enumerate(range(0, count, len(TESTS))):
        base = ROWS_BASE + timedelta(seconds=sample)
        results = tuple(
            Result(sample_id=f"S{sample:08d}", instrument_code=code, value=f"{number:.2f}",
                   patient_id=f"P{sample % 50000:06d}", patient_name="Doe^Jane", test_name=name, lis_code=lis,
                   numeric_value=number, units=units, reference_range=rng,
                   flags="H" if i % 7 == 0 else "N", status="F", observed_at=base.replace(tzinfo=None))
            for i, (code, lis, name, units, rng) in enumerate(TESTS[: count - start], start)
            for number in (1.0 + (i % 997) / 10,)
        )
        batch.append(InboundMessage(device="BS-200", protocol="astm", data=f"bench {sample}".encode(),
                                    received_at=base + timedelta(seconds=5), results=results))
        if len(batch) == 500:
            store.commit_inbound(batch)
            batch = []
    if batch:
        store.commit_inbound(batch)
    store.optimize()
    store.engine.dispose()  # the last close checkpoints the WAL into the file
    os.replace(building, path)
    return path


def store_exports(count: int, table: list[tuple[str, str, float, float]]) -> None:
    source = cached_store(count)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        shutil.copyfile(source, db)
        store = Store(open_engine(None, path=db, key=STORE_KEY))
        try:
            for label, new_only in (("new-only", True), ("all again", False)):
                request = ExportRequest(format="csv", out=Path(tmp) / f"{label}.csv", new_only=new_only)
                timed(f"CSV from SQLCipher {count:,} {label}", "rows/s",
                      lambda request=request: run_export(store, request).results, 200_000, table)
        finally:
            store.engine.dispose()


def timed(
    label: str,
    unit: str,
    count_fn: Callable[[], int],
    goal: float,
    table: list[tuple[str, str, float, float]],
) -> None:
    start = time.perf_counter()
    count = count_fn()
    elapsed = time.perf_counter() - start
    table.append((label, unit, count / elapsed, goal))


def main() -> None:
    csv_rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    hl7_samples = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    store_rows = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
    table: list[tuple[str, str, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        materialised = list(rows(csv_rows))  # row creation is not part of the export cost
        timed(f"CSV ',' {csv_rows:,} rows", "rows/s",
              lambda: write_csv(materialised, out / "a.csv", CsvOptions()), 200_000, table)
        timed(f"CSV ';' preset {csv_rows:,} rows", "rows/s",
              lambda: write_csv(materialised, out / "b.csv", SEMICOLON), 200_000, table)
        materialised = []  # free the memory before the HL7 run
        hl7_rows = list(rows(hl7_samples * len(TESTS)))
        timed(f"HL7 ORU {hl7_samples:,} samples x {len(TESTS)} OBX", "msgs/s",
              lambda: write_hl7(hl7_rows, out / "a.hl7"), 5_000, table)
        timed(f"HL7 batch {hl7_samples:,} samples", "msgs/s",
              lambda: write_hl7(hl7_rows, out / "b.hl7", batch=True), 5_000, table)
        hl7_rows = []
    store_exports(store_rows, table)
    print(f"{'export':42} {'rate':>12} {'unit':8} {'goal':>10}  ok")
    for label, unit, value, goal in table:
        print(f"{label:42} {value:12,.0f} {unit:8} {goal:10,.0f}  {'yes' if value >= goal else 'NO'}")


if __name__ == "__main__":
    main()
