"""E1394 / LIS2-A2 record layer against fixtures written from the standard (no corpus)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from benchlink.protocols.astm.errors import AstmDecodeError, AstmEncodeError
from benchlink.protocols.astm.escaping import escape, unescape
from benchlink.protocols.astm.records import (
    MAX_LEADING_JUNK,
    AstmMessage,
    Delimiters,
    Record,
    decode_message,
    encode_message,
    encode_records,
    parse_timestamp,
    split_messages,
)

RESULT_MESSAGE = (
    b"H|\\^&|||Bench^2.1^SN-42|||||LIS||P|LIS2-A2|20240315101530\r"
    b"P|1|PRAC-9|LAB-77|ID3|Smith^Anna^M||19751224|F\r"
    b"C|1|L|Fasting patient|G\r"
    b"O|1|S-1001|INST-55^12^3|^^^GLU\\^^^NA|R|20240315100000|20240315093000||||N||||Serum"
    b"||||||||||F\r"
    b"R|1|^^^GLU|5.4|mmol/L|3.9 to 6.1|N||F||tech||20240315101500|Bench\r"
    b"C|1|I|Lipemic &F& check &S& repeat &R& amp &E& done|G\r"
    b"M|1|CURVE|0.1\\0.2\\0.3\r"
    b"R|2|^^^NA|141|mmol/L|135 to 145|H||F||tech||20240315101510|Bench\r"
    b"P|2||LAB-78\r"
    b"O|1|S-1002||^^^K|S\r"
    b"R|1|^^^K|  4.1  |mmol/L||N||P\r"
    b"L|1|N\r"
)

QUERY_MESSAGE = (
    b"H|\\^&|||Bench|||||LIS||P|LIS2-A2|20240315101530\r"
    b"Q|1|^S-2001\\^S-2002||ALL||||||||O\r"
    b"Q|2|PAT-1^S-2003||^^^GLU\\^^^NA||||||||O\r"
    b"L|1|N\r"
)


def test_delimiters_from_standard_header() -> None:
    assert Delimiters.from_header("H|\\^&|||x") == Delimiters()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("H|@^\\|URM", Delimiters("|", "@", "^", "\\")),
        ("H|`^&||||", Delimiters("|", "`", "^", "&")),
        ("H!~#$!x", Delimiters("!", "~", "#", "$")),
        ("H|\\\\^&|||H550", Delimiters()),  # backslash doubled by the writing software
        ("H|\\^&", Delimiters()),  # nothing after the definition
        ("H|\\^", Delimiters()),  # escape missing: default fills in
    ],
)
def test_delimiters_variants(line: str, expected: Delimiters) -> None:
    assert Delimiters.from_header(line) == expected


@pytest.mark.parametrize("line", ["P|1|x", "", "H", "H|abc|", "H|\\\\\\|", "H|\\^&xyz|"])
def test_delimiters_reject_bad_headers(line: str) -> None:
    with pytest.raises(AstmDecodeError):
        Delimiters.from_header(line)


def test_escape_and_unescape_every_sequence() -> None:
    d = Delimiters()
    assert unescape("a&F&b&S&c&R&d&E&e", d) == "a|b^c\\d&e"
    assert escape("a|b^c\\d&e", d) == "a&F&b&S&c&R&d&E&e"
    assert unescape("&H&bold&N&", d) == "bold"
    assert unescape("line&X0D0A&next", d) == "line\r\nnext"
    assert escape("line\rnext", d) == "line&X0D&next"


def test_unescape_keeps_unknown_and_stray_escape_characters() -> None:
    d = Delimiters()
    assert unescape("Tom & Jerry", d) == "Tom & Jerry"
    assert unescape("a&Z12&b", d) == "a&Z12&b"
    assert unescape("a&b&F&c", d) == "a&b|c"
    assert unescape("end&", d) == "end&"


def test_escape_uses_declared_escape_character() -> None:
    d = Delimiters("|", "@", "^", "\\")
    assert escape("x\\y@z", d) == "x\\E\\y\\R\\z"
    assert unescape("x\\E\\y\\R\\z", d) == "x\\y@z"


def test_record_field_numbering_is_one_based() -> None:
    msg = decode_message(RESULT_MESSAGE)
    result = msg.by_type("R")[0]
    assert result.field(1) == "R"
    assert result.field(2) == "1"
    assert result.field(3) == "^^^GLU"
    assert result.field(99) == ""
    with pytest.raises(ValueError):
        result.field(0)


def test_header_view() -> None:
    header = decode_message(RESULT_MESSAGE).header
    assert header.sender_name == "Bench"
    assert header.sender_version == "2.1"
    assert header.sender_components == ["Bench", "2.1", "SN-42"]
    assert header.receiver_id == "LIS"
    assert header.processing_id == "P"
    assert header.version == "LIS2-A2"
    assert header.timestamp == datetime(2024, 3, 15, 10, 15, 30)
    assert header.record.text(2, Delimiters()) == "\\^&"


def test_tree_patients_orders_results_comments() -> None:
    msg = decode_message(RESULT_MESSAGE)
    assert len(msg.patients) == 2
    first, second = msg.patients
    assert [c.field(4) for c in first.comments] == ["Fasting patient"]
    assert len(first.orders) == 1
    order = first.orders[0]
    assert len(order.results) == 2
    glu, na = order.results
    assert glu.comments[0].text(4, msg.delimiters) == "Lipemic | check ^ repeat \\ amp & done"
    assert [m.field(3) for m in glu.manufacturer] == ["CURVE"]
    assert na.comments == [] and na.manufacturer == []
    assert second.view.lab_id == "LAB-78"
    assert second.orders[0].results[0].view.value == "4.1"
    assert msg.terminator is not None and msg.terminator.field(3) == "N"
    assert [r.code for r in msg.results] == ["GLU", "NA", "K"]


def test_patient_order_result_views() -> None:
    msg = decode_message(RESULT_MESSAGE)
    patient = msg.patients[0].view
    assert (patient.practice_id, patient.lab_id, patient.patient_id_3) == ("PRAC-9", "LAB-77", "ID3")
    assert patient.name == ["Smith", "Anna", "M"]
    assert (patient.last_name, patient.first_name) == ("Smith", "Anna")
    assert patient.birth_date == date(1975, 12, 24)
    assert patient.sex == "F"
    order = msg.patients[0].orders[0].view
    assert order.sample_id == "S-1001"
    assert order.instrument_specimen_id == "INST-55"
    assert order.test_codes == ["GLU", "NA"]
    assert order.priority == "R"
    assert order.requested_at == datetime(2024, 3, 15, 10, 0, 0)
    assert order.collected_at == datetime(2024, 3, 15, 9, 30, 0)
    assert order.action_code == "N"
    assert order.specimen_descriptor == "Serum"
    assert order.report_type == "F"
    result = msg.patients[0].orders[0].results[1].view
    assert result.sequence == 2
    assert result.code == "NA"
    assert result.value == "141"
    assert result.units == "mmol/L"
    assert result.reference_range == "135 to 145"
    assert result.abnormal_flag == "H"
    assert result.status == "F"
    assert result.operator == "tech"
    assert result.completed_at == datetime(2024, 3, 15, 10, 15, 10)
    assert result.instrument == "Bench"


@pytest.mark.parametrize(
    ("test_id", "code", "qualifiers", "loinc"),
    [
        ("^^^GLU", "GLU", [], ""),
        ("^^^^WBC^1", "WBC", ["1"], ""),
        ("^^^WBC^804-5^1", "WBC", ["804-5", "1"], "804-5"),
        ("ABO", "ABO", [], ""),
        ("P^Phosphorus^^F", "P", ["Phosphorus", "", "F"], ""),  # code in component 1
        ("^Glo^^F", "Glo", ["", "F"], ""),  # calculated test: name only
        ("^^^580^Anti-HBcII^UNDILUTED^P", "580", ["Anti-HBcII", "UNDILUTED", "P"], ""),
        ("", "", [], ""),
    ],
)
def test_result_code_extraction(test_id: str, code: str, qualifiers: list[str], loinc: str) -> None:
    msg = decode_message(f"H|\\^&\rR|1|{test_id}|1\rL|1\r".encode())
    view = msg.results[0]
    assert (view.code, view.code_qualifiers, view.loinc) == (code, qualifiers, loinc)


@pytest.mark.parametrize(
    ("raw", "value"),
    [("  5.5", "5.5"), ("2.83^^^^", "2.83"), ("^0.0", "0.0"), ("3+^3+^45", "3+^3+^45"),
     ("NOT DETECTED^", "NOT DETECTED"), ("", ""), ("<15", "<15"), ("a&S&b", "a^b")],
)
def test_result_value_padding_and_components(raw: str, value: str) -> None:
    msg = decode_message(f"H|\\^&\rR|1|^^^X|{raw}\rL|1\r".encode())
    assert msg.results[0].value == value


def test_sysmex_style_padded_sample_id() -> None:
    msg = decode_message(b"H|\\^&\rP|1\rO|1||^^                    27^M|^^^^WBC\rL|1\r")
    order = msg.patients[0].orders[0].view
    assert order.sample_id == "27"
    assert order.sample_id_components == []
    assert order.instrument_specimen_id == "27"
    both = decode_message(b"H|\\^&\rO|1|LIS-1|^^ 27^M\rL|1\r").patients[0].orders[0].view
    assert (both.sample_id, both.instrument_specimen_id) == ("LIS-1", "27")


def test_query_view() -> None:
    msg = decode_message(QUERY_MESSAGE)
    assert len(msg.queries) == 2
    q1, q2 = msg.queries
    assert q1.sample_ids == ["S-2001", "S-2002"]
    assert q1.tests == [["ALL"]]
    assert q1.status_code == "O"
    assert q2.starting_range == ["PAT-1", "S-2003"]
    assert q2.sample_id == "S-2003"
    assert q2.test_codes == ["GLU", "NA"]
    assert msg.patients == []


def test_results_without_patient_or_order_get_implicit_blocks() -> None:
    msg = decode_message(b"H|\\^&\rR|1|^^^GLU|5\rL|1\r")
    assert msg.patients[0].implicit and msg.patients[0].orders[0].implicit
    assert msg.patients[0].orders[0].results[0].view.code == "GLU"
    assert msg.patients[0].view.lab_id == ""


def test_canonical_message_round_trips_byte_identical() -> None:
    assert encode_message(decode_message(RESULT_MESSAGE)) == RESULT_MESSAGE
    no_trailing = RESULT_MESSAGE[:-1]
    assert encode_message(decode_message(no_trailing)) == no_trailing


def test_lf_and_crlf_line_ends_decode_to_the_same_records() -> None:
    cr = decode_message(RESULT_MESSAGE)
    for sep in (b"\n", b"\r\n"):
        other = decode_message(RESULT_MESSAGE.replace(b"\r", sep))
        assert other.records == cr.records
        assert encode_message(other) == RESULT_MESSAGE


def test_undecodable_bytes_round_trip_and_views_get_replacement_character() -> None:
    data = b"H|\\^&\rP|1||||\xff\xfe^Bob\rL|1\r"
    msg = decode_message(data, encoding="utf-8")
    assert encode_message(msg) == data
    assert msg.patients[0].view.last_name == "\ufffd\ufffd"
    latin = decode_message(data)
    assert latin.patients[0].view.last_name == "\xff\xfe"


def test_leading_junk_is_tolerated_up_to_the_bound() -> None:
    msg = decode_message(b"\r\n  \x00junk\r" + RESULT_MESSAGE)
    assert msg.has_header and msg.header.sender_name == "Bench"
    assert msg.warnings
    with pytest.raises(AstmDecodeError):
        decode_message(b"x" * (MAX_LEADING_JUNK + 10) + b"\r" + RESULT_MESSAGE)
    with pytest.raises(AstmDecodeError):
        decode_message(b"junk\r" + RESULT_MESSAGE, tolerant=False)


def test_missing_header_tolerant_and_strict() -> None:
    data = b"O|1|S1||Type &F& Screen\rO|2|S1||Type &R& Screen\r"
    msg = decode_message(data)
    assert not msg.has_header
    assert msg.header.sender_name == ""
    assert msg.patients[0].implicit
    assert [o.record.text(5, msg.delimiters) for o in msg.patients[0].orders] == [
        "Type | Screen", "Type \\ Screen"]
    with pytest.raises(AstmDecodeError):
        decode_message(data, tolerant=False)


@pytest.mark.parametrize(
    "data",
    [b"", b"   \r\n", b"hello world", b"\x00\x01\x02", b"H|aa^&|\rL|1\r"],
)
def test_garbage_raises_decode_error(data: bytes) -> None:
    with pytest.raises(AstmDecodeError):
        decode_message(data, tolerant=False)


def test_strict_mode_rejects_records_after_terminator_and_second_header() -> None:
    with pytest.raises(AstmDecodeError, match="split_messages"):
        decode_message(b"H|\\^&\rL|1\rP|1\r", tolerant=False)
    with pytest.raises(AstmDecodeError, match="second H"):
        decode_message(b"H|\\^&\rP|1\rH|\\^&\rL|1\r", tolerant=False)
    with pytest.raises(AstmDecodeError, match="unknown type"):
        decode_message(b"H|\\^&\r9|1\rL|1\r", tolerant=False)


def test_decode_rejects_str() -> None:
    with pytest.raises(TypeError):
        decode_message("H|\\^&\r")  # type: ignore[arg-type]


def test_split_messages() -> None:
    stream = RESULT_MESSAGE + QUERY_MESSAGE + RESULT_MESSAGE.replace(b"\r", b"\n")
    parts = split_messages(stream)
    assert len(parts) == 3
    assert b"".join(parts) == stream
    assert decode_message(parts[1]).queries[0].sample_ids == ["S-2001", "S-2002"]
    assert split_messages(b"junk\r" + QUERY_MESSAGE) == [b"junk\r", QUERY_MESSAGE]
    assert split_messages(b"  \r\n" + QUERY_MESSAGE) == [QUERY_MESSAGE]
    assert split_messages(b"") == []


def test_encode_records_builds_escaped_components_and_repeats() -> None:
    out = encode_records(
        [
            ["H", None, None, None, ["Benchlink", "1.0"], None, None, None, None, "ANALYZER", None, "P",
             "LIS2-A2", "20240315120000"],
            ["P", "1", "", "PID|7"],
            ["O", "1", "S-9", None, [["", "", "", "GLU"], ["", "", "", "NA^K"]], "S"],
            ["L", "1", "N"],
        ]
    )
    assert out == (
        b"H|\\^&|||Benchlink^1.0|||||ANALYZER||P|LIS2-A2|20240315120000\r"
        b"P|1||PID&F&7\r"
        b"O|1|S-9||^^^GLU\\^^^NA&S&K|S\r"
        b"L|1|N\r"
    )
    msg = decode_message(out)
    assert msg.patients[0].view.lab_id == "PID|7"
    assert msg.patients[0].orders[0].view.test_codes == ["GLU", "NA^K"]


def test_encode_records_with_other_delimiters() -> None:
    delims = Delimiters("|", "@", "^", "\\")
    out = encode_records([["H"], ["R", "1", ["", "", "", "A@B"], "x\\y"], ["L", "1"]], delims)
    assert out == b"H|@^\\\rR|1|^^^A\\R\\B|x\\E\\y\rL|1\r"
    msg = decode_message(out)
    assert msg.delimiters == delims
    assert msg.results[0].code == "A@B"
    assert msg.results[0].value == "x\\y"


@pytest.mark.parametrize(
    "records",
    [
        [["H", "xyz"]],
        [["RR", "1"]],
        [[]],
        [["R", "1", b"bytes"]],
        [["R", "1", 5]],
        [["R", "1", "\u20ac"]],  # not representable in latin-1
    ],
)
def test_encode_records_rejects_bad_shapes(records: list[list[object]]) -> None:
    with pytest.raises(AstmEncodeError):
        encode_records(records)  # type: ignore[arg-type]


def test_encode_records_utf8() -> None:
    out = encode_records([["H"], ["P", "1", "", "", "", ["\u0160\u0106\u017d", "Bob"]]], encoding="utf-8")
    msg = decode_message(out, encoding="utf-8")
    assert msg.patients[0].view.last_name == "\u0160\u0106\u017d"
    assert encode_message(msg) == out


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("20240315101530", datetime(2024, 3, 15, 10, 15, 30)),
        ("202403151015", datetime(2024, 3, 15, 10, 15)),
        ("20240315", datetime(2024, 3, 15)),
        ("20240315101530+0100", datetime(2024, 3, 15, 10, 15, 30)),
        ("20241315", None),
        ("2024", None),
        ("", None),
        ("abcdefgh", None),
    ],
)
def test_parse_timestamp(raw: str, expected: datetime | None) -> None:
    assert parse_timestamp(raw) == expected


def test_record_accessors_split_lazily() -> None:
    rec = Record("R", ("R", "1", "a^b\\c^d", "x&F&y"))
    d = Delimiters()
    assert rec.components(3, d) == ["a", "b"]
    assert rec.repeats(3, d) == ["a^b", "c^d"]
    assert rec.repeat_components(3, d) == [["a", "b"], ["c", "d"]]
    assert rec.text(4, d) == "x|y"
    assert rec.components(10, d) == [] and rec.repeats(10, d) == []
    assert rec.raw_line(d) == "R|1|a^b\\c^d|x&F&y"


def test_message_is_frozen() -> None:
    msg = decode_message(RESULT_MESSAGE)
    assert isinstance(msg, AstmMessage)
    with pytest.raises(AttributeError):
        msg.records = ()  # type: ignore[misc]
