"""Property tests: encode/decode identity, byte-identical round trips, and fuzzing.

The fuzz tests hold the codec to its one promise about bad input: it raises
``AstmDecodeError`` (or a subclass) and nothing else, whatever the bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchlink.protocols.astm.capture import read_capture
from benchlink.protocols.astm.errors import AstmDecodeError
from benchlink.protocols.astm.records import (
    AstmMessage,
    Delimiters,
    decode_message,
    encode_message,
    encode_records,
)

DELIMITER_POOL = "|\\^&!@#$%*~`;:/?+=<>[]{}(),.'\"-_"
LATIN1_TEXT = st.text(alphabet=st.characters(codec="latin-1"), max_size=12)

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("BENCHLINK_CORPUS", REPO.parent / "shared" / "corpus"))


@st.composite
def delimiters(draw: st.DrawFn) -> Delimiters:
    chars = draw(st.lists(st.sampled_from(DELIMITER_POOL), min_size=4, max_size=4, unique=True))
    return Delimiters(*chars)


components = st.lists(LATIN1_TEXT, min_size=1, max_size=4)
field_values = st.one_of(
    LATIN1_TEXT,
    components,
    st.lists(components, min_size=2, max_size=3),
)
records = st.lists(
    st.tuples(st.sampled_from("POCRQMSL"), st.lists(field_values, max_size=8)),
    max_size=6,
)


def _expected_structure(value: str | list[str] | list[list[str]]) -> list[list[str]]:
    if isinstance(value, str):
        return [[value]]
    if value and isinstance(value[0], list):
        return [list(c) for c in value]  # type: ignore[arg-type]
    return [list(value)]  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(delims=delimiters(), recs=records)
def test_encode_then_decode_is_identity(
    delims: Delimiters, recs: list[tuple[str, list[str | list[str] | list[list[str]]]]]
) -> None:
    rows: list[list[object]] = [["H", None, None, None, ["Sender", "1.0"]]]
    rows.extend([kind, *values] for kind, values in recs)
    data = encode_records(rows, delims)  # type: ignore[arg-type]
    msg = decode_message(data)
    assert msg.delimiters == delims
    assert msg.header.sender_components == ["Sender", "1.0"]
    assert len(msg.records) == len(rows)
    for (kind, values), rec in zip(recs, msg.records[1:], strict=True):
        assert rec.type == kind
        for i, value in enumerate(values, start=2):
            expected = _expected_structure(value)
            if rec.field(i) == "":
                assert all(c == "" for rep in expected for c in rep)
            else:
                assert rec.repeat_components(i, delims) == expected
            if isinstance(value, str):
                assert rec.text(i, delims) == value
    assert encode_message(msg) == data


canonical_line = st.tuples(
    st.sampled_from("POCRQMSLX"),
    st.text(alphabet=st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=40),
).map(lambda t: t[0] + "|" + t[1])


@settings(max_examples=150, deadline=None)
@given(
    header_tail=st.text(alphabet=st.characters(codec="latin-1", exclude_characters="\r\n|"), max_size=20),
    lines=st.lists(canonical_line, max_size=10),
    trailing=st.booleans(),
    encoding=st.sampled_from(["latin-1", "utf-8", "cp1252"]),
)
def test_canonical_bytes_round_trip_byte_identical(
    header_tail: str, lines: list[str], trailing: bool, encoding: str
) -> None:
    text = "\r".join(["H|\\^&|" + header_tail, *lines]) + ("\r" if trailing else "")
    data = text.encode("latin-1")  # arbitrary bytes, also invalid ones for utf-8/cp1252
    msg = decode_message(data, encoding=encoding)
    assert encode_message(msg) == data
    assert len(msg.records) == 1 + len(lines)


def _touch_everything(msg: AstmMessage) -> list[str]:
    """Read every typed view (which must not raise) and return the record types seen."""
    header = msg.header
    _ = (header.sender_name, header.sender_version, header.timestamp, header.version, msg.terminator)
    for query in msg.queries:
        _ = (query.sample_ids, query.tests, query.test_codes, query.status_code, query.ending_range)
    for patient in msg.patients:
        p = patient.view
        _ = (p.name, p.birth_date, p.sex, p.lab_id, p.practice_id, p.patient_id_3)
        for order in patient.orders:
            o = order.view
            _ = (o.sample_id, o.instrument_specimen_id, o.tests, o.test_codes, o.priority)
            _ = (o.requested_at, o.collected_at, o.report_type, o.action_code)
            for result in order.results:
                r = result.view
                _ = (r.code, r.loinc, r.value, r.value_components, r.units, r.reference_range)
                _ = (r.abnormal_flag, r.abnormal_flags, r.status, r.completed_at, r.started_at)
                _ = (r.instrument, r.operator, r.sequence)
    assert isinstance(encode_message(msg), bytes)
    return [record.type for record in msg.records]


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300), tolerant=st.booleans(),
       encoding=st.sampled_from(["latin-1", "utf-8", "cp1252"]))
def test_random_bytes_raise_only_decode_errors(data: bytes, tolerant: bool, encoding: str) -> None:
    try:
        msg = decode_message(data, encoding=encoding, tolerant=tolerant)
    except AstmDecodeError as exc:
        assert str(exc), "a decode error must say what is wrong"
        return
    types = _touch_everything(msg)
    assert all(len(t) == 1 and t == t.upper() for t in types), types


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_random_bytes_into_read_capture_raise_only_decode_errors(data: bytes) -> None:
    try:
        capture = read_capture(data)
    except AstmDecodeError as exc:
        assert str(exc), "a decode error must say what is wrong"
        return
    assert 0 <= capture.checksum_failures <= capture.frames or capture.frames == 0
    assert sum(len(m) for m in capture.messages) <= len(data) * 4, "output grew beyond the input"
    for message in capture.messages:
        try:
            _touch_everything(decode_message(message))
        except AstmDecodeError:
            pass


SEED_CAPTURES = [
    b"\x05\x021H|\\^&|||X\r\x0358\r\n\x022P|1|||^A\r\x0300\r\n\x023R|1|^^^GLU|5|mg\r\x03AA\r\n\x04",
    b"H|\\^&\rP|1\rO|1|S1||^^^A\\^^^B\rR|1|^^^A|1\rC|1|I|x&F&y\rM|1|Z\rL|1|N\r",
    b"[ENQ]\n - [ACK]\n[STX]1H|\\^&[CR]Q|1|^S1||ALL[CR]L|1[CR][ETX]00[CR][LF]\n[EOT]\n",
    b"\\x021H|\\^&\\x0D\\x0300\\x0D\\x0A\n\\x022L|1\\x0D\\x0300\\x0D\\x0A\n",
]


def _mutation_seeds() -> list[bytes]:
    seeds = list(SEED_CAPTURES)
    for folder in ("astm", "astm-framed"):
        path = CORPUS / folder
        if path.is_dir():
            seeds.extend(p.read_bytes()[:3000] for p in sorted(path.iterdir()) if p.is_file())
    return seeds


MUTATION_SEEDS = _mutation_seeds()
mutations = st.lists(
    st.tuples(
        st.sampled_from(["flip", "insert", "delete"]),
        st.integers(0, 10**6),
        st.sampled_from([0x02, 0x03, 0x04, 0x05, 0x0D, 0x0A, 0x17, 0x7C, 0x5E, 0x5C, 0x26, 0x48, 0xFF]),
    ),
    min_size=1, max_size=8,
)


@settings(max_examples=250, deadline=None)
@given(seed=st.sampled_from(MUTATION_SEEDS), muts=mutations, encoding=st.sampled_from(["latin-1", "utf-8"]))
def test_mutated_captures_raise_only_decode_errors(
    seed: bytes, muts: list[tuple[str, int, int]], encoding: str
) -> None:
    data = bytearray(seed)
    for op, where, byte in muts:
        pos = where % (len(data) + 1)
        if op == "insert" or not data:
            data[pos:pos] = bytes([byte])
        elif op == "flip":
            data[min(pos, len(data) - 1)] = byte
        else:
            del data[min(pos, len(data) - 1)]
    try:
        capture = read_capture(bytes(data))
    except AstmDecodeError:
        capture = None
    if capture is not None:
        for message in capture.messages:
            try:
                _touch_everything(decode_message(message, encoding=encoding))
            except AstmDecodeError:
                pass
    try:
        types = _touch_everything(decode_message(bytes(data), encoding=encoding))
    except AstmDecodeError as exc:
        assert str(exc), "a decode error must say what is wrong"
    else:
        assert all(len(t) == 1 and t == t.upper() for t in types), types


@pytest.mark.parametrize("seed", SEED_CAPTURES)
def test_seed_captures_are_readable(seed: bytes) -> None:
    capture = read_capture(seed)
    assert capture.messages
    assert decode_message(capture.messages[0]).records[0].type in "HQ"
