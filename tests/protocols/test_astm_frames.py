"""E1381 frame building and parsing: checksums, splitting, numbering, tolerances, corpus."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from benchlink.protocols.astm.constants import CR, CRLF, ETB, ETX, LF, STX
from benchlink.protocols.astm.frames import Frame, FrameError, build_frames, checksum, parse_frame
from benchlink.protocols.astm.tolerances import LinkTolerances

CORPUS = Path(os.environ.get("BENCHLINK_CORPUS", Path(__file__).resolve().parents[3] / "shared" / "corpus"))
FRAMED = CORPUS / "astm-framed"


def frame(body: bytes, *, line_end: bytes = CRLF, cs: bytes | None = None) -> bytes:
    return STX + body + (checksum(body) if cs is None else cs) + line_end


# ------------------------------------------------------------------ checksum


def test_checksum_of_terminator_frame_matches_hand_sum() -> None:
    # 0x31+'L|1|N'+CR+ETX = 0x204 -> low byte 0x04
    assert checksum(b"1L|1|N\r\x03") == b"04"


def test_checksum_is_two_upper_case_hex_digits_mod_256() -> None:
    assert checksum(b"\xff\xff") == b"FE"
    assert checksum(b"") == b"00"
    assert checksum(b"\x0a") == b"0A"


# ------------------------------------------------------------------ build_frames


def test_short_text_is_one_etx_frame() -> None:
    frames = build_frames(b"H|\\^&\rL|1|N\r")
    assert frames == [frame(b"1H|\\^&\rL|1|N\r\x03")]


def test_long_text_splits_into_240_byte_etb_frames_and_a_final_etx() -> None:
    text = bytes(range(0x20, 0x7F)) * 6  # 570 bytes
    frames = build_frames(text)
    assert [len(parse_frame(f).text) for f in frames] == [240, 240, 90]
    assert [parse_frame(f).final for f in frames] == [False, False, True]
    assert [f[-5] for f in frames] == [ETB[0], ETB[0], ETX[0]]
    assert b"".join(parse_frame(f).text for f in frames) == text


def test_exact_multiple_of_max_text_has_no_empty_last_frame() -> None:
    frames = build_frames(b"A" * 480)
    assert len(frames) == 2
    assert parse_frame(frames[1]).final


def test_frame_numbers_wrap_7_to_0() -> None:
    frames = build_frames(b"x" * 10 * 20, max_text=20, first_number=6)
    assert [parse_frame(f).number for f in frames] == [6, 7, 0, 1, 2, 3, 4, 5, 6, 7]


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        (b"", {}, "empty"),
        (b"H|\x02|", {}, "0x02"),
        (b"H|\n", {}, "0x0A"),
        (b"H|", {"first_number": 8}, "first_number"),
        (b"H|", {"max_text": 0}, "max_text"),
    ],
)
def test_build_frames_refuses_unframeable_input(text: bytes, kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(FrameError, match=message):
        build_frames(text, **kwargs)


# ------------------------------------------------------------------ parse_frame (strict)


def test_parse_round_trips_a_built_frame() -> None:
    raw = build_frames(b"R|1|^^^GLU|5.5|mmol/L\r", first_number=3)[0]
    parsed = parse_frame(raw)
    assert parsed == Frame(number=3, text=b"R|1|^^^GLU|5.5|mmol/L\r", final=True, checksum_ok=True, raw=raw)


def test_wrong_checksum_is_reported_not_raised() -> None:
    raw = frame(b"1P|1\r\x03", cs=b"00")
    assert parse_frame(raw).checksum_ok is False


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"1P|1\r\x0300\r\n", "start with STX"),
        (STX + b"1P|1\r", "no ETX"),
        (frame(b"P|1\r\x03"), "frame number"),
        (STX + b"1P|1\r\x03\r\n", "no checksum"),
        (frame(b"1P|1\r\x03", line_end=CR), "CR LF"),
        (frame(b"1P|1\r\x03", line_end=LF), "CR LF"),
        (frame(b"1P|1\r\x03", line_end=b""), "CR LF"),
        (frame(b"1" + b"A" * 241 + ETX), "241 bytes"),
        (STX + b"1P|" + STX + b"1P|1\r\x0300\r\n", "contains STX"),
    ],
)
def test_strict_parser_rejects_malformed_frames(raw: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        parse_frame(raw)


def test_frame_error_message_never_echoes_message_text() -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame(STX + b"1P|1\r\x0300|DOE^JANE|19700101\r\n")
    assert "DOE" not in str(caught.value) and "1970" not in str(caught.value)


def test_frame_error_is_a_value_error() -> None:
    assert issubclass(FrameError, ValueError)


# ------------------------------------------------------------------ tolerances


def test_lowercase_checksum_needs_its_tolerance() -> None:
    raw = frame(b"1H|\\^&\r\x03", cs=checksum(b"1H|\\^&\r\x03").lower())
    assert raw[-4:-2].islower()
    assert parse_frame(raw).checksum_ok is False
    assert parse_frame(raw, LinkTolerances(lowercase_checksum=True)).checksum_ok is True


def test_missing_checksum_tolerance_accepts_absent_but_still_verifies_present() -> None:
    tol = LinkTolerances(missing_checksum=True)
    assert parse_frame(STX + b"1L|1|N\r\x03\r\n", tol).checksum_ok
    assert parse_frame(STX + b"1L|1|N\r\x03", tol).checksum_ok
    assert parse_frame(frame(b"1L|1|N\r\x03", cs=b"99"), tol).checksum_ok is False


def test_missing_frame_number_tolerance_gives_number_none() -> None:
    tol = LinkTolerances(missing_frame_number=True, missing_checksum=True)
    parsed = parse_frame(STX + b"H|\\^&\rL|1|N\r\x03", tol)
    assert parsed.number is None
    assert parsed.text == b"H|\\^&\rL|1|N\r"
    # a digit 0-7 after STX is still read as the frame number
    assert parse_frame(frame(b"4P|1\r\x03"), tol).number == 4


@pytest.mark.parametrize("line_end", [CR, LF, CRLF])
def test_cr_only_tolerance_accepts_any_single_line_end(line_end: bytes) -> None:
    parsed = parse_frame(frame(b"1L|1\r\x03", line_end=line_end), LinkTolerances(cr_only_line_ends=True))
    assert parsed.checksum_ok and parsed.text == b"L|1\r"


def test_oversize_tolerance_accepts_long_text() -> None:
    raw = frame(b"1" + b"R" * 2500 + ETX)
    assert len(parse_frame(raw, LinkTolerances(oversize_frames=True)).text) == 2500


def test_max_text_parameter_lowers_the_limit() -> None:
    with pytest.raises(FrameError, match="over the 100-byte"):
        parse_frame(frame(b"1" + b"R" * 101 + ETX), max_text=100)


# ------------------------------------------------------------------ corpus

_FRAME_RE = re.compile(rb"\x02[^\x02\x03\x17]*[\x03\x17](?:[0-9A-Fa-f]{2})?(?:\r\n|\r|\n)?")

#: file -> tolerances its frames need, number of frames (all checksums verified in the source list)
CORPUS_FRAMES: dict[str, tuple[LinkTolerances, int]] = {
    "abbott-afinion2__hba1c-single-frame.astm": (LinkTolerances(cr_only_line_ends=True), 1),
    "cepheid-genexpert__mtb-rif-84-results.astm": (
        LinkTolerances(cr_only_line_ends=True, oversize_frames=True), 1),
    "erba-xl1000__wire-capture-backtick-repeat-delim.astm": (LinkTolerances(), 1),
    "horiba-pentra-xlr__cbc-diff-alarms.astm": (LinkTolerances(cr_only_line_ends=True), 28),
    "horiba-yumizen-h500__control-histograms-multiframe.astm": (
        LinkTolerances(cr_only_line_ends=True, oversize_frames=True), 31),
    "horiba-yumizen-h500__wire-capture-enq-etb-histograms.astm": (LinkTolerances(), 125),
    "lis-to-vitros3600__host-order-download-single-frame.astm": (LinkTolerances(), 1),
    "ortho-vitros3600__wire-capture-host-query.astm": (LinkTolerances(), 3),
    "ortho-vitros3600__wire-capture-results-M-records.astm": (LinkTolerances(), 16),
    "ortho-vitros3600__wire-capture-results-censored-values.astm": (LinkTolerances(), 9),
    "roche-cobas-c111__control-etb-per-record.astm": (LinkTolerances(cr_only_line_ends=True), 7),
    "roche-cobas-c311__multi-test-order-comments.astm": (LinkTolerances(oversize_frames=True), 1),
    "siemens-dca-vantage__alb-crt-ratio.astm": (
        LinkTolerances(cr_only_line_ends=True, oversize_frames=True), 1),
    "sysmex-xn550__cbc-patient.astm": (LinkTolerances(cr_only_line_ends=True, oversize_frames=True), 1),
    "sysmex-xp100__cbc-padded-values.astm": (LinkTolerances(cr_only_line_ends=True, oversize_frames=True), 1),
}


@pytest.mark.parametrize("name", sorted(CORPUS_FRAMES))
def test_corpus_frames_parse_with_their_tolerances(name: str) -> None:
    path = FRAMED / name
    if not path.is_file():
        pytest.skip(f"corpus file {path} not present (set BENCHLINK_CORPUS to the shared corpus folder)")
    tolerances, count = CORPUS_FRAMES[name]
    raws = _FRAME_RE.findall(path.read_bytes())
    frames = [parse_frame(raw, tolerances) for raw in raws]
    assert len(frames) == count
    assert all(f.checksum_ok for f in frames)
    assert frames[-1].final


def test_corpus_frames_fail_strict_parsing_where_a_tolerance_is_needed() -> None:
    path = FRAMED / "abbott-afinion2__hba1c-single-frame.astm"
    if not path.is_file():
        pytest.skip(f"corpus file {path} not present (set BENCHLINK_CORPUS to the shared corpus folder)")
    (raw,) = _FRAME_RE.findall(path.read_bytes())
    with pytest.raises(FrameError, match="CR LF"):
        parse_frame(raw)
