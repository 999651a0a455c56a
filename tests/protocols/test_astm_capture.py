"""Capture reader against captures built here from the LIS01-A2 framing rules (no corpus)."""

from __future__ import annotations

import pytest

from benchlink.protocols.astm.capture import MAX_CAPTURE_BYTES, read_capture
from benchlink.protocols.astm.errors import AstmDecodeError, NotAstmError
from benchlink.protocols.astm.records import decode_message

STX, ETX, ETB, ENQ, ACK, EOT = b"\x02", b"\x03", b"\x17", b"\x05", b"\x06", b"\x04"

MESSAGE = (
    b"H|\\^&|||Bench^1|||||LIS||P|LIS2-A2|20240101120000\r"
    b"P|1||PID-1\r"
    b"O|1|S-1||^^^GLU\\^^^NA|R\r"
    b"R|1|^^^GLU|5.4|mmol/L||N||F\r"
    b"R|2|^^^NA|141|mmol/L||N||F\r"
    b"L|1|N\r"
)


def frame(fn: int, text: bytes, last: bool = True, tail: bytes = b"\r\n", bad_cs: bool = False) -> bytes:
    end = ETX if last else ETB
    body = str(fn % 8).encode() + text + end
    cs = (sum(body) + (1 if bad_cs else 0)) & 0xFF
    return STX + body + f"{cs:02X}".encode() + tail


def frames_per_record(message: bytes, tail: bytes = b"\r\n") -> bytes:
    records = [r + b"\r" for r in message.split(b"\r") if r]
    return b"".join(frame(i + 1, r, tail=tail) for i, r in enumerate(records))


def frames_split(message: bytes, size: int) -> bytes:
    chunks = [message[i:i + size] for i in range(0, len(message), size)]
    return b"".join(frame(i + 1, c, last=i == len(chunks) - 1) for i, c in enumerate(chunks))


def test_one_frame_per_record_with_link_noise() -> None:
    data = ENQ + ACK + frames_per_record(MESSAGE).replace(b"\r\n", b"\r\n" + ACK) + EOT
    cap = read_capture(data)
    assert cap.kind == "framed"
    assert cap.messages == [MESSAGE]
    assert cap.frames == 6 and cap.checksum_failures == 0
    assert cap.notes == []


def test_intermediate_frames_are_joined_and_frame_numbers_wrap() -> None:
    big = MESSAGE.replace(b"P|1||PID-1", b"P|1||" + b"X" * 600)
    data = ENQ + frames_split(big, 40) + EOT
    assert data.count(STX) > 8  # the frame number wrapped 7 -> 0 at least once
    cap = read_capture(data)
    assert cap.messages == [big]
    assert cap.checksum_failures == 0
    assert cap.notes == []


def test_frames_ending_in_cr_only_and_one_frame_for_the_whole_message() -> None:
    cap = read_capture(frame(1, MESSAGE, tail=b"\r"))
    assert cap.messages == [MESSAGE] and cap.frames == 1


def test_etx_frame_without_trailing_cr_still_ends_the_record() -> None:
    data = frame(1, b"H|\\^&") + frame(2, b"P|1") + frame(3, b"L|1|N")
    assert read_capture(data).messages == [b"H|\\^&\rP|1\rL|1|N\r"]


def test_checksum_failures_are_counted_or_raised() -> None:
    data = frame(1, b"H|\\^&\r") + frame(2, b"L|1|N\r", bad_cs=True)
    cap = read_capture(data)
    assert cap.checksum_failures == 1
    assert any("checksum" in n for n in cap.notes)
    with pytest.raises(AstmDecodeError, match="checksum"):
        read_capture(data, strict_checksums=True)


def test_frames_without_frame_number_or_checksum() -> None:
    data = ENQ + STX + MESSAGE + ETX + EOT
    cap = read_capture(data)
    assert cap.messages == [MESSAGE]
    assert any("no frame number" in n for n in cap.notes)
    assert any("no checksum" in n for n in cap.notes)
    with pytest.raises(AstmDecodeError):
        read_capture(data, strict_checksums=True)


def test_several_sessions_give_several_messages() -> None:
    second = MESSAGE.replace(b"S-1", b"S-2")
    data = ENQ + frame(1, MESSAGE) + EOT + ENQ + frame(1, second) + EOT
    assert read_capture(data).messages == [MESSAGE, second]


def test_frame_cut_short_is_kept_and_noted() -> None:
    data = frame(1, b"H|\\^&\r") + STX + b"2P|1\r" + frame(3, b"L|1|N\r")
    cap = read_capture(data)
    assert cap.messages == [b"H|\\^&\rP|1\rL|1|N\r"]
    assert any("no ETX/ETB" in n for n in cap.notes)


def test_tokenized_serial_log_with_read_boundaries_and_ack_lines() -> None:
    wire = ENQ + frames_per_record(MESSAGE) + EOT
    text = (wire.replace(STX, b"[STX]").replace(ETX, b"[ETX]").replace(b"\r", b"[CR]")
            .replace(b"\n", b"[LF]").replace(ENQ, b"[ENQ]").replace(EOT, b"[EOT]"))
    # The logger breaks lines where its reads ended and shows the host's ACKs on own lines.
    pieces = [text[i:i + 17] for i in range(0, len(text), 17)]
    log = b"\n - [ACK]\n".join(pieces) + b"\n"
    cap = read_capture(log)
    assert cap.kind == "tokenized"
    assert cap.messages == [MESSAGE]
    assert cap.checksum_failures == 0


def test_tokenized_log_with_angle_brackets() -> None:
    wire = frame(1, MESSAGE)
    log = wire.replace(STX, b"<STX>").replace(ETX, b"<ETX>").replace(b"\r", b"<CR>").replace(b"\n", b"<LF>")
    cap = read_capture(log)
    assert cap.kind == "tokenized" and cap.messages == [MESSAGE] and cap.checksum_failures == 0


def test_python_escaped_transcript() -> None:
    wire = frames_per_record(MESSAGE)
    lines = [
        "".join(f"\\x{b:02X}" if b < 0x20 else chr(b) for b in b"\x02" + part)
        for part in wire.split(b"\x02")[1:]
    ]
    transcript = ("\\x05\n" + "\n".join(lines) + "\n\\x04\n").encode("latin-1")
    cap = read_capture(transcript)
    assert cap.kind == "escaped-hex"
    assert cap.messages == [MESSAGE] and cap.frames == 6 and cap.checksum_failures == 0


def test_unframed_stream_with_several_messages() -> None:
    second = MESSAGE.replace(b"S-1", b"S-2").replace(b"\r", b"\n")
    cap = read_capture(b"\n" + MESSAGE + second)
    assert cap.kind == "unframed"
    assert cap.messages == [MESSAGE, second]
    assert [decode_message(m).patients[0].orders[0].view.sample_id for m in cap.messages] == ["S-1", "S-2"]


def test_frame_number_written_before_every_record_is_removed() -> None:
    text = b"H|\\^&\r2P|1|PID\r3O|1|S-1\r4L|1|N\r"
    cap = read_capture(frame(1, text))
    assert cap.messages == [b"H|\\^&\rP|1|PID\rO|1|S-1\rL|1|N\r"]
    assert cap.notes


@pytest.mark.parametrize(
    "data",
    [
        STX + b"\x1emtrsl|\x1epi|\x1esi|\x1d" + b"\n",  # tagged proprietary stream
        STX + b"24/10/29 13:08 ID# 1 Na 131 mmol/L" + ETX + b"\n",  # printout
        b"just some text\nwith lines\n",
        b"   ",
    ],
)
def test_non_astm_input_raises_not_astm(data: bytes) -> None:
    with pytest.raises(NotAstmError) as info:
        read_capture(data)
    message = str(info.value)
    assert "not ASTM" in message or "empty" in message


def test_not_astm_message_does_not_quote_the_input() -> None:
    secret = b"DOE^JANE 19700101"
    with pytest.raises(NotAstmError) as info:
        read_capture(STX + secret + ETX)
    assert "DOE" not in str(info.value) and "1970" not in str(info.value)


def test_oversized_capture_is_refused() -> None:
    with pytest.raises(AstmDecodeError, match="limit"):
        read_capture(b"H" * (MAX_CAPTURE_BYTES + 1))


def test_read_capture_rejects_str() -> None:
    with pytest.raises(TypeError):
        read_capture("H|\\^&")  # type: ignore[arg-type]


def test_encoded_records_framed_by_the_link_layer_read_back() -> None:
    frames = pytest.importorskip("benchlink.protocols.astm.frames")
    from benchlink.protocols.astm.records import encode_records

    text = encode_records([["H"], ["P", "1", "", "A|B\rC" * 40], ["R", "1", ["", "", "", "GLU"], "5"], ["L", "1"]])
    wire = b"\x05" + b"".join(frames.build_frames(text, max_text=64)) + b"\x04"
    cap = read_capture(wire)
    assert cap.checksum_failures == 0 and cap.frames > 3
    assert cap.messages == [text]
    assert decode_message(text).patients[0].view.lab_id == "A|B\rC" * 40


def test_tokenized_read_of_dashes_is_data_not_a_direction_marker() -> None:
    log = b"[STX]1H|\\^&[CR]R|1|^^^BAS|\n-----\n|1[CR]L|1[CR][ETX]\n - [ACK]\n"
    cap = read_capture(log)
    assert decode_message(cap.messages[0]).results[0].value == "-----"
