"""MLLP framing (HL7 v2 Minimal Lower Layer Protocol, release 1): ``VT payload FS CR``.

The framer is a pure state machine: bytes in, events out, no I/O. TCP delivers bytes in
arbitrary chunks, so a block may start, end or even have its ``FS`` and ``CR`` split across
calls to :meth:`MllpFramer.feed`.

Leniency, chosen because real analyzers do these things and losing a result is worse than
accepting a slightly malformed frame:

* ``FS`` ends a block even if the ``CR`` after it is missing; a ``CR`` right after ``FS``
  (even in the next chunk) is swallowed.
* Bytes outside a block (line noise, log artefacts, a stray ``FS``) are reported as
  :class:`MllpNoise`, never silently dropped, and never mixed into a message.
* A ``VT`` inside a block abandons the unfinished block (reported as :class:`MllpOverflow`
  with reason ``"restarted"``) and starts a new one: the sender evidently restarted.

Memory is bounded: a block larger than ``max_message_bytes`` is discarded (the operator sees an
:class:`MllpOverflow`), and noise beyond ``max_noise_bytes`` in one run is only counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from benchlink.protocols.hl7.errors import MllpError

VT: Final = b"\x0b"
FS: Final = b"\x1c"
CR: Final = b"\r"
_VT_INT: Final = 0x0B
_FS_INT: Final = 0x1C
_CR_INT: Final = 0x0D


@dataclass(frozen=True, slots=True)
class MllpMessage:
    """One complete block: the HL7 message bytes without ``VT`` and ``FS CR``."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class MllpOverflow:
    """Bytes that were thrown away; ``reason`` says why, ``discarded`` how many."""

    discarded: int
    reason: str


@dataclass(frozen=True, slots=True)
class MllpNoise:
    """Bytes received outside any block (kept, up to the noise limit, for the log)."""

    data: bytes


MllpEvent = MllpMessage | MllpOverflow | MllpNoise

REASON_TOO_LARGE: Final = "message too large"
REASON_TOO_LARGE_REST: Final = "rest of message too large"
REASON_RESTARTED: Final = "restarted"
REASON_NOISE: Final = "noise limit"


def frame(payload: bytes) -> bytes:
    """Wrap one HL7 message for sending; refuses payloads that would break the framing."""
    if _VT_INT in payload or _FS_INT in payload:
        raise MllpError(
            "HL7 payload contains an MLLP block character (0x0B or 0x1C); "
            "remove or escape it before sending (use \\X0B\\ / \\X1C\\ inside fields)"
        )
    return VT + payload + FS + CR


class MllpFramer:
    """Reassembles MLLP blocks from a byte stream (one instance per connection)."""

    __slots__ = (
        "_buffer",
        "_inside",
        "_max_message",
        "_max_noise",
        "_noise_run",
        "_skipped",
        "_skipping",
        "_swallow_cr",
    )

    def __init__(self, *, max_message_bytes: int = 4 * 1024 * 1024, max_noise_bytes: int = 64 * 1024) -> None:
        if max_message_bytes <= 0 or max_noise_bytes < 0:
            raise ValueError("max_message_bytes must be positive and max_noise_bytes not negative")
        self._max_message = max_message_bytes
        self._max_noise = max_noise_bytes
        self._inside = False
        self._buffer = bytearray()
        self._skipping = False  # inside an oversized block: count, do not keep
        self._skipped = 0
        self._swallow_cr = False
        self._noise_run = 0  # noise bytes seen since the last block (kept or counted)

    @property
    def buffered(self) -> int:
        """Bytes held for an unfinished block (never more than ``max_message_bytes``)."""
        return len(self._buffer)

    @property
    def in_message(self) -> bool:
        """True between a ``VT`` and its ``FS`` (useful for read time-outs)."""
        return self._inside

    def feed(self, data: bytes) -> list[MllpEvent]:
        """Consume ``data``; return every event it completes, in stream order."""
        events: list[MllpEvent] = []
        pos = 0
        n = len(data)
        if self._swallow_cr and n:
            self._swallow_cr = False
            if data[0] == _CR_INT:
                pos = 1
        while pos < n:
            if self._inside:
                pos = self._feed_inside(data, pos, events)
            else:
                pos = self._feed_outside(data, pos, events)
        return events

    def _feed_outside(self, data: bytes, pos: int, events: list[MllpEvent]) -> int:
        start = data.find(VT, pos)
        stop = len(data) if start < 0 else start
        if stop > pos:
            self._noise(data[pos:stop], events)
        if start < 0:
            return len(data)
        self._inside = True
        self._noise_run = 0
        return start + 1

    def _noise(self, chunk: bytes, events: list[MllpEvent]) -> None:
        room = self._max_noise - self._noise_run
        self._noise_run += len(chunk)
        if room >= len(chunk):
            events.append(MllpNoise(bytes(chunk)))
            return
        if room > 0:
            events.append(MllpNoise(bytes(chunk[:room])))
        events.append(MllpOverflow(len(chunk) - max(room, 0), REASON_NOISE))

    def _feed_inside(self, data: bytes, pos: int, events: list[MllpEvent]) -> int:
        end = data.find(FS, pos)
        restart = data.find(VT, pos, len(data) if end < 0 else end)
        if restart >= 0:
            # A new start block before the end of this one: the sender gave up on it.
            self._take(data, pos, restart, events)
            discarded = self._skipped if self._skipping else len(self._buffer)
            events.append(MllpOverflow(discarded, REASON_RESTARTED))
            self._reset_block()
            self._inside = True
            return restart + 1
        stop = len(data) if end < 0 else end
        self._take(data, pos, stop, events)
        if end < 0:
            return len(data)
        if self._skipping:
            events.append(MllpOverflow(self._skipped, REASON_TOO_LARGE_REST))
        else:
            events.append(MllpMessage(bytes(self._buffer)))
        self._reset_block()
        nxt = end + 1
        if nxt < len(data):
            if data[nxt] == _CR_INT:
                nxt += 1
        else:
            self._swallow_cr = True
        return nxt

    def _take(self, data: bytes, start: int, stop: int, events: list[MllpEvent]) -> None:
        if stop <= start:
            return
        if self._skipping:
            self._skipped += stop - start
            return
        if len(self._buffer) + (stop - start) > self._max_message:
            kept = len(self._buffer)
            events.append(MllpOverflow(kept, REASON_TOO_LARGE))
            self._buffer = bytearray()
            self._skipping = True
            self._skipped = stop - start
            return
        self._buffer += data[start:stop]

    def _reset_block(self) -> None:
        self._inside = False
        self._buffer = bytearray()
        self._skipping = False
        self._skipped = 0
