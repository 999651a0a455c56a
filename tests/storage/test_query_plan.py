"""The results page is an index walk, not a table scan plus sort (the timing proof is in bench/)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from benchlink.core.model import Result, ResultKind
from benchlink.storage.database import open_engine
from benchlink.storage.store import InboundMessage, ResultFilter, Store

T0 = datetime(2025, 1, 1, tzinfo=UTC)
MESSAGES, PER_MESSAGE = 2000, 10  # 20,000 results


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = Path(tmp_path_factory.mktemp("plan")) / "plan.db"
    store = Store(open_engine(None, path=path, key=os.urandom(32)))
    store.migrate()
    msgs = []
    for n in range(MESSAGES):
        results = tuple(
            Result(
                sample_id=f"S{n:06d}",
                instrument_code=f"T{(n + j) % 30}",
                value="1",
                numeric_value=1.0,
                lis_code=f"L{(n + j) % 30}" if j % 5 else "",
                patient_id=f"P{n % 3000}",
                flags="H" if (n + j) % 10 == 0 else "",
                kind=ResultKind.QC if n % 20 == 0 else ResultKind.PATIENT,
            )
            for j in range(PER_MESSAGE)
        )
        msgs.append(
            InboundMessage(
                device=f"dev{n % 8}",
                protocol="astm",
                data=f"m{n}".encode(),
                received_at=T0 + timedelta(minutes=n * 72),
                results=results,
            )
        )
    for i in range(0, MESSAGES, 500):
        store.commit_inbound(msgs[i : i + 500])
    # Realistic: most results were exported long ago, the unexported ones are the recent tail.
    store.mark_exported(range(1, 18_001), T0 + timedelta(days=200), "archive")
    store.optimize()
    yield store
    store.engine.dispose()


def _plan(store: Store, flt: ResultFilter, after: int | None) -> list[str]:
    stmt = store.page_statement(flt, after=after)
    sql = str(stmt.compile(store.engine, compile_kwargs={"literal_binds": True}))
    with store.engine.connect() as conn:
        return [str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]


@pytest.mark.parametrize(
    ("flt", "index"),
    [
        (ResultFilter(device="dev3"), "ix_results_device_received"),
        (ResultFilter(sample_id="S000100"), "ix_results_sample_id_received"),
        (ResultFilter(patient_id="P1017"), "ix_results_patient_id_received"),
        (ResultFilter(flag="H"), "ix_results_received_at_id"),
        (ResultFilter(kind="qc"), "ix_results_received_at_id"),
        (ResultFilter(exported=False), "ix_results_unexported"),
        (
            ResultFilter(since=T0 + timedelta(days=30), until=T0 + timedelta(days=31)),
            "ix_results_received_at_id",
        ),
        (
            ResultFilter(device="dev2", since=T0 + timedelta(days=10), until=T0 + timedelta(days=60)),
            "ix_results_device_received",
        ),
    ],
)
@pytest.mark.parametrize("after", [None, 15_000])
def test_single_filter_pages_walk_an_index_without_sorting(
    big_store: Store, flt: ResultFilter, index: str, after: int | None
) -> None:
    plan = _plan(big_store, flt, after)
    assert any(index in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan
    assert "SCAN results" not in plan, plan  # a full table scan (scanning the partial index is fine)
    page = big_store.results_page(flt, after=after)
    assert len(page) <= 100
    assert page or after is not None
    keys = [(r.received_at, r.id) for r in page]
    assert keys == sorted(keys, reverse=True)


def test_test_filter_uses_both_code_indexes(big_store: Store) -> None:
    plan = _plan(big_store, ResultFilter(test="L7"), 15_000)
    joined = "\n".join(plan)
    assert "ix_results_lis_code_received" in joined and "ix_results_instrument_code_received" in joined, plan
    assert "SCAN results" not in plan, plan
    page = big_store.results_page(ResultFilter(test="L7"), after=15_000)
    assert len(page) == 100 and all(r.lis_code == "L7" or r.instrument_code == "L7" for r in page)


def test_pages_chain_without_gaps_or_repeats(big_store: Store) -> None:
    flt = ResultFilter(device="dev5", since=T0 + timedelta(days=20), until=T0 + timedelta(days=40))
    seen: list[int] = []
    after = None
    while page := big_store.results_page(flt, after=after, limit=37):
        seen.extend(r.id for r in page)
        after = page[-1].id
    assert len(seen) == len(set(seen)) == big_store.count_results(flt) > 100


def test_device_test_and_flag_is_answered_from_the_code_indexes_alone(big_store: Store) -> None:
    """device + flag are checked on the index entries: no table lookup per rejected row."""
    flt = ResultFilter(device="dev3", test="L10", flag="H")
    plan = _plan(big_store, flt, None)
    covering = [step for step in plan if "COVERING INDEX" in step]
    assert any("ix_results_lis_code_received" in s for s in covering), plan
    assert any("ix_results_instrument_code_received" in s for s in covering), plan
    page = big_store.results_page(flt)
    assert page and all(r.device == "dev3" and r.flags == "H" and "L10" in (r.lis_code, r.instrument_code)
                        for r in page)
