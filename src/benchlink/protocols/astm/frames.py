"""E1381 frames: build them for sending, parse one complete frame received.

A frame is ``STX FN text ETB|ETX C1 C2 CR LF``. The checksum is the sum of the bytes from FN
through ETB/ETX inclusive, modulo 256, written as two upper-case hex digits. Splitting the
byte stream into frames is the link's job (``link.py``); this module judges one frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from benchlink.protocols.astm.constants import (
    CRLF,
    ETB,
    ETX,
    ETX_INT,
    FRAME_NUMBER_MODULUS,
    MAX_TEXT_PER_FRAME,
    RESTRICTED_TEXT_BYTES,
    STX,
    STX_INT,
)
from benchlink.protocols.astm.tolerances import LinkTolerances

__all__ = ["Frame", "FrameError", "build_frames", "checksum", "find_restricted", "parse_frame"]

_HEX_DIGITS = frozenset(b"0123456789ABCDEFabcdef")
_FN_DIGITS = frozenset(b"01234567")
_RESTRICTED_RE = re.compile(b"[" + re.escape(bytes(sorted(RESTRICTED_TEXT_BYTES))) + b"]")
_STRICT = LinkTolerances()


class FrameError(ValueError):
    """A frame is malformed (or a text cannot be framed); the message says what and why."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One parsed frame. ``number`` is None only under the missing-frame-number tolerance."""

    number: int | None
    text: bytes
    final: bool
    checksum_ok: bool
    raw: bytes


def checksum(body: bytes) -> bytes:
    """Checksum of ``body`` = FN + text + ETB/ETX: two upper-case hex digits of sum mod 256."""
    return b"%02X" % (sum(body) & 0xFF)


def find_restricted(text: bytes) -> int:
    """Index of the first byte LIS01-A2 forbids in frame text, or -1."""
    match = _RESTRICTED_RE.search(text)
    return -1 if match is None else match.start()


def build_frames(text: bytes, *, max_text: int = MAX_TEXT_PER_FRAME, first_number: int = 1) -> list[bytes]:
    """Split a message text into complete wire frames, ETB for all but the last (ETX).

    Frame numbers start at ``first_number`` and run modulo 8, so a sender continuing a
    transfer phase passes the number after its last frame.
    """
    if not text:
        raise FrameError("cannot frame an empty message text; pass at least one record")
    if max_text < 1:
        raise FrameError(f"max_text must be >= 1, got {max_text}")
    if not 0 <= first_number < FRAME_NUMBER_MODULUS:
        raise FrameError(f"first_number must be 0..7, got {first_number}")
    bad = find_restricted(text)
    if bad >= 0:
        raise FrameError(
            f"message text holds restricted control byte 0x{text[bad]:02X} at offset {bad}; "
            "LIS01-A2 forbids it inside frames (escape or remove it in the record layer)"
        )
    chunks = [text[start : start + max_text] for start in range(0, len(text), max_text)]
    frames: list[bytes] = []
    number = first_number
    for index, chunk in enumerate(chunks):
        body = b"%d" % number + chunk + (ETX if index == len(chunks) - 1 else ETB)
        frames.append(STX + body + checksum(body) + CRLF)
        number = (number + 1) % FRAME_NUMBER_MODULUS
    return frames


def parse_frame(
    raw: bytes, tolerances: LinkTolerances = _STRICT, *, max_text: int = MAX_TEXT_PER_FRAME
) -> Frame:
    """Parse one complete frame. A wrong checksum is reported in ``checksum_ok``; anything
    structurally wrong raises FrameError naming the defect."""
    if not raw or raw[0] != STX_INT:
        raise FrameError("frame must start with STX (0x02)")
    end = _find_end(raw)
    if end < 0:
        raise FrameError("frame has no ETX (0x03) or ETB (0x17) terminator")
    text_start = 2
    number: int | None
    if raw[1] in _FN_DIGITS:
        number = raw[1] - 0x30
    elif tolerances.missing_frame_number:
        number, text_start = None, 1
    else:
        got = "nothing" if end == 1 else f"0x{raw[1]:02X}"
        raise FrameError(
            f"frame number must be a digit 0-7 after STX, got {got}; enable the "
            "missing_frame_number tolerance for instruments that omit it"
        )
    text = raw[text_start:end]
    if STX_INT in text:
        raise FrameError("frame text contains STX: a new frame began before this one ended")
    if len(text) > max_text and not tolerances.oversize_frames:
        raise FrameError(
            f"frame text is {len(text)} bytes, over the {max_text}-byte limit of LIS01-A2; "
            "enable the oversize_frames tolerance for instruments that send long frames"
        )
    received, line_end = _split_trailer(raw[end + 1 :])
    _check_line_end(line_end, received is not None, tolerances)
    if received is None:
        if not tolerances.missing_checksum:
            raise FrameError(
                "frame has no checksum after ETX/ETB; enable the missing_checksum tolerance "
                "for instruments that omit it"
            )
        checksum_ok = True
    else:
        expected = checksum(raw[1 : end + 1])
        checksum_ok = received == expected or (tolerances.lowercase_checksum and received.upper() == expected)
    return Frame(number=number, text=text, final=raw[end] == ETX_INT, checksum_ok=checksum_ok, raw=raw)


def _find_end(raw: bytes) -> int:
    etx = raw.find(ETX, 1)
    etb = raw.find(ETB, 1)
    if etx < 0:
        return etb
    if etb < 0:
        return etx
    return min(etx, etb)


def _split_trailer(trailer: bytes) -> tuple[bytes | None, bytes]:
    if len(trailer) >= 2 and trailer[0] in _HEX_DIGITS and trailer[1] in _HEX_DIGITS:
        return trailer[:2], trailer[2:]
    return None, trailer


def _check_line_end(line_end: bytes, has_checksum: bool, tolerances: LinkTolerances) -> None:
    if line_end == CRLF:
        return
    if line_end in (b"\r", b"\n") and tolerances.cr_only_line_ends:
        return
    if line_end == b"" and tolerances.missing_checksum:
        return
    what = "after the checksum" if has_checksum else "after ETX/ETB"
    # Name control bytes only: anything else may be message text, which must not reach a log.
    shown = repr(line_end[:8]) if all(b < 0x20 for b in line_end) else f"{len(line_end)} bytes of data"
    raise FrameError(
        f"frame must end with CR LF {what}, got {shown}; enable the cr_only_line_ends "
        "tolerance for instruments that end frames with CR or LF alone"
    )

