"""Interoperability with python-astm (``astm-2025`` on PyPI, imported as ``astm``).

python-astm knows only the default delimiters and no escape sequences, so the messages
exchanged here stay inside what both sides understand. Its ``encode`` recurses forever on
``str`` fields under Python 3 (a ``str`` is an ``Iterable`` of ``str``); the tests hand it
``bytes`` fields instead, which it writes verbatim. That workaround lives here only.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchlink.protocols.astm.capture import read_capture
from benchlink.protocols.astm.records import AstmMessage, decode_message, encode_records

codec = pytest.importorskip("astm.codec", reason="python-astm (astm-2025) is not installed")

Structure = Any  # python-astm's nested lists of str / None


def as_python_astm(message: AstmMessage) -> list[list[Structure]]:
    """Our raw records in python-astm's shape: '' -> None, components and repeats as lists."""
    out = []
    for rec in message.records:
        fields: list[Structure] = []
        for raw in rec.fields:
            if "\\" in raw:
                fields.append([[c or None for c in rep.split("^")] for rep in raw.split("\\")])
            elif "^" in raw:
                fields.append([c or None for c in raw.split("^")])
            else:
                fields.append(raw or None)
        out.append(fields)
    return out


def to_bytes(value: Structure) -> Structure:
    """python-astm's encode needs bytes leaves (str recurses forever under Python 3)."""
    if isinstance(value, str):
        return value.encode("latin-1")
    if isinstance(value, list):
        return [to_bytes(v) for v in value]
    return value


def frame_for_python_astm(text: bytes) -> bytes:
    """One LIS01-A2 frame, the only input python-astm's decode_message accepts."""
    body = b"1" + text + b"\x03"
    return b"\x02" + body + f"{sum(body) & 0xFF:02X}".encode() + b"\r\n"


ORDER: list[list[Any]] = [
    ["H", None, None, None, ["Benchlink", "1.0"], None, None, None, None, "ANALYZER", None, "P", "1"],
    ["P", "1", "PAT-1", None, None, ["Doe", "Jane"], None, "19700101", "F"],
    ["O", "1", "S-100", None, [["", "", "", "GLU"], ["", "", "", "NA"]], "R"],
    ["R", "1", ["", "", "", "GLU"], "5.4", "mmol/L", "3.9 to 6.1", "N", None, "F"],
    ["L", "1", "N"],
]


def test_python_astm_reads_what_we_encode() -> None:
    text = encode_records(ORDER)
    seq, records, checksum = codec.decode_message(frame_for_python_astm(text), "latin-1")
    assert seq == 1
    assert records == as_python_astm(decode_message(text))
    assert records[1][5] == ["Doe", "Jane"]
    assert records[2][4] == [[None, None, None, "GLU"], [None, None, None, "NA"]]
    assert records[3][3] == "5.4"
    assert checksum == codec.make_checksum(frame_for_python_astm(text)[1:-4]).decode()


def test_we_read_what_python_astm_encodes() -> None:
    records = [
        ["H", [[None], [None, "&"]], None, None, ["Analyzer", "2.0"], None, None, None, None, "LIS", None,
         "P", "1"],
        ["P", "1", "PAT-9", None, None, ["Roe", "Rick"]],
        ["O", "1", "S-9", None, [[None, None, None, "GLU"], [None, None, None, "CHOL"]], "R"],
        ["R", "1", [None, None, None, "GLU"], "5.9", "mmol/L", None, "H", None, "F"],
        ["R", "2", [None, None, None, "CHOL"], "4.2", "mmol/L", None, "N", None, "F"],
        ["L", "1", "N"],
    ]
    (wire,) = codec.encode(to_bytes(records), "latin-1")
    capture = read_capture(wire)
    assert capture.frames == 1 and capture.checksum_failures == 0  # same checksum rule
    (text,) = capture.messages
    msg = decode_message(text)
    assert msg.has_header and msg.header.sender_name == "Analyzer"
    assert msg.patients[0].view.last_name == "Roe"
    assert msg.patients[0].orders[0].view.test_codes == ["GLU", "CHOL"]
    assert [(r.code, r.value, r.abnormal_flag) for r in msg.results] == [
        ("GLU", "5.9", "H"), ("CHOL", "4.2", "N")]
    assert as_python_astm(msg) == codec.decode_message(wire, "latin-1")[1]


def test_python_astm_chunked_message_reads_as_etb_frames() -> None:
    records = [["H", [[None], [None, "&"]]], ["P", "1", "X" * 300], ["L", "1", "N"]]
    chunks = codec.encode(to_bytes(records), "latin-1", size=64)
    assert len(chunks) > 3
    capture = read_capture(b"\x05" + b"".join(chunks) + b"\x04")
    assert capture.checksum_failures == 0
    msg = decode_message(capture.messages[0])
    assert msg.patients[0].record.field(3) == "X" * 300


SAFE_TEXT = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .-/<>", max_size=10
)
SAFE_FIELD = st.one_of(SAFE_TEXT, st.lists(SAFE_TEXT, min_size=2, max_size=4))


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from("POCRQ"), st.lists(SAFE_FIELD, max_size=6)), max_size=5))
def test_both_decoders_agree_on_our_encoding(rows: list[tuple[str, list[str | list[str]]]]) -> None:
    records: list[list[Any]] = [["H"], *([kind, *fields] for kind, fields in rows), ["L", "1"]]
    text = encode_records(records)
    _, theirs, _ = codec.decode_message(frame_for_python_astm(text), "latin-1")
    assert theirs == as_python_astm(decode_message(text))
