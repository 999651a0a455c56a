"""Store behaviour on both backends (SQLCipher and, when installed, a real PostgreSQL)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from benchlink.core.model import Result, ResultKind
from benchlink.storage.schema import quarantine, raw_messages, results
from benchlink.storage.store import InboundMessage, ResultFilter, Store

MakeMessage = Callable[..., InboundMessage]
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def _count(store: Store, table: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_commit_stores_raw_bytes_verbatim_and_results(store: Store, make_message: MakeMessage) -> None:
    msg = make_message(1, results=4, link_meta={"frames": 3, "peer": "10.0.0.5"}, session="s-1")
    (out,) = store.commit_inbound([msg])
    assert not out.duplicate and out.quarantine_id is None
    raw = store.raw_message(out.message_id)
    assert raw is not None
    assert raw.data == msg.data
    assert raw.sha256 == hashlib.sha256(msg.data).hexdigest()
    assert raw.link_meta == {"frames": 3, "peer": "10.0.0.5"}
    assert raw.received_at == msg.received_at
    assert (raw.device, raw.protocol, raw.direction, raw.session) == ("xn1000", "astm", "in", "s-1")
    rows = store.results_page(ResultFilter())
    assert len(rows) == 4
    assert {r.message_id for r in rows} == {out.message_id}
    assert rows[0].id > rows[-1].id  # newest first
    first = min(rows, key=lambda r: r.id)
    assert first.instrument_code == "T0" and first.sample_id == "S00001" and first.numeric_value == 1.0
    assert first.patient_name == "Name 1" and first.flags == "H" and first.kind == "patient"
    assert first.received_at == msg.received_at and first.exported_at is None


def test_binary_data_with_nul_and_high_bytes_round_trips(store: Store) -> None:
    data = bytes(range(256)) * 3
    (out,) = store.commit_inbound(
        [InboundMessage(device="d", protocol="hl7", data=data, received_at=T0, decode_status="empty")]
    )
    raw = store.raw_message(out.message_id)
    assert raw is not None and raw.data == data and raw.decode_status == "empty"


def test_duplicate_across_batches_is_not_stored_twice(store: Store, make_message: MakeMessage) -> None:
    (first,) = store.commit_inbound([make_message(1)])
    again = make_message(1, minutes=99)  # same bytes, later arrival: an analyzer retransmit
    (second,) = store.commit_inbound([again])
    assert second.duplicate and second.message_id == first.message_id
    assert _count(store, raw_messages) == 1
    assert _count(store, results) == 3


def test_duplicate_within_one_batch(store: Store, make_message: MakeMessage) -> None:
    outs = store.commit_inbound([make_message(1), make_message(2), make_message(1)])
    assert [o.duplicate for o in outs] == [False, False, True]
    assert outs[2].message_id == outs[0].message_id
    assert _count(store, raw_messages) == 2
    assert _count(store, results) == 6


def test_same_bytes_from_another_device_is_not_a_duplicate(store: Store, make_message: MakeMessage) -> None:
    a = make_message(1)
    b = InboundMessage(device="other", protocol=a.protocol, data=a.data, received_at=a.received_at)
    outs = store.commit_inbound([a, b])
    assert [o.duplicate for o in outs] == [False, False]
    assert outs[0].message_id != outs[1].message_id


def test_quarantine_keeps_bytes_and_error(store: Store) -> None:
    bad = InboundMessage(
        device="d",
        protocol="astm",
        data=b"\x02garbage\x03",
        received_at=T0,
        decode_status="quarantined",
        error="checksum mismatch in frame 2",
    )
    (out,) = store.commit_inbound([bad])
    assert out.quarantine_id is not None
    (q,) = store.quarantine_list()
    assert q.id == out.quarantine_id and q.message_id == out.message_id
    assert q.data == bad.data and q.error == "checksum mismatch in frame 2" and q.state == "open"
    raw = store.raw_message(out.message_id)
    assert raw is not None and raw.decode_status == "quarantined"
    # A retransmit of the same bad bytes points at the same quarantine entry.
    (dup,) = store.commit_inbound([bad])
    assert dup.duplicate and dup.quarantine_id == out.quarantine_id
    assert _count(store, quarantine) == 1


def test_quarantine_state_change_is_audited(store: Store) -> None:
    bad = InboundMessage(
        device="d",
        protocol="hl7",
        data=b"MSH|bad",
        received_at=T0,
        decode_status="quarantined",
        error="no MSH-9",
    )
    (out,) = store.commit_inbound([bad])
    assert out.quarantine_id is not None
    store.set_quarantine_state(out.quarantine_id, "dismissed", actor="alice")
    assert store.quarantine_list() == []
    (q,) = store.quarantine_list("dismissed")
    assert q.updated_at is not None
    (entry,) = store.audit().search(action="quarantine.dismissed")
    assert (
        entry.actor == "alice" and entry.before == {"state": "open"} and entry.after == {"state": "dismissed"}
    )
    with pytest.raises(ValueError, match="quarantine state"):
        store.set_quarantine_state(out.quarantine_id, "deleted", actor="alice")
    with pytest.raises(KeyError):
        store.set_quarantine_state(999_999, "dismissed", actor="alice")


def test_invalid_decode_status_is_rejected() -> None:
    with pytest.raises(ValueError, match="decode_status"):
        InboundMessage(device="d", protocol="astm", data=b"x", received_at=T0, decode_status="weird")


def test_failed_batch_commits_nothing(store: Store, make_message: MakeMessage) -> None:
    good = make_message(1)
    # A result whose value is None violates NOT NULL: the whole batch must roll back.
    poisoned = InboundMessage(
        device="d",
        protocol="astm",
        data=b"poison",
        received_at=T0,
        results=(Result(sample_id="S", instrument_code="T", value=None),),
    )  # type: ignore[arg-type]
    with pytest.raises(Exception):  # noqa: B017 - backend-specific IntegrityError
        store.commit_inbound([good, poisoned])
    assert _count(store, raw_messages) == 0
    assert _count(store, results) == 0


def _fill(store: Store, make_message: MakeMessage, n: int = 40) -> None:
    batch = [make_message(i, device="xn1000" if i % 2 else "cobas") for i in range(n)]
    store.commit_inbound(batch)


def _all_pages(store: Store, flt: ResultFilter, limit: int) -> list[int]:
    ids: list[int] = []
    after = None
    while True:
        page = store.results_page(flt, after=after, limit=limit)
        if not page:
            return ids
        assert len(page) <= limit
        ids.extend(r.id for r in page)
        after = page[-1].id


@pytest.mark.parametrize(
    ("flt", "predicate"),
    [
        (ResultFilter(), lambda r: True),
        (ResultFilter(device="cobas"), lambda r: r.device == "cobas"),
        (ResultFilter(sample_id="S00007"), lambda r: r.sample_id == "S00007"),
        (ResultFilter(patient_id="P3"), lambda r: r.patient_id == "P3"),
        (ResultFilter(test="T1"), lambda r: r.instrument_code == "T1"),
        (ResultFilter(flag="H"), lambda r: r.flags == "H"),
        (ResultFilter(kind="qc"), lambda r: r.kind == "qc"),
        (
            ResultFilter(since=T0 + timedelta(minutes=10), until=T0 + timedelta(minutes=20)),
            lambda r: T0 + timedelta(minutes=10) <= r.received_at < T0 + timedelta(minutes=20),
        ),
        (
            ResultFilter(device="xn1000", test="T2", flag=""),
            lambda r: r.device == "xn1000" and r.instrument_code == "T2" and r.flags == "",
        ),
    ],
)
def test_keyset_pages_match_filter(
    store: Store, make_message: MakeMessage, flt: ResultFilter, predicate: Callable[[Any], bool]
) -> None:
    _fill(store, make_message)
    everything = list(store.iter_results(ResultFilter(), batch=7))
    assert len(everything) == 120
    expected = sorted((r.id for r in everything if predicate(r)), reverse=True)
    assert expected, "filter must select something for the test to mean anything"
    assert _all_pages(store, flt, limit=5) == expected
    assert store.count_results(flt) == len(expected)
    assert [r.id for r in store.iter_results(flt, batch=4)] == sorted(expected)


def test_test_filter_matches_lis_code_or_instrument_code(store: Store, make_result: Any) -> None:
    rs = (
        make_result("S1", "GLU", lis_code="2345-7"),
        make_result("S2", "2345-7"),  # an instrument that already sends the LOINC code
        make_result("S3", "NA", lis_code="2951-2"),
    )
    store.commit_inbound([InboundMessage(device="d", protocol="astm", data=b"m", received_at=T0, results=rs)])
    got = {r.sample_id for r in store.results_page(ResultFilter(test="2345-7"))}
    assert got == {"S1", "S2"}
    assert {r.sample_id for r in store.results_page(ResultFilter(test="GLU"))} == {"S1"}
    assert store.count_results(ResultFilter(test="2345-7")) == 2


def test_mark_exported_and_exported_filter(store: Store, make_message: MakeMessage) -> None:
    _fill(store, make_message, 10)
    ids = [r.id for r in store.results_page(ResultFilter(device="cobas"))]
    at = datetime(2025, 3, 2, 12, 0, tzinfo=UTC)
    store.mark_exported(ids, at, "/exports/cobas.csv", actor="bob")
    assert sorted(r.id for r in store.iter_results(ResultFilter(exported=True))) == sorted(ids)
    assert all(r.exported_at == at for r in store.iter_results(ResultFilter(exported=True)))
    assert store.count_results(ResultFilter(exported=False)) == 30 - len(ids)
    assert store.results_page(ResultFilter(exported=False, device="cobas")) == []
    (entry,) = store.audit().search(action="export")
    assert (
        entry.target == "/exports/cobas.csv" and entry.after is not None and entry.after["count"] == len(ids)
    )
    assert store.audit().verify().ok


def test_mark_exported_large_id_list(store: Store, make_message: MakeMessage) -> None:
    store.commit_inbound([make_message(i, results=30) for i in range(50)])  # 1500 results
    ids = [r.id for r in store.iter_results(ResultFilter())]
    store.mark_exported(ids, T0, "x")
    assert store.count_results(ResultFilter(exported=False)) == 0


def test_aggregates(store: Store, make_result: Any) -> None:
    rs = (
        make_result("S1", "GLU", "4.0"),
        make_result("S2", "GLU", "6.0"),
        make_result("S3", "GLU", "positive"),
        make_result("S4", "NA", "140", kind=ResultKind.QC),
    )
    store.commit_inbound([InboundMessage(device="d", protocol="astm", data=b"m", received_at=T0, results=rs)])
    agg = {(a["device"], a["instrument_code"]): a for a in store.aggregates(ResultFilter())}
    glu = agg[("d", "GLU")]
    assert (glu["count"], glu["numeric_count"], glu["min"], glu["max"], glu["mean"]) == (3, 2, 4.0, 6.0, 5.0)
    assert agg[("d", "NA")]["mean"] == 140.0
    assert [a["instrument_code"] for a in store.aggregates(ResultFilter(kind="qc"))] == ["NA"]


def test_raw_message_unknown_id(store: Store) -> None:
    assert store.raw_message(12345) is None


def test_migrate_is_idempotent(store: Store, make_message: MakeMessage) -> None:
    store.commit_inbound([make_message(1)])
    store.migrate()
    assert store.count_results(ResultFilter()) == 3


def test_stored_timestamps_compare_exactly_at_a_filter_boundary(store: Store, make_message: MakeMessage) -> None:
    """The fast write path encodes times exactly as Core binds them (whole seconds included)."""
    msg = make_message(0, minutes=0)  # received_at == T0, microsecond 0
    store.commit_inbound([msg])
    assert store.count_results(ResultFilter(since=T0)) == 3
    assert store.count_results(ResultFilter(until=T0)) == 0
    assert store.count_results(ResultFilter(since=T0, until=T0 + timedelta(microseconds=1))) == 3
