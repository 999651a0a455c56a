"""Storage benchmark: group-commit insert rate, and filtered keyset pages at 1,000,000 results.

Run:  .venv/bin/python bench/bench_storage.py [--rows 1000000] [--dir /tmp]
Prints two tables. Not part of the test suite (takes a minute or two).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchlink.core.model import Result, ResultKind
from benchlink.storage.database import open_engine
from benchlink.storage.store import InboundMessage, ResultFilter, Store
from benchlink.storage.writer import StoreWriter

T0 = datetime(2025, 1, 1, tzinfo=UTC)
DEVICES = [f"analyzer-{i}" for i in range(8)]
CODES = [f"T{i:02d}" for i in range(30)]
RESULTS_PER_MESSAGE = 10
DAYS = 100
_FMT = "%Y-%m-%d %H:%M:%S.%f"


def _sample_results(rng: random.Random, n: int) -> tuple[Result, ...]:
    out = []
    for j in range(RESULTS_PER_MESSAGE):
        v = rng.uniform(0, 200)
        code = CODES[(n + j) % len(CODES)]
        roll = rng.random()
        out.append(
            Result(
                sample_id=f"S{n:07d}",
                instrument_code=code,
                value=f"{v:.2f}",
                numeric_value=v,
                patient_id=f"P{n % 30_000:06d}",
                patient_name=f"Patient {n % 30_000}",
                lis_code=f"L-{code}" if (n + j) % 5 else "",
                units="mmol/L",
                # H 10 %, L 5 %, and a rare critical flag (0.2 %): the worst case for a flag filter.
                flags="HH" if roll < 0.002 else "H" if roll < 0.1 else "L" if roll < 0.15 else "",
                status="F",
                kind=ResultKind.QC if n % 20 == 0 else ResultKind.PATIENT,
            )
        )
    return tuple(out)


def _message(rng: random.Random, n: int, total: int) -> InboundMessage:
    at = T0 + timedelta(seconds=n * DAYS * 86400 / max(total, 1))
    return InboundMessage(
        device=DEVICES[n % len(DEVICES)],
        protocol="astm",
        data=f"H|\\^&|||msg{n}|\rL|1|N\r".encode() * 4,
        received_at=at,
        results=_sample_results(rng, n),
    )


def _new_store(directory: Path, name: str) -> Store:
    path = directory / name
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = Store(open_engine(None, path=path, key=os.urandom(32)))
    store.migrate()
    return store


def _rows_for(msgs: list[InboundMessage]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    raws, results = [], []
    for m in msgs:
        raws.append(
            (
                m.device,
                "in",
                m.protocol,
                m.received_at.replace(tzinfo=None).strftime(_FMT),
                m.data,
                hashlib.sha256(m.data).hexdigest(),
                "{}",
                m.decode_status,
                "",
            )
        )
    return raws, results


RAW_SQL = (
    "INSERT INTO raw_messages (device, direction, protocol, received_at, data, sha256, link_meta, "
    "decode_status, session) VALUES (?,?,?,?,?,?,?,?,?)"
)
RES_SQL = (
    "INSERT INTO results (message_id, device, sample_id, patient_id, patient_name, birth_date, "
    "instrument_code, lis_code, test_name, value, numeric_value, comparator, units, reference_range, "
    "flags, status, kind, observed_at, received_at, instrument, exported_at) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def _raw_insert(store: Store, msgs: list[InboundMessage], first_id: int) -> None:
    """The floor: sqlcipher3 executemany with precomputed rows, one transaction."""
    conn = store.engine.raw_connection()
    try:
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        raws = []
        res = []
        for k, m in enumerate(msgs):
            at = m.received_at.replace(tzinfo=None).strftime(_FMT)
            raws.append(
                (
                    first_id + k,
                    m.device,
                    "in",
                    m.protocol,
                    at,
                    m.data,
                    hashlib.sha256(m.data).hexdigest(),
                    "{}",
                    m.decode_status,
                    "",
                )
            )
            for r in m.results:
                res.append(
                    (
                        first_id + k,
                        m.device,
                        r.sample_id,
                        r.patient_id,
                        r.patient_name,
                        r.birth_date,
                        r.instrument_code,
                        r.lis_code,
                        r.test_name,
                        r.value,
                        r.numeric_value,
                        r.comparator,
                        r.units,
                        r.reference_range,
                        r.flags,
                        r.status,
                        r.kind.value,
                        None,
                        at,
                        r.instrument,
                        None,
                    )
                )
        cur.executemany(RAW_SQL.replace("(device", "(id, device").replace("VALUES (?", "VALUES (?,?"), raws)
        cur.executemany(RES_SQL, res)
        cur.execute("COMMIT")
    finally:
        conn.close()


def bench_insert(directory: Path, messages: int, batch: int) -> list[tuple[str, float]]:
    rng = random.Random(1)
    msgs = [_message(rng, n, messages) for n in range(messages)]
    nres = messages * RESULTS_PER_MESSAGE
    store = _new_store(directory, "bench-insert-a.db")
    t = time.perf_counter()
    for i in range(0, messages, batch):
        store.commit_inbound(msgs[i : i + batch])
    store_s = time.perf_counter() - t
    store.engine.dispose()
    raw = _new_store(directory, "bench-insert-b.db")
    t = time.perf_counter()
    for i in range(0, messages, batch):
        _raw_insert(raw, msgs[i : i + batch], i + 1)
    raw_s = time.perf_counter() - t
    raw.engine.dispose()
    return [
        (f"Store.commit_inbound, batches of {batch} msgs", nres / store_s),
        ("raw sqlcipher3 executemany, same batches", nres / raw_s),
        ("ratio (store / raw)", (nres / store_s) / (nres / raw_s)),
        (f"messages/s via commit_inbound (batch {batch})", messages / store_s),
    ]


def bench_writer(directory: Path, analyzers: int, per_analyzer: int) -> list[tuple[str, float]]:
    """``analyzers`` threads, each waiting for its commit before sending the next message (as a
    link waits before its final ACK), through the one StoreWriter with group commit."""
    rng = random.Random(3)
    total = analyzers * per_analyzer
    msgs = [_message(rng, n, total) for n in range(total)]
    store = _new_store(directory, "bench-writer.db")
    writer = StoreWriter(store, max_batch=500)
    writer.start()

    def analyzer(k: int) -> None:
        for i in range(k, total, analyzers):
            writer.submit(msgs[i]).result(timeout=60)

    threads = [threading.Thread(target=analyzer, args=(k,)) for k in range(analyzers)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    secs = time.perf_counter() - t
    writer.stop()
    store.engine.dispose()
    return [
        (f"{analyzers} analyzers via StoreWriter, results/s", total * RESULTS_PER_MESSAGE / secs),
        ("  messages/s (each committed before its ACK)", total / secs),
        ("  mean batch size (group commit)", writer.stats.items / max(writer.stats.batches, 1)),
    ]


def build_million(directory: Path, rows: int) -> tuple[Store, float]:
    store = _new_store(directory, "bench-million.db")
    rng = random.Random(2)
    messages = rows // RESULTS_PER_MESSAGE
    t = time.perf_counter()
    chunk = 10_000
    for i in range(0, messages, chunk):
        _raw_insert(store, [_message(rng, n, messages) for n in range(i, min(i + chunk, messages))], i + 1)
    with store.engine.connect() as conn:  # export the oldest 90 %: "unexported" is then the recent tail
        conn.exec_driver_sql("UPDATE results SET exported_at = received_at WHERE id <= ?", (int(rows * 0.9),))
        conn.commit()
    store.optimize()
    return store, time.perf_counter() - t


def _time(fn: Callable[[], object], repeat: int = 7) -> float:
    fn()  # warm the page cache once, as a scrolling GUI would
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def bench_pages(store: Store, rows: int) -> list[tuple[str, float, int]]:
    old_day = T0 + timedelta(days=10)
    mid = T0 + timedelta(days=50)
    cases: list[tuple[str, ResultFilter]] = [
        ("no filter", ResultFilter()),
        ("device", ResultFilter(device=DEVICES[3])),
        ("sample_id (old sample)", ResultFilter(sample_id=f"S{1234:07d}")),
        ("patient_id", ResultFilter(patient_id=f"P{777:06d}")),
        ("test = lis code", ResultFilter(test="L-T07")),
        ("test = instrument code", ResultFilter(test="T07")),
        ("date range: 1 day, 90 days ago", ResultFilter(since=old_day, until=old_day + timedelta(days=1))),
        ("date range: 30 days", ResultFilter(since=mid, until=mid + timedelta(days=30))),
        ("date since 10 days ago", ResultFilter(since=T0 + timedelta(days=90))),
        ("flag = H", ResultFilter(flag="H")),
        ("flag = L, kind = qc", ResultFilter(flag="L", kind="qc")),
        ("flag = HH (rare, 0.2 %)", ResultFilter(flag="HH")),
        ("device + flag", ResultFilter(device=DEVICES[4], flag="H")),
        ("kind = qc", ResultFilter(kind="qc")),
        ("unexported", ResultFilter(exported=False)),
        ("device + test + flag", ResultFilter(device=DEVICES[1], test="L-T11", flag="H")),
        ("device + 1 day", ResultFilter(device=DEVICES[2], since=old_day, until=old_day + timedelta(days=1))),
    ]
    out = []
    for name, flt in cases:
        first = store.results_page(flt)
        out.append((name, _time(lambda f=flt: store.results_page(f)), len(first)))
        if len(first) == 100:  # and a later page, keyset from the middle of the table
            after = rows // 2
            out.append(
                (
                    f"  ... page after id {after}",
                    _time(lambda f=flt, a=after: store.results_page(f, after=a)),
                    len(store.results_page(flt, after=after)),
                )
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--insert-messages", type=int, default=20_000)
    parser.add_argument("--analyzers", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="benchlink-bench-"))
    print(f"database files in {directory}")
    print("\n== insert rate (results/s) ==")
    for batch in (1, 50, 500):
        n = args.insert_messages if batch > 1 else min(args.insert_messages, 2000)
        for name, value in bench_insert(directory, n, batch):
            print(f"{name:<52} {value:>12,.2f}")
    print("\n== end-to-end write path: many analyzers, one writer (goal >= 10,000 results/s) ==")
    for name, value in bench_writer(directory, args.analyzers, max(1, args.insert_messages // args.analyzers)):
        print(f"{name:<52} {value:>12,.2f}")
    print(f"\n== building {args.rows:,} results ==")
    store, secs = build_million(directory, args.rows)
    size = sum(
        Path(f"{directory}/bench-million.db{s}").stat().st_size
        for s in ("", "-wal")
        if Path(f"{directory}/bench-million.db{s}").exists()
    )
    print(f"built in {secs:.1f} s ({args.rows / secs:,.0f} rows/s), file size {size / 1e6:.0f} MB")
    print("\n== filtered keyset page of 100, median of 7 (goal <= 50 ms) ==")
    print(f"{'filter':<40} {'ms':>8} {'rows':>6}  verdict")
    worst = 0.0
    for name, ms, n in bench_pages(store, args.rows):
        worst = max(worst, ms)
        print(f"{name:<40} {ms:>8.2f} {n:>6}  {'ok' if ms <= 50 else 'SLOW'}")
    print(f"worst: {worst:.2f} ms")
    store.engine.dispose()


if __name__ == "__main__":
    main()
