"""Events the E1381 link returns from ``receive_data`` and ``handle_timer``.

They are plain frozen records so the runtime can match on them and replay them in tests.
Fields that carry message bytes (which may hold patient data) are left out of ``repr``, so an
event that slips into a log line leaks no PHI (guarantee 5).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class TransferStarted:
    """A transfer phase began: we ACKed the peer's ENQ (``outbound`` False) or ours was ACKed."""

    outbound: bool = False


@dataclass(frozen=True, slots=True)
class TransferEnded:
    """Back to neutral. ``reason``: "eot", "timeout", "interrupted" or "aborted"."""

    reason: str
    outbound: bool = False


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A final (ETX) frame completed a message. Its ACK is held until ``accept_message``.

    ``text`` joins the frame texts; ``raw`` joins the frames verbatim as they came off the wire
    (duplicates and rejected frames excluded), for storage under guarantee 2.
    """

    text: bytes = field(repr=False)
    frames: int
    raw: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class MessageAbandoned:
    """A partial message was dropped (timeout, EOT, re-bid, overflow): quarantine ``text``."""

    text: bytes = field(repr=False)
    reason: str
    raw: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class AcceptTimedOut:
    """``accept_message`` did not come within the receive timeout; the final ACK was never sent.

    The instrument counts the message as undelivered and will normally send it again, so
    storage must tolerate seeing the same message twice.
    """

    text: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class FrameRejected:
    """We answered a frame with NAK (bad checksum, framing, number, size)."""

    raw: bytes = field(repr=False)
    reason: str


@dataclass(frozen=True, slots=True)
class DuplicateFrame:
    """The previous frame came again (our ACK was lost); ACKed and discarded."""

    number: int


@dataclass(frozen=True, slots=True)
class NoiseDiscarded:
    """Bytes outside any frame, or the start of a frame that never finished; never silent."""

    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class MessageSent:
    """The peer acknowledged the final frame of ``text``."""

    text: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class SendFailed:
    """We gave up on ``text`` (six refusals, reply timeout, no answer to ENQ); it is dequeued."""

    text: bytes = field(repr=False)
    reason: str


@dataclass(frozen=True, slots=True)
class Retransmitted:
    """Frame ``frame_number`` was sent again; ``attempt`` counts transmissions (2..max_retries)."""

    frame_number: int
    attempt: int


@dataclass(frozen=True, slots=True)
class ContentionLost:
    """Host role: both ends bid, we yielded to the instrument."""


@dataclass(frozen=True, slots=True)
class ContentionWon:
    """Instrument role: both ends bid, we keep priority and bid again shortly."""


@dataclass(frozen=True, slots=True)
class BusyRefused:
    """The peer answered our ENQ with NAK; we bid again after ``busy_retry_wait``."""


@dataclass(frozen=True, slots=True)
class RefusedWhileBusy:
    """We answered the peer's ENQ with NAK because ``set_busy(True)`` is in force."""


@dataclass(frozen=True, slots=True)
class EstablishmentTimedOut:
    """Our ENQ got no reply within ``reply_timeout``; we sent EOT. ``attempt`` counts them."""

    attempt: int


@dataclass(frozen=True, slots=True)
class InterruptRequested:
    """The receiver answered a frame with EOT: we finish this message, then yield the line."""


LinkEvent = (
    TransferStarted
    | TransferEnded
    | MessageReceived
    | MessageAbandoned
    | AcceptTimedOut
    | FrameRejected
    | DuplicateFrame
    | NoiseDiscarded
    | MessageSent
    | SendFailed
    | Retransmitted
    | ContentionLost
    | ContentionWon
    | BusyRefused
    | RefusedWhileBusy
    | EstablishmentTimedOut
    | InterruptRequested
)
