"""Mindray BS-240 over HL7: MSH-16 kinds, OBR-2 barcode, OBX-4 name, split results, queries."""

from __future__ import annotations

from pathlib import Path

from benchlink_mindray.bs240_hl7 import Bs240Hl7Driver

from benchlink.core.driver import query_replies
from benchlink.core.model import OrderRequest, ResultKind
from benchlink.protocols.hl7.message import parse_message
from benchlink.runtime.plugins import PluginManager

FIXTURES = Path(__file__).parent / "fixtures"


def _decode(name: str):  # type: ignore[no-untyped-def]
    return Bs240Hl7Driver().decode((FIXTURES / name).read_bytes(), encoding="")


def test_msh16_keeps_sample_calibration_and_qc_apart() -> None:
    assert {r.kind for r in _decode("bs240-hl7-sample-part1.hl7").results} == {ResultKind.PATIENT}
    assert {r.kind for r in _decode("bs240-hl7-calibration.hl7").results} == {ResultKind.CALIBRATION}
    assert {r.kind for r in _decode("bs240-hl7-qc.hl7").results} == {ResultKind.QC}


def test_obr2_barcode_and_obx4_test_name() -> None:
    results = _decode("bs240-hl7-sample-part1.hl7").results
    assert [(r.sample_id, r.instrument_code, r.test_name, r.value) for r in results] == [
        ("BC100200", "3", "ALT", "35.2"), ("BC100200", "4", "AST", "28.0")]


def test_results_split_across_messages_meet_by_sample() -> None:
    parts = [*_decode("bs240-hl7-sample-part1.hl7").results, *_decode("bs240-hl7-sample-part2.hl7").results]
    by_sample: dict[str, list[str]] = {}
    for r in parts:
        by_sample.setdefault(r.sample_id, []).append(r.test_name)
    assert by_sample == {"BC100200": ["ALT", "AST", "GLU"]}
    glu = parts[-1]
    assert (glu.flags, glu.numeric_value, glu.units) == ("H", 6.8, "mmol/L")


def test_query_is_answered_with_qck_then_dsr() -> None:
    driver = Bs240Hl7Driver()
    decoded = driver.decode((FIXTURES / "bs240-hl7-query.hl7").read_bytes(), encoding="")
    assert not decoded.results and decoded.queries[0].sample_ids == ("BC100300",)
    replies = query_replies(driver, decoded.queries[0], [OrderRequest("BC100300", ("ALT", "GLU"))], encoding="")
    messages = [parse_message(r) for r in replies]
    assert [m.message_type for m in messages] == ["QCK^Q02", "DSR^Q03"]
    assert messages[0].value(messages[0].segment("QAK"), 2) == "OK"
    dsr = messages[1]
    assert dsr.value(dsr.segment("MSA"), 2) == "105"
    dsp = {dsr.value(s, 1): dsr.value(s, 3) for s in dsr.segments_named("DSP")}
    assert dsp["21"] == "BC100300" and dsp["29"] == "ALT" and dsp["30"] == "GLU"


def test_query_without_orders_gets_not_found() -> None:
    driver = Bs240Hl7Driver()
    query = driver.decode((FIXTURES / "bs240-hl7-query.hl7").read_bytes(), encoding="").queries[0]
    replies = query_replies(driver, query, [], encoding="")
    assert len(replies) == 1
    qck = parse_message(replies[0])
    assert qck.value(qck.segment("QAK"), 2) == "NF"


def test_detection_picks_the_hl7_driver() -> None:
    found = PluginManager().detect((FIXTURES / "bs240-hl7-qc.hl7").read_bytes())
    assert found is not None and found[0].info.name == "mindray-bs240-hl7"
