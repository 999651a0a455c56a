from __future__ import annotations

from benchlink.protocols.hl7.capture import detokenize, read_hl7_capture
from benchlink.protocols.hl7.mllp import frame

A = b"MSH|^~\\&|A|B|||2024||ORU^R01|1|P|2.5.1\rPID|1\r"
B = b"MSH|^~\\&|A|B|||2024||ORU^R01|2|P|2.5.1\rOBX|1|NM|X||1\r"


def test_plain_file_with_lf_and_two_messages() -> None:
    assert read_hl7_capture((A + B).replace(b"\r", b"\n")) == [A, B]


def test_plain_file_with_crlf_blank_lines_and_batch_wrappers() -> None:
    body = (A + b"\r\n" + B).replace(b"\r", b"\r\n")
    data = b"FHS|^~\\&|X\r\nBHS|^~\\&|X\r\n" + body + b"BTS|2\r\nFTS|1\r\n"
    assert read_hl7_capture(data) == [A, B]


def test_mllp_framed_stream_ignores_noise() -> None:
    assert read_hl7_capture(b"noise" + frame(A) + b"\n" + frame(B)) == [A, B]


def test_tokenized_log() -> None:
    log = b"[VT]" + A.replace(b"\r", b"[CR]") + b"[FS][CR]\nMSH|^~\\&|ACK\n\x1c\n<VT>" + B + b"<FS><CR>"
    assert read_hl7_capture(log) == [A, B]
    assert detokenize(b"[VT]x[CR][LF][FS]") == b"\x0bx\r\n\x1c"
