from __future__ import annotations

import pytest

from benchlink.protocols.hl7.message import (
    Hl7DecodeError,
    decode_text,
    normalise_segments,
    parse_message,
)

ORU = (
    b"MSH|^~\\&|LAB|FAC|LIS|HOSP|20240102030405||ORU^R01^ORU_R01|CTRL42|P|2.5.1||||||UNICODE UTF-8\r"
    b"PID|1||P1^^^^MR||Doe^Jane\r"
)


def test_normalise_segments_handles_cr_lf_crlf_and_blank_lines() -> None:
    assert normalise_segments(b"A\r\nB\nC\rD\r\n\r\nE\n\n") == b"A\rB\rC\rD\rE\r"
    assert normalise_segments(b"A\rB\r") == b"A\rB\r"


def test_header_accessors() -> None:
    msg = parse_message(ORU)
    assert msg.message_type == "ORU^R01"
    assert msg.control_id == "CTRL42"
    assert msg.version == "2.5.1"
    assert msg.sending_application == "LAB"
    assert msg.receiving_facility == "HOSP"
    assert msg.charset == "UNICODE UTF-8"
    assert msg.msh[1] == "|" and msg.msh[2] == "^~\\&"
    pid = msg.segment("PID")
    assert msg.value(pid, 3) == "P1"
    assert msg.components(pid, 5) == ["Doe", "Jane"]


def test_lf_only_message_is_split_into_segments() -> None:
    msg = parse_message(ORU.replace(b"\r", b"\n"))
    assert [s[0] for s in msg.segments] == ["MSH", "PID"]


def test_mllp_framing_is_tolerated() -> None:
    assert parse_message(b"\x0b" + ORU + b"\x1c\r").control_id == "CTRL42"


def test_non_default_separators() -> None:
    data = b"MSH#$*!%#APP#FAC#####ORU$R01#9#P#2.3.1\rOBX#1#ST#C$Name##a!F!b$c\r"
    msg = parse_message(data)
    assert msg.message_type == "ORU^R01"
    obx = msg.segment("OBX")
    assert msg.value(obx, 5, 1) == "a#b"
    assert msg.text(obx, 5) == "a#b$c"


@pytest.mark.parametrize(
    ("declared", "data", "expected"),
    [
        ("8859/1", "Hämoglobin".encode("latin-1"), "Hämoglobin"),
        ("UNICODE UTF-8", "Hämoglobin".encode(), "Hämoglobin"),
        ("UNICODE", "µmol/L".encode(), "µmol/L"),
        ("ASCII", b"plain", "plain"),
        ("8859/2", "Łódź".encode("iso-8859-2"), "Łódź"),
    ],
)
def test_decode_text_follows_msh18(declared: str, data: bytes, expected: str) -> None:
    message = b"MSH|^~\\&|A|B|||20240101||ORU^R01|1|P|2.5.1||||||" + declared.encode() + b"\rOBX|1|ST|X||"
    assert decode_text(message + data).endswith(expected)


def test_profile_encoding_overrides_msh18() -> None:
    message = b"MSH|^~\\&|A|B|||20240101||ORU^R01|1|P|2.5.1||||||ASCII\rOBX|1|ST|X||" + "é".encode("cp1252")
    assert decode_text(message, profile_encoding="cp1252").endswith("é")


def test_undeclared_8bit_falls_back_to_latin1() -> None:
    assert decode_text(b"MSH|^~\\&|A\rOBX|1|ST|X||\xe4").endswith("ä")


def test_declared_utf8_that_is_not_utf8_is_an_error() -> None:
    bad = b"MSH|^~\\&|A|B|||20240101||ORU^R01|1|P|2.5.1||||||UNICODE UTF-8\rOBX|1|ST|X||\xe4"
    with pytest.raises(Hl7DecodeError, match="device profile"):
        decode_text(bad)


def test_unknown_charset_is_an_error_that_says_what_to_do() -> None:
    bad = b"MSH|^~\\&|A|B|||20240101||ORU^R01|1|P|2.5.1||||||KLINGON\rOBX|1|ST|X||a"
    with pytest.raises(Hl7DecodeError, match=r"KLINGON.*device profile"):
        parse_message(bad)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b"PID|1||x\r", "MSH"),
        (b"MSHA^~\\&|x\r", "separator"),
        (b"MSH|^|x\r", "MSH-2"),
        (b"MSH|^^\\&|x\r", "repeat"),
    ],
)
def test_bad_headers_raise_documented_error(data: bytes, fragment: str) -> None:
    with pytest.raises(Hl7DecodeError, match=fragment):
        parse_message(data)
