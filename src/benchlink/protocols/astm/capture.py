"""Read offline ASTM captures into message texts.

The on-line receiver is the E1381 state machine in ``link.py``; this module is for files:
replayed corpora, operator-supplied traces, serial-monitor logs. Those are messier than the
wire, so the extractor here is lenient on purpose and reports what it had to forgive in
``Capture.notes`` instead of failing:

* raw framed bytes (``STX FN text ETB|ETX CS CR LF``) with ENQ/ACK/EOT noise, frame numbers
  that wrap or restart, frames that end in CR only, frames with no frame number and no
  checksum (Snibe Maglumi), frames longer than 240 characters (re-joined by other tools);
* serial-monitor logs that write control bytes as text (``[STX]``, ``<ETX>``, ``{CR}``), in
  which real line breaks are read boundaries of the logger, not data, and lines that show
  the other direction (`` - [ACK]``) are interleaved;
* Python-escaped transcripts (``\\x02 ... \\x0D\\x0A`` as literal text);
* unframed record streams (``H|...`` CR ``P|...``), possibly several messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from benchlink.protocols.astm.constants import (
    ACK,
    CR,
    ENQ,
    EOT,
    ETB,
    ETX,
    ETX_INT,
    LF,
    NAK,
    STX,
)
from benchlink.protocols.astm.errors import AstmDecodeError, NotAstmError
from benchlink.protocols.astm.records import split_messages

__all__ = ["MAX_CAPTURE_BYTES", "Capture", "read_capture"]

#: Captures are read whole; larger files must be split by the caller (bounded memory).
MAX_CAPTURE_BYTES = 64 * 1024 * 1024

_TOKEN = re.compile(rb"[\[<{](STX|ETX|ETB|ENQ|EOT|ACK|NAK|CR|LF)[\]>}]", re.IGNORECASE)
_TOKEN_BYTES = {
    b"STX": STX, b"ETX": ETX, b"ETB": ETB, b"ENQ": ENQ, b"EOT": EOT,
    b"ACK": ACK, b"NAK": NAK, b"CR": CR, b"LF": LF,
}
# A log line that shows only the other direction's ACK/NAK (" - [ACK]", " - - [ACK] - - "), or
# nothing at all. A line of data that happens to be dashes has no token and is kept.
_DIRECTION_LINE = re.compile(rb"^\s*$|^[\s\-]*(?:[\[<{](?:ACK|NAK)[\]>}][\s\-]*)+$", re.IGNORECASE)
_ESCAPED_HEX = re.compile(rb"\\x([0-9A-Fa-f]{2})")
_ESCAPED_CONTROL = re.compile(rb"\\x0[2345]|\\x1[57]", re.IGNORECASE)
_HEXDIGITS = frozenset(b"0123456789ABCDEFabcdef")
_NOISE = bytes.maketrans(b"", b"")
_NOISE_BYTES = ENQ + ACK + NAK + EOT
# A frame number written in front of each record inside one frame (seen from LIS software
# that built frames per record and then joined them): "\r2P|" instead of "\rP|".
_RECORD_FN = re.compile(rb"(?:^|(?<=\r))[0-7](?=[A-Za-z][^0-9A-Za-z\s])")
_RECORD_START = re.compile(rb"(?:^|(?<=[\r\n]))[ \t]*[A-Za-z][|]|(?:^|(?<=[\r\n]))[ \t]*H[^0-9A-Za-z\s]")


@dataclass(frozen=True)
class Capture:
    """What a capture file held: message texts ready for ``decode_message``."""

    kind: str
    messages: list[bytes]
    frames: int = 0
    checksum_failures: int = 0
    notes: list[str] = field(default_factory=list)


def read_capture(data: bytes, *, strict_checksums: bool = False) -> Capture:
    """Extract the ASTM message texts from a capture of any of the supported shapes.

    With ``strict_checksums`` a frame whose checksum is wrong or missing raises
    :class:`AstmDecodeError`; otherwise failures are counted and noted.
    Raises :class:`NotAstmError` when the input holds no ASTM record at all.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"read_capture expects bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_CAPTURE_BYTES:
        raise AstmDecodeError(
            f"capture is {len(data)} bytes, over the {MAX_CAPTURE_BYTES} byte limit; split the file"
        )
    if not data.strip():
        raise NotAstmError("the capture is empty; there is nothing to read")
    notes: list[str] = []
    if STX in data:
        kind = "framed"
        stream, frames, failures = _extract_frames(data, notes, strict_checksums)
    elif _TOKEN.search(data):
        kind = "tokenized"
        raw = _detokenize(data, notes)
        if STX in raw:
            stream, frames, failures = _extract_frames(raw, notes, strict_checksums)
        else:
            stream, frames, failures = raw.translate(_NOISE, _NOISE_BYTES), 0, 0
    elif _ESCAPED_CONTROL.search(data):
        kind = "escaped-hex"
        raw = _ESCAPED_HEX.sub(lambda m: bytes([int(m.group(1), 16)]), data.replace(b"\n", b""))
        stream, frames, failures = _extract_frames(raw, notes, strict_checksums)
    else:
        kind = "unframed"
        stream, frames, failures = data.translate(_NOISE, _NOISE_BYTES), 0, 0

    if _may_have_record_fn(stream) and _RECORD_FN.search(stream):
        fixed = _RECORD_FN.sub(b"", stream)
        if fixed != stream:
            notes.append("frame numbers written in front of records inside a frame were removed")
            stream = fixed
    if not _RECORD_START.search(stream):
        where = f"in {frames} frame(s)" if frames else f"in {len(data)} bytes"
        raise NotAstmError(
            f"not ASTM E1394: no H/P/O/R/Q/L record found {where} ({kind} input); "
            "this device speaks another protocol and needs a vendor adapter, not the ASTM codec"
        )
    messages = [m for m in split_messages(stream) if m.strip()]
    return Capture(kind, messages, frames, failures, notes)


def _may_have_record_fn(stream: bytes) -> bool:
    if stream.count(b"\r") < 2:
        return False
    return stream[:1].isdigit() or any(b"\r%d" % d in stream for d in range(8))


def _detokenize(data: bytes, notes: list[str]) -> bytes:
    """Turn a serial-monitor log with ``[STX]``-style tokens into the bytes it shows."""
    has_line_tokens = re.search(rb"[\[<{](CR|LF)[\]>}]", data, re.IGNORECASE) is not None
    lines = data.replace(b"\r\n", b"\n").split(b"\n")
    kept = [ln for ln in lines if not _DIRECTION_LINE.match(ln)]
    dropped = sum(1 for ln in lines if ln.strip()) - sum(1 for ln in kept if ln.strip())
    if dropped:
        notes.append(f"{dropped} log line(s) showing the other direction (ACK/NAK) were skipped")
    if has_line_tokens:
        # Line breaks are where the logger's reads ended; CR/LF in the data are tokens.
        joined = b"".join(kept)
    else:
        joined = b"\r".join(kept)
        notes.append("the log writes no [CR] tokens; its line breaks were read as record ends")
    return _TOKEN.sub(lambda m: _TOKEN_BYTES[m.group(1).upper()], joined)


def _extract_frames(data: bytes, notes: list[str], strict: bool) -> tuple[bytes, int, int]:
    """Pull the text out of every ``STX ... ETX|ETB`` frame and join it into a record stream."""
    parts: list[bytes] = []
    frames = failures = missing_fn = missing_cs = truncated = noisy = out_of_seq = 0
    expected_fn: int | None = None
    pos = data.find(STX)
    n = len(data)
    while pos >= 0:
        etx = data.find(ETX, pos + 1)
        etb = data.find(ETB, pos + 1)
        ends = [e for e in (etx, etb) if e >= 0]
        end = min(ends) if ends else -1
        nxt = data.find(STX, pos + 1)
        if end < 0 or (0 <= nxt < end):
            # A frame without its end (logger cut, or the sender restarted it).
            stop = nxt if nxt >= 0 else n
            body = data[pos + 1:stop]
            truncated += 1
            if body.strip(b"\r\n"):
                parts.append(body.translate(_NOISE, _NOISE_BYTES))
                if not body.endswith(CR):
                    parts.append(CR)
            pos = nxt
            continue
        body = data[pos + 1:end]
        if any(b in body for b in (ENQ, ACK, NAK, EOT)):
            noisy += 1
            body = body.translate(_NOISE, _NOISE_BYTES)
        frames += 1
        fn: int | None = None
        if body[:1] and body[0] in b"01234567":
            fn = body[0] - 0x30
            text = body[1:]
        else:
            missing_fn += 1
            text = body
        if fn is not None:
            if expected_fn is not None and fn != expected_fn and fn != 1:
                out_of_seq += 1
            expected_fn = (fn + 1) % 8
        terminator = data[end]
        cs = data[end + 1:end + 3]
        after = end + 1
        if len(cs) == 2 and cs[0] in _HEXDIGITS and cs[1] in _HEXDIGITS:
            after = end + 3
            expected = (sum(body) + terminator) & 0xFF
            if int(cs, 16) != expected:
                failures += 1
                if strict:
                    raise AstmDecodeError(
                        f"frame {frames} checksum {cs.decode()} does not match {expected:02X}; "
                        "the capture is damaged (read it without strict_checksums to inspect it)",
                        offset=pos,
                    )
        else:
            missing_cs += 1
            if strict:
                raise AstmDecodeError(
                    f"frame {frames} has no checksum; read it without strict_checksums", offset=pos
                )
        parts.append(text)
        if terminator == ETX_INT and not text.endswith((CR, LF)):
            parts.append(CR)
        pos = data.find(STX, after)
    if missing_fn:
        notes.append(f"{missing_fn} frame(s) had no frame number")
    if missing_cs:
        notes.append(f"{missing_cs} frame(s) had no checksum")
    if failures:
        notes.append(f"{failures} of {frames} frame checksum(s) did not verify")
    if truncated:
        notes.append(f"{truncated} frame(s) had no ETX/ETB and were cut at the next STX or the end")
    if noisy:
        notes.append(f"control bytes (ENQ/ACK/NAK/EOT) inside {noisy} frame(s) were removed")
    if out_of_seq:
        notes.append(f"frame numbers out of sequence {out_of_seq} time(s)")
    return b"".join(parts), frames, failures
