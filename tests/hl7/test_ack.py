from __future__ import annotations

import pytest

from benchlink.protocols.hl7.ack import (
    QueryOrder,
    build_ack,
    build_query_response,
    build_reject,
    parse_query,
)
from benchlink.protocols.hl7.errors import Hl7EncodeError
from benchlink.protocols.hl7.message import parse_message

ORU_231 = (
    b"MSH|^~\\&|BC-5380|Mindray|LIS|Lab|20240301101500||ORU^R01|CTRL-77|P|2.3.1||||||UNICODE\r"
    b"OBX|1|NM|6690-2^WBC^LN||7.25\r"
)
ORU_251 = ORU_231.replace(b"2.3.1", b"2.5.1")

QRY_Q02 = (
    b"MSH|^~\\&|Mindray|BS-200|||20240105103000||QRY^Q02|Q-5|P|2.3.1||||||ASCII|||\r"
    b"QRD|20240105103000|R|D|1|||RD|BC-0001|OTH|||T|\r"
    b"QRF|BS-200|20240105000000|20240105235959|||RCT|COR|ALL||\r"
)


@pytest.mark.parametrize("code", ["AA", "AE", "AR"])
def test_msa2_echoes_incoming_control_id(code: str) -> None:
    ack_bytes = build_ack(parse_message(ORU_231), code, "text", control_id="A1", timestamp="20240301101501")
    ack = parse_message(ack_bytes)
    msa = ack.segment("MSA")
    assert ack.value(msa, 1) == code
    assert ack.value(msa, 2) == "CTRL-77"
    assert ack.control_id == "A1" and ack.timestamp == "20240301101501"


def test_sender_and_receiver_are_swapped() -> None:
    ack = parse_message(build_ack(parse_message(ORU_231), control_id="A1", timestamp="20240301"))
    assert (ack.sending_application, ack.sending_facility) == ("LIS", "Lab")
    assert (ack.receiving_application, ack.receiving_facility) == ("BC-5380", "Mindray")
    assert ack.message_type == "ACK^R01" and ack.version == "2.3.1" and ack.charset == "UNICODE"


def test_legacy_versions_get_msa6_zero_and_251_gets_ack_structure() -> None:
    legacy = parse_message(build_ack(parse_message(ORU_231), control_id="A", timestamp="2024"))
    assert legacy.value(legacy.segment("MSA"), 6) == "0"
    modern = parse_message(build_ack(parse_message(ORU_251), control_id="A", timestamp="2024"))
    assert modern.value(modern.msh, 9, 3) == "ACK"
    assert modern.raw(modern.segment("MSA"), 6) == ""


def test_ack_text_is_escaped() -> None:
    ack = parse_message(build_ack(parse_message(ORU_231), "AE", "bad|field^x", control_id="A", timestamp="1"))
    assert ack.value(ack.segment("MSA"), 3) == "bad|field^x"


def test_unknown_ack_code_rejected() -> None:
    with pytest.raises(Hl7EncodeError, match="acknowledgement code"):
        build_ack(parse_message(ORU_231), "OK", control_id="A", timestamp="1")


def test_reject_salvages_control_id_from_unparseable_bytes() -> None:
    garbage = b"MSH|^~\\&|DEV|FAC|||2024||ORU^R01|BROKEN-1|P|2.3.1||||||KLINGON\rOBX|\xff\xfe"
    ack = parse_message(build_reject(garbage, "cannot decode", control_id="R1", timestamp="2024"))
    msa = ack.segment("MSA")
    assert ack.value(msa, 1) == "AR" and ack.value(msa, 2) == "BROKEN-1"
    assert ack.receiving_application == "DEV"
    not_hl7 = parse_message(build_reject(b"\x00\x01garbage", "x", control_id="R2", timestamp="2024"))
    assert not_hl7.value(not_hl7.segment("MSA"), 2) == ""


def test_parse_query_reads_barcode_from_qrd8() -> None:
    query = parse_query(parse_message(QRY_Q02))
    assert query.sample_ids == ("BC-0001",) and query.control_id == "Q-5" and query.instrument == "BS-200"


def test_query_response_found_sends_qck_then_dsr_with_tests() -> None:
    order = QueryOrder(
        sample_id="BC-0001",
        tests=("ALT", "GLU"),
        patient_id="P-1",
        patient_name="Doe^Jane",
        sex="F",
        stat=True,
        sample_type="serum",
    )
    qck_bytes, dsr_bytes = build_query_response(
        parse_message(QRY_Q02), [order], control_id="R-9", timestamp="20240105103001"
    )
    qck = parse_message(qck_bytes)
    assert qck.message_type == "QCK^Q02"
    assert qck.value(qck.segment("MSA"), 2) == "Q-5"
    assert qck.value(qck.segment("QAK"), 2) == "OK"
    dsr = parse_message(dsr_bytes)
    assert dsr.message_type == "DSR^Q03" and dsr.control_id == "R-9-1"
    assert dsr.value(dsr.segment("MSA"), 2) == "Q-5"
    assert dsr.value(dsr.segment("QRD"), 8) == "BC-0001"  # QRD/QRF echoed
    dsp = {dsr.value(s, 1): s for s in dsr.segments_named("DSP")}
    assert [dsr.value(dsp[str(n)], 3) for n in (1, 3, 5, 21, 24, 26)] == [
        "P-1", "Doe^Jane", "F", "BC-0001", "Y", "serum",
    ]
    assert [dsr.value(dsp[n], 3, 1) for n in ("29", "30")] == ["ALT", "GLU"]
    assert len(dsp) == 30
    assert dsr.segments[-1][0] == "DSC"


def test_query_response_not_found_sends_qck_nf_only() -> None:
    (qck_bytes,) = build_query_response(parse_message(QRY_Q02), [], control_id="R", timestamp="2024")
    qck = parse_message(qck_bytes)
    assert qck.value(qck.segment("QAK"), 2) == "NF"
    assert qck.value(qck.segment("ERR"), 1) == "0"


def test_query_without_qrd_is_an_error() -> None:
    bad = parse_message(QRY_Q02.split(b"\r")[0] + b"\r")
    with pytest.raises(Hl7EncodeError, match="QRD"):
        parse_query(bad)
