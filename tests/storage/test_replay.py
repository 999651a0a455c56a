"""Replay derives results again from the raw bytes: mapping fixes and driver upgrades, idempotent."""

from __future__ import annotations

from dataclasses import astuple
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from benchlink.core.model import Result
from benchlink.storage.replay import ReplayFilter
from benchlink.storage.schema import raw_messages
from benchlink.storage.store import InboundMessage, ResultFilter, ResultRow, Store

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def toy_decode(device: str, data: bytes) -> tuple[Result, ...]:
    """A driver for tests: b"S1|GLU=5.5;NA=140"; anything starting with BAD is undecodable."""
    if data.startswith(b"BAD"):
        raise ValueError("toy driver cannot read this")
    sample, _, body = data.decode().partition("|")
    out = []
    for part in body.split(";"):
        code, _, value = part.partition("=")
        out.append(Result(sample_id=sample, instrument_code=code, value=value, numeric_value=float(value),
                          units="mmol/L"))
    return tuple(out)


def _message(n: int, device: str = "xn", **kw: object) -> InboundMessage:
    data = f"S{n}|GLU={n}.5;NA=14{n}".encode()
    return InboundMessage(device=device, protocol="astm", data=data, received_at=T0 + timedelta(minutes=n),
                          results=toy_decode(device, data), **kw)  # type: ignore[arg-type]


def _content(rows: list[ResultRow]) -> list[tuple[object, ...]]:
    """Everything but the id."""
    return sorted(astuple(r)[1:] for r in rows)


def _all(store: Store) -> list[ResultRow]:
    return list(store.iter_results(ResultFilter()))


def test_replay_applies_a_mapping_fix_and_is_idempotent(store: Store) -> None:
    store.commit_inbound([_message(n) for n in range(1, 6)])
    raws_before = _raw_table(store)
    assert {r.lis_code for r in _all(store)} == {""}
    store.mappings().set_mapping("*", "GLU", "2345-7", name="Glucose", actor="sup")
    table = store.mappings().to_table()

    first = store.replayer().run(toy_decode, mapping=table, actor="sup")
    assert (first.messages, first.replaced, first.unchanged, first.failed) == (5, 5, 0, 0)
    assert (first.results_before, first.results_after) == (10, 10)
    rows = _all(store)
    assert {(r.instrument_code, r.lis_code, r.test_name) for r in rows} == {
        ("GLU", "2345-7", "Glucose"), ("NA", "", "")
    }
    after_first = _content(rows)

    second = store.replayer().run(toy_decode, mapping=table, actor="sup")
    assert (second.replaced, second.unchanged) == (0, 5)
    assert _content(_all(store)) == after_first
    assert _raw_table(store) == raws_before  # raw bytes never change
    entries = store.audit().search(action="replay")
    assert len(entries) == 2 and entries[0].actor == "sup"
    assert entries[1].after is not None and entries[1].after["replaced"] == 5
    assert entries[1].before == {"filter": {"device": None, "since": None, "quarantined": False}}


def _raw_table(store: Store) -> list[tuple[object, ...]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(raw_messages).order_by(raw_messages.c.id))]


def test_filters_by_device_and_since_and_reports_progress(store: Store) -> None:
    store.commit_inbound([_message(1, "a"), _message(2, "b"), _message(3, "a"), _message(4, "a")])
    store.mappings().set_mapping("*", "NA", "2951-2", actor="s")
    seen: list[tuple[int, int]] = []
    report = store.replayer().run(
        toy_decode, ReplayFilter(device="a", since=T0 + timedelta(minutes=2)),
        mapping=store.mappings().to_table(), actor="s", batch=1, progress=lambda d, t: seen.append((d, t)),
    )
    assert report.replaced == 2
    assert seen[-1] == (2, 2) and len(seen) == 2
    mapped = {(r.device, r.sample_id) for r in _all(store) if r.lis_code}
    assert mapped == {("a", "S3"), ("a", "S4")}


def test_unchanged_results_keep_their_export_stamp_changed_ones_are_exported_again(store: Store) -> None:
    store.commit_inbound([_message(1)])
    ids = [r.id for r in _all(store)]
    stamp = datetime(2025, 3, 2, tzinfo=UTC)
    store.mark_exported(ids, stamp, "lis.csv")
    store.mappings().set_mapping("*", "GLU", "2345-7", actor="s")
    store.replayer().run(toy_decode, mapping=store.mappings().to_table(), actor="s")
    by_code = {r.instrument_code: r for r in _all(store)}
    assert by_code["NA"].exported_at == stamp  # same content: the LIS already has it
    assert by_code["GLU"].exported_at is None and by_code["GLU"].lis_code == "2345-7"


def test_a_failing_driver_keeps_old_results(store: Store) -> None:
    store.commit_inbound([_message(1), _message(2)])
    before = _content(_all(store))

    def broken(device: str, data: bytes) -> tuple[Result, ...]:
        raise RuntimeError("driver 2.0 regression")

    report = store.replayer().run(broken, actor="s")
    assert (report.failed, report.replaced) == (2, 0)
    assert report.errors and "driver 2.0 regression" in report.errors[0]
    assert _content(_all(store)) == before


def test_fragments_and_outbound_are_skipped(store: Store) -> None:
    frag = InboundMessage(device="xn", protocol="astm", data=b"BAD partial", received_at=T0,
                          link_meta={"fragment": 1, "peer": "x"}, decode_status="empty")
    store.commit_inbound([frag, _message(1)])
    report = store.replayer().run(toy_decode, actor="s")
    assert (report.fragments_skipped, report.messages, report.failed) == (1, 1, 0)


@pytest.mark.parametrize("include", [False, True])
def test_quarantined_messages_are_retried_only_on_request(store: Store, include: bool) -> None:
    bad = InboundMessage(device="xn", protocol="astm", data=b"S9|GLU=9.5", received_at=T0,
                         decode_status="quarantined", error="old driver bug")
    (out,) = store.commit_inbound([bad])
    report = store.replayer().run(toy_decode, ReplayFilter(include_quarantined=include), actor="fixer")
    if not include:
        assert report.messages == 0 and store.quarantine_list()[0].state == "open"
        return
    assert report.quarantine_retried == 1 and report.results_after == 1
    assert store.quarantine_list() == []
    (q,) = store.quarantine_list("retried")
    assert q.id == out.quarantine_id
    raw = store.raw_message(out.message_id)
    assert raw is not None and raw.decode_status == "ok" and raw.data == bad.data
    (entry,) = store.audit().search(action="quarantine.retried")
    assert entry.actor == "fixer" and entry.after is not None and entry.after["message_id"] == out.message_id
    # Retried now: a second replay sees an ordinary message with the same results.
    again = store.replayer().run(toy_decode, ReplayFilter(include_quarantined=True), actor="fixer")
    assert (again.unchanged, again.quarantine_retried) == (1, 0)
