"""The bulk CSV export from the encrypted store writes the very bytes ``write_csv`` writes, and
marks, records and cancels exactly like the generic path."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import select

from benchlink.core.model import Result, ResultKind
from benchlink.exporters.csv_export import SEMICOLON, CsvOptions, write_csv
from benchlink.exporters.csv_packed import packed_layout, write_csv_packed
from benchlink.exporters.errors import ExportCancelled
from benchlink.runtime.export_job import ExportRequest, run_export, selected
from benchlink.storage.database import open_engine
from benchlink.storage.export_reader import BulkExportError
from benchlink.storage.schema import audit, exports, results
from benchlink.storage.store import InboundMessage, ResultFilter, Store

KEY = bytes(range(32))
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))

# Cells that must be quoted, guarded, or both, or that only look alarming.
AWKWARD_TEXT = [
    'say "hi"', "a,b", "a;b", "line\nbreak", "cr\rhere", "=SUM(A1:A9)", "+41 79", "-x", "@cmd",
    "\tlead", "-1.5", "+3", "1e-3", "Müller µmol/L", "", "plain", "tab\tinside", "'quoted'",
]
NUMBERS: list[float | None] = [5.5, -1.5, None, 1e16, 1e-5, 0.1 + 0.2, -0.0, 123456.789, 3.0]


def _result(i: int) -> Result:
    text = AWKWARD_TEXT[i % len(AWKWARD_TEXT)]
    other = AWKWARD_TEXT[(i * 7 + 3) % len(AWKWARD_TEXT)]
    observed: datetime | None
    if i % 5 == 0:
        observed = None
    elif i % 5 == 1:
        observed = datetime(2024, 7, 1, 9, 30, i % 60)  # naive: instrument local time
    elif i % 5 == 2:
        observed = datetime(2024, 1, 15, 23, 59, 59, 120000, tzinfo=CET)  # aware, stored as UTC
    else:
        observed = datetime(2024, 3, 1, 8, i % 60, 7, 5)
    return Result(
        sample_id=f"S{i // 3}" if i % 11 else text,
        instrument_code=("GLU", "NA", "K")[i % 3],
        value=text if i % 4 else f"{i}.5",
        patient_id=f"P{i % 4}",
        patient_name=("Doe^Jane", "Müller^Jürgen", 'O"Brien', "Smith, John")[i % 4],
        test_name=other,
        lis_code="2345-7" if i % 2 else other,
        numeric_value=NUMBERS[i % len(NUMBERS)],
        comparator=("", "<", ">=")[i % 3],
        units=("mmol/L", "a,b", "µmol/L", "=u")[i % 4],
        reference_range=("3.9-6.1", "-5-5", "", '<"5"')[i % 4],
        flags=("N", "H", "", "-")[i % 4],
        status="F",
        observed_at=observed,
        kind=(ResultKind.PATIENT, ResultKind.QC, ResultKind.CALIBRATION)[i % 3],
    )


def _fill(store: Store, messages: int = 40, per_message: int = 7) -> None:
    batch = []
    for m in range(messages):
        received = T0 + timedelta(minutes=m, microseconds=0 if m % 2 else 250_000 + m)
        batch.append(
            InboundMessage(
                device=("cobas", "xn-1000", "BS,200")[m % 3], protocol="astm", data=f"m{m}".encode(),
                received_at=received,
                results=tuple(_result(m * per_message + j) for j in range(per_message)),
            )
        )
    store.commit_inbound(batch)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    engine = open_engine(None, path=tmp_path / "bulk.db", key=KEY)
    s = Store(engine)
    s.migrate()
    _fill(s)
    try:
        yield s
    finally:
        engine.dispose()


def _expected(store: Store, request: ExportRequest, path: Path) -> bytes:
    write_csv(store.iter_results(selected(store, request)), path, request.csv)
    return path.read_bytes()


def _exported_ids(store: Store) -> set[int]:
    return {r.id for r in store.iter_results(ResultFilter(exported=True))}


OPTIONS = {
    "default": CsvOptions(),
    "semicolon": SEMICOLON,
    "bom": CsvOptions(bom=True),
    "extras": CsvOptions(extra_columns=("id", "patient_name", "kind", "exported_at")),
    "tab": CsvOptions(delimiter="\t"),
    "dash": CsvOptions(delimiter="-"),  # every date and negative number now needs quoting
    "fixed-zone": CsvOptions(naive_timezone=timezone(timedelta(hours=-5, minutes=-30))),
}


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_bulk_file_is_byte_identical_to_write_csv(store: Store, tmp_path: Path, name: str) -> None:
    assert store.supports_bulk_export
    request = ExportRequest(format="csv", out=tmp_path / "bulk.csv", csv=OPTIONS[name])
    expected = _expected(store, request, tmp_path / "generic.csv")
    outcome = run_export(store, request)
    assert outcome.results == 280
    assert request.out.read_bytes() == expected
    assert b'"' in expected and b"'=SUM" in expected  # the rows really were awkward


@pytest.mark.parametrize(
    "flt",
    [
        ResultFilter(device="BS,200"),
        ResultFilter(test="GLU"),
        ResultFilter(kind="qc", flag="H"),
        ResultFilter(since=T0 + timedelta(minutes=5), until=T0 + timedelta(minutes=17)),
        ResultFilter(sample_id="nothing-matches"),
    ],
    ids=["device", "test", "kind+flag", "dates", "empty"],
)
def test_filters_select_and_mark_the_same_rows(store: Store, tmp_path: Path, flt: ResultFilter) -> None:
    request = ExportRequest(format="csv", out=tmp_path / "f.csv", filter=flt, csv=OPTIONS["extras"])
    wanted = {r.id for r in store.iter_results(flt)}
    expected = _expected(store, request, tmp_path / "generic.csv")
    outcome = run_export(store, request)
    assert request.out.read_bytes() == expected
    assert outcome.results == len(wanted)
    assert _exported_ids(store) == wanted


def test_new_only_exports_each_result_once(store: Store, tmp_path: Path) -> None:
    first = ExportRequest(format="csv", out=tmp_path / "a.csv", filter=ResultFilter(device="cobas"))
    run_export(store, first)
    request = ExportRequest(format="csv", out=tmp_path / "b.csv", new_only=True, csv=SEMICOLON)
    before = _exported_ids(store)
    expected = _expected(store, request, tmp_path / "generic.csv")
    outcome = run_export(store, request)
    assert request.out.read_bytes() == expected
    assert outcome.results == 280 - len(before)
    assert len(_exported_ids(store)) == 280
    again = run_export(store, replace(request, out=tmp_path / "c.csv"))
    assert again.results == 0
    assert (tmp_path / "c.csv").read_bytes() == "\ufeff".encode() + b";".join(
        c.encode() for c in SEMICOLON.columns) + b"\r\n"


def test_bookkeeping_matches_mark_exported(store: Store, tmp_path: Path) -> None:
    request = ExportRequest(format="csv", out=tmp_path / "x.csv", filter=ResultFilter(device="xn-1000"),
                            actor="alice")
    ids = sorted(r.id for r in store.iter_results(request.filter))
    run_export(store, request)
    with store.engine.connect() as conn:
        (row,) = conn.execute(select(exports)).all()
        stamps = set(conn.execute(select(results.c.exported_at).where(results.c.id.in_(ids))).scalars())
    assert (row.count, row.first_result_id, row.last_result_id) == (len(ids), ids[0], ids[-1])
    assert row.destination == str(request.out)
    assert stamps == {row.at}  # every exported row carries the export's own time
    (entry,) = store.audit().search(action="export")
    assert entry.actor == "alice" and entry.target == str(request.out)
    assert entry.after == {"count": len(ids), "first_result_id": ids[0], "last_result_id": ids[-1]}
    assert store.audit().verify().ok


def test_cancel_writes_nothing_and_marks_nothing(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "cancelled.csv"
    with pytest.raises(ExportCancelled):
        run_export(store, ExportRequest(format="csv", out=out), cancel=lambda: True)
    assert not out.exists() and list(tmp_path.glob(".cancelled.csv.*")) == []
    assert _exported_ids(store) == set()
    with store.engine.connect() as conn:
        assert conn.execute(select(sqlalchemy.func.count()).select_from(exports)).scalar_one() == 0
        assert conn.execute(select(sqlalchemy.func.count()).select_from(audit)).scalar_one() == 0
    # the lock is released and the store is usable: the next export marks everything
    assert run_export(store, ExportRequest(format="csv", out=out)).results == 280


def test_cancel_midway_after_progress(store: Store, tmp_path: Path) -> None:
    seen: list[int] = []
    options = CsvOptions()
    out = tmp_path / "mid.csv"
    with pytest.raises(ExportCancelled), store.bulk_export(ResultFilter(), T0, str(out), batch=50) as job:
        write_csv_packed(job.batches(packed_layout(options), ","), out, options, decoders=job.decoders,
                         full_rows=job.full_rows, progress=seen.append, cancel=lambda: len(seen) >= 2,
                         before_replace=job.finish)
    assert seen == [50, 100]
    assert not out.exists()
    assert _exported_ids(store) == set()


def test_finish_refuses_when_counts_disagree(store: Store, tmp_path: Path) -> None:
    with pytest.raises(BulkExportError, match="read 50 results but would mark 280"), \
            store.bulk_export(ResultFilter(), T0, "x", batch=50) as job:
        next(iter(job.batches(packed_layout(CsvOptions()), ",")))
        job.finish()
    assert _exported_ids(store) == set()


def test_block_without_finish_marks_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError, match=r"without BulkExport\.finish"), \
            store.bulk_export(ResultFilter(), T0, "x"):
        pass
    assert _exported_ids(store) == set()


def test_other_writers_wait_for_the_export(store: Store, tmp_path: Path) -> None:
    with store.bulk_export(ResultFilter(), T0, "x") as job:
        with store.engine.connect() as other:
            other.exec_driver_sql("PRAGMA busy_timeout=0")
            with pytest.raises(sqlalchemy.exc.OperationalError, match="locked"):
                other.exec_driver_sql("BEGIN IMMEDIATE")
            other.rollback()
        for _ in job.batches(packed_layout(CsvOptions()), ","):
            pass
        job.finish()
    _fill(store, messages=1)  # released afterwards
    assert len(_exported_ids(store)) == 280


def test_non_text_cells_take_the_generic_route(store: Store, tmp_path: Path) -> None:
    # A BLOB in a text column cannot be joined by SQLite; the row is read whole and written by
    # the same code as write_csv (which prints the bytes object).
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE results SET test_name = X'00ff41' WHERE id IN (3, 100)")
        conn.exec_driver_sql("UPDATE results SET flags = X'3d' WHERE id = 7")
    for options in (CsvOptions(), SEMICOLON):
        request = ExportRequest(format="csv", out=tmp_path / "b.csv", csv=options)
        expected = _expected(store, request, tmp_path / "generic.csv")
        run_export(store, request)
        assert request.out.read_bytes() == expected
        assert b"b'\\x00\\xffA'" in expected


def test_mark_exported_by_runs_marks_exactly_the_ids(store: Store) -> None:
    ids = [1, 2, 3, 7, 9, 10, 11, 200, 5]
    store.mark_exported(ids, T0, "x")
    assert _exported_ids(store) == set(ids)


# --------------------------------------------------------------------------- local time zones
DST_WALL_TIMES = [
    datetime(2024, 3, 31, 1, 59, 59), datetime(2024, 3, 31, 2, 0, 0), datetime(2024, 3, 31, 2, 30, 0),
    datetime(2024, 3, 31, 2, 59, 59, 999999), datetime(2024, 3, 31, 3, 0, 0), datetime(2024, 3, 31, 3, 15, 1),
    datetime(2024, 10, 27, 1, 59, 0), datetime(2024, 10, 27, 2, 0, 0), datetime(2024, 10, 27, 2, 30, 0, 17),
    datetime(2024, 10, 27, 3, 0, 0), datetime(2024, 11, 3, 1, 30), datetime(2024, 3, 10, 2, 30),
    datetime(1970, 1, 1, 0, 0), datetime(2038, 1, 19, 3, 14, 8),
]


@pytest.fixture
def berlin_local_time() -> Iterator[None]:
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset() is POSIX-only; the local-zone case needs it")
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Berlin"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()


@pytest.mark.parametrize("zone", ["local", "America/New_York"])
def test_local_time_around_dst_changes_is_identical(
    tmp_path: Path, berlin_local_time: None, zone: str
) -> None:
    from zoneinfo import ZoneInfo

    engine = open_engine(None, path=tmp_path / "dst.db", key=KEY)
    store = Store(engine)
    store.migrate()
    rs = tuple(Result(sample_id=f"S{i}", instrument_code="GLU", value="1", observed_at=t)
               for i, t in enumerate(DST_WALL_TIMES))
    store.commit_inbound([InboundMessage(device="d", protocol="astm", data=b"m", received_at=T0, results=rs)])
    options = CsvOptions(naive_timezone=None if zone == "local" else ZoneInfo(zone))
    request = ExportRequest(format="csv", out=tmp_path / "dst.csv", csv=options)
    expected = _expected(store, request, tmp_path / "generic.csv")
    run_export(store, request)
    assert request.out.read_bytes() == expected
    assert b"+01:00" in expected or b"-05:00" in expected
    engine.dispose()


# --------------------------------------------------------------------------- PostgreSQL
def _postgres_url_fixture() -> Any:
    from tests.storage.conftest import postgres_url as fixture

    return fixture


postgres_url = _postgres_url_fixture()


def test_postgres_takes_the_generic_path_with_the_same_result(postgres_url: str, tmp_path: Path) -> None:
    schema = f"bulk_{os.getpid()}"
    admin = sqlalchemy.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()
    engine = open_engine(f"{postgres_url}?options=-csearch_path%3D{schema}")
    try:
        store = Store(engine)
        store.migrate()
        _fill(store, messages=6)
        assert not store.supports_bulk_export
        request = ExportRequest(format="csv", out=tmp_path / "pg.csv", new_only=True, csv=SEMICOLON)
        expected = _expected(store, request, tmp_path / "generic.csv")
        outcome = run_export(store, request)
        assert request.out.read_bytes() == expected
        assert outcome.results == 42 and len(_exported_ids(store)) == 42
        with pytest.raises(RuntimeError, match="needs SQLite"), store.bulk_export(ResultFilter(), T0, "x"):
            pass
    finally:
        engine.dispose()
