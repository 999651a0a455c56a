"""Read HL7 captures for replay: plain ``.hl7`` files, MLLP byte streams, tokenized MLLP logs.

Three shapes turn up in practice:

* plain files, one or more messages, segments ended by CR, LF or CRLF, sometimes with blank
  lines and batch wrappers (``FHS``/``BHS``/``BTS``/``FTS``, which are dropped);
* raw MLLP streams (``0x0B`` ... ``0x1C 0x0D``) as a sniffer records them;
* serial/TCP monitor logs that write the control bytes as text: ``[VT]``, ``[FS]``, ``[CR]``
  (``[LF]``, ``<VT>``, ``<FS>``, ``<CR>``, ``<LF>`` too).

For framed input only the framed blocks are returned; unframed text between blocks (in the
Erba ELite 580 log: the LIS's ACKs, written without ``VT``) is another direction's traffic or
logger debris and is not a message of this capture.
"""

from __future__ import annotations

import re
from typing import Final

from benchlink.protocols.hl7.message import normalise_segments
from benchlink.protocols.hl7.mllp import MllpFramer, MllpMessage

_TOKENS: Final = {
    b"[VT]": b"\x0b",
    b"[FS]": b"\x1c",
    b"[CR]": b"\r",
    b"[LF]": b"\n",
    b"<VT>": b"\x0b",
    b"<FS>": b"\x1c",
    b"<CR>": b"\r",
    b"<LF>": b"\n",
}
_TOKEN_RE = re.compile(rb"\[(?:VT|FS|CR|LF)\]|<(?:VT|FS|CR|LF)>")
_BATCH_SEGMENTS: Final = (b"FHS", b"BHS", b"BTS", b"FTS")
#: A capture file is read whole; this bounds what replay of one capture may hold per message.
MAX_CAPTURE_MESSAGE_BYTES: Final = 16 * 1024 * 1024


def detokenize(data: bytes) -> bytes:
    """Turn ``[VT]``/``[FS]``/``[CR]``/``[LF]`` (or ``<VT>`` ...) text tokens into the bytes."""
    return _TOKEN_RE.sub(lambda m: _TOKENS[m.group(0)], data)


def _looks_tokenized(data: bytes) -> bool:
    return b"[VT]" in data or b"<VT>" in data or b"[FS]" in data or b"<FS>" in data


def split_plain(data: bytes) -> list[bytes]:
    """Messages of an unframed file: a new message starts at every ``MSH`` segment."""
    messages: list[bytes] = []
    current: list[bytes] = []
    for segment in normalise_segments(data).split(b"\r"):
        segment = segment.lstrip(b"\x00 \t")
        if segment.startswith(b"\xef\xbb\xbf"):
            segment = segment[3:]
        if not segment or segment[:3] in _BATCH_SEGMENTS:
            continue
        if segment.startswith(b"MSH") and current:
            messages.append(b"\r".join(current) + b"\r")
            current = []
        if current or segment.startswith(b"MSH"):
            current.append(segment)
    if current:
        messages.append(b"\r".join(current) + b"\r")
    return messages


def read_hl7_capture(data: bytes) -> list[bytes]:
    """Every HL7 message in a capture, as bytes with CR segment ends (framing removed)."""
    if _looks_tokenized(data):
        data = detokenize(data)
    if b"\x0b" not in data:
        return split_plain(data)
    framer = MllpFramer(max_message_bytes=MAX_CAPTURE_MESSAGE_BYTES, max_noise_bytes=0)
    messages: list[bytes] = []
    for event in framer.feed(data):
        if isinstance(event, MllpMessage):
            payload = normalise_segments(event.payload.strip(b"\r\n"))
            if payload:
                messages.append(payload if payload.endswith(b"\r") else payload + b"\r")
    return messages
