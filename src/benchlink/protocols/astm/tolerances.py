"""Profile switches and timer settings of the E1381 link.

They live apart from ``link.py`` because ``frames.parse_frame`` needs the tolerances too and
the frame module must not import the state machine. ``link.py`` re-exports both classes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LinkTolerances:
    """Deviations from LIS01-A2 that real instruments need; every switch is off by default.

    Each one widens what the *receiver* accepts; our sender always speaks the strict standard.
    """

    #: Accept checksum hex digits in lower case (``a``-``f``).
    lowercase_checksum: bool = False
    #: Accept frames whose trailer has no checksum (``STX 1 text ETX CR LF``, or nothing at all
    #: after ETX as Snibe Maglumi does). A present checksum is still verified.
    missing_checksum: bool = False
    #: Accept frames without the frame-number digit (``STX text ETX``, Snibe Maglumi).
    #: Such frames cannot be sequence-checked or recognised as duplicates.
    missing_frame_number: bool = False
    #: Accept a frame trailer that ends with CR only or LF only instead of CR LF
    #: (Abbott Afinion ends frames with CR; Roche cobas c111 and Horiba Pentra with LF).
    cr_only_line_ends: bool = False
    #: Accept frames with more than 240 text bytes (Mindray BS-240, Sysmex, Cepheid send one
    #: frame per message, up to several kB), up to the link's ``max_frame_bytes``.
    oversize_frames: bool = False
    #: Treat ``ENQ`` immediately followed by ``EOT`` as a keepalive: it is answered, but raises
    #: no TransferStarted/TransferEnded events.
    enq_eot_keepalive: bool = False


@dataclass(frozen=True, slots=True)
class LinkTimers:
    """LIS01-A2 timer values in seconds; defaults are the standard's."""

    #: Sender's wait for a reply to ENQ or to a frame (LIS01-A2: 15 s).
    reply_timeout: float = 15.0
    #: Receiver's wait for the next frame or EOT (LIS01-A2: 30 s).
    receive_timeout: float = 30.0
    #: After losing contention, a host waits at least this long before bidding again (20 s).
    host_contention_wait: float = 20.0
    #: After winning contention, an instrument waits this long before re-sending ENQ (1 s).
    instrument_contention_wait: float = 1.0
    #: After the peer answers our ENQ with NAK (busy), wait this long before bidding again (10 s).
    busy_retry_wait: float = 10.0
    #: A frame is transmitted at most this many times before the sender aborts (6).
    max_retries: int = 6
    #: After the receiver interrupted us (EOT reply), do not bid for this long (15 s), so the
    #: receiver gets the line.
    interrupt_yield_wait: float = 15.0
    #: With ``missing_checksum`` tolerance, how long to wait after ETX/ETB for a checksum that
    #: may never come before judging the frame as it stands. Not a standard timer.
    checksum_grace: float = 0.5
