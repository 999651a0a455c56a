"""ASTM E1381 / CLSI LIS01-A2 data link, sans-I/O: bytes and time in, bytes and events out.

One ``AstmLink`` object is one end of the line and plays both parts: it receives when the
peer bids and sends when the caller has queued messages. It never touches a clock or a socket:
the caller passes ``now`` into every call, writes ``data_to_send()`` to the wire after every
call, and re-arms one timer at ``next_deadline()`` that calls ``handle_timer(now)`` (aioquic's
``get_timer``/``handle_timer`` pattern).

The ACK of a final (ETX) frame is not sent by the link. ``MessageReceived`` is returned and
the ACK is held until the caller, having stored the raw message, calls ``accept_message``;
bytes arriving meanwhile are buffered unprocessed (bounded). After ``accept_message`` those
buffered bytes are processed by the next ``handle_timer``/``receive_data`` call, and
``next_deadline()`` returns the current time while any are waiting, so a caller that re-arms
its timer after every call gets their events without further thought.

If ``accept_message`` never comes, the link gives up after ``receive_timeout`` (30 s): it
returns ``AcceptTimedOut`` and ``TransferEnded("timeout")`` and goes back to neutral. The
instrument never saw the ACK, so it counts the message as undelivered and will normally send it
again; storage must tolerate that duplicate.
"""

from __future__ import annotations

import enum
import re
from collections import deque

from benchlink.protocols.astm.constants import (
    ACK,
    ACK_INT,
    CR_INT,
    ENQ,
    ENQ_INT,
    EOT,
    EOT_INT,
    ETB_INT,
    ETX_INT,
    FRAME_NUMBER_MODULUS,
    HEX_DIGIT_INTS,
    LF_INT,
    MAX_TEXT_PER_FRAME,
    NAK,
    NAK_INT,
    STX_INT,
)
from benchlink.protocols.astm.frames import FrameError, build_frames, checksum, find_restricted, parse_frame
from benchlink.protocols.astm.link_events import (
    AcceptTimedOut,
    BusyRefused,
    ContentionLost,
    ContentionWon,
    DuplicateFrame,
    EstablishmentTimedOut,
    FrameRejected,
    InterruptRequested,
    LinkEvent,
    MessageAbandoned,
    MessageReceived,
    MessageSent,
    NoiseDiscarded,
    RefusedWhileBusy,
    Retransmitted,
    SendFailed,
    TransferEnded,
    TransferStarted,
)
from benchlink.protocols.astm.link_state import LinkState, Trigger, next_state
from benchlink.protocols.astm.tolerances import LinkTimers, LinkTolerances

__all__ = [
    "AcceptTimedOut",
    "AstmLink",
    "BusyRefused",
    "ContentionLost",
    "ContentionWon",
    "DuplicateFrame",
    "EstablishmentTimedOut",
    "FrameRejected",
    "InterruptRequested",
    "LinkEvent",
    "LinkState",
    "LinkTimers",
    "LinkTolerances",
    "MessageAbandoned",
    "MessageReceived",
    "MessageSent",
    "NoiseDiscarded",
    "OutboundMessageError",
    "RefusedWhileBusy",
    "Retransmitted",
    "Role",
    "SendFailed",
    "TransferEnded",
    "TransferStarted",
]

#: Largest NoiseDiscarded event; longer runs of noise come as several events.
NOISE_CHUNK = 4096

_IN_FRAME = re.compile(b"[\x02\x03\x04\x05\x17]")  # bytes that end a frame's text run
_BETWEEN_FRAMES = re.compile(b"[\x02\x04\x05]")  # bytes that end a noise run while receiving
_IN_IDLE = re.compile(b"[\x04\x05\x06\x15]")  # bytes that end a noise run while idle


class Role(enum.StrEnum):
    """Which end of the line we are; decides who wins contention (the instrument)."""

    HOST = "host"
    INSTRUMENT = "instrument"


class OutboundMessageError(ValueError):
    """``send_message`` got a text the link cannot send, or its queue is full."""


class AstmLink:
    """One end of an E1381 line. See the module docstring for the calling contract."""

    def __init__(
        self,
        role: Role,
        *,
        tolerances: LinkTolerances = LinkTolerances(),
        timers: LinkTimers = LinkTimers(),
        max_frame_bytes: int = 64 * 1024,
        max_message_bytes: int = 4 * 1024 * 1024,
        max_text_per_frame: int = MAX_TEXT_PER_FRAME,
        max_outbound_messages: int = 1024,
    ) -> None:
        if max_frame_bytes < MAX_TEXT_PER_FRAME + 8:
            raise ValueError(f"max_frame_bytes must be at least {MAX_TEXT_PER_FRAME + 8}")
        # Above 240 only to imitate non-conforming analyzers (Mindray BS-240 sends one 2.5 kB frame);
        # such a sender needs a peer with the ``oversize_frames`` tolerance.
        if not 1 <= max_text_per_frame <= max_frame_bytes - 8:
            raise ValueError(f"max_text_per_frame must be 1..{max_frame_bytes - 8}, got {max_text_per_frame}")
        if timers.max_retries < 1:
            raise ValueError("timers.max_retries must be >= 1")
        self._role = Role(role)
        self._tol = tolerances
        self._timers = timers
        self._max_frame = max_frame_bytes
        self._max_message = max_message_bytes
        self._max_text = max_text_per_frame
        self._max_outbound = max_outbound_messages

        self._state = LinkState.IDLE
        self._now = 0.0
        self._busy = False
        self._out = bytearray()
        self._in = bytearray()  # received, not yet processed (the backlog while awaiting commit)
        self._noise = bytearray()
        self._events: list[LinkEvent] = []

        # receiving side
        self._frame: bytearray | None = None  # frame in progress, from its STX
        self._trailer_at = -1  # index in _frame just after ETX/ETB, -1 while still in text
        self._trailer_since = 0.0
        self._swallow_lf = False  # the last frame ended with a bare CR; an LF may follow
        self._msg_text = bytearray()
        self._msg_raw = bytearray()
        self._msg_frames = 0
        self._expected_fn = 1
        self._last_fn: int | None = None
        self._last_raw = b""
        self._rx_activity = 0.0
        self._overflowing = False
        self._announced = False
        self._interrupt_wanted = False
        self._held_text = b""
        self._commit_since = 0.0

        # sending side
        self._queue: deque[bytes] = deque()
        self._bid_not_before = float("-inf")
        self._bid_sent_at = 0.0
        self._bid_failures = 0
        self._contention_since = 0.0
        self._frames: list[bytes] = []
        self._frame_index = 0
        self._first_fn = 1
        self._attempts = 0
        self._frame_sent_at = 0.0
        self._next_fn = 1
        self._peer_interrupted = False

    # ------------------------------------------------------------------ public API

    @property
    def role(self) -> Role:
        return self._role

    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def pending_outbound(self) -> int:
        """Messages queued and not yet acknowledged (the one on the wire included)."""
        return len(self._queue)

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def buffered_bytes(self) -> int:
        """Bytes held inside the link (not counting ``data_to_send``); bounded by the limits."""
        return (
            len(self._in)
            + len(self._noise)
            + (len(self._frame) if self._frame is not None else 0)
            + len(self._msg_text)
            + len(self._msg_raw)
            + len(self._last_raw)
            + len(self._held_text)
        )

    def receive_data(self, data: bytes, now: float) -> list[LinkEvent]:
        """Feed bytes read from the wire, split anywhere. Never raises on wire content."""
        self._now = now
        self._events = []
        self._in += data
        self._process()
        self._maybe_bid()
        return self._finish_call()

    def data_to_send(self) -> bytes:
        """Bytes to write to the wire now; drains the link's output."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def next_deadline(self) -> float | None:
        """When ``handle_timer`` must next be called, or None when no timer runs."""
        state = self._state
        if self._in and state is not LinkState.AWAITING_COMMIT:
            return self._now  # backlog released by accept_message waits for processing
        if state is LinkState.RECEIVING:
            deadline = self._rx_activity + self._timers.receive_timeout
            if self._frame is not None and self._trailer_at >= 0 and self._tol.missing_checksum:
                deadline = min(deadline, self._trailer_since + self._timers.checksum_grace)
            return deadline
        if state is LinkState.AWAITING_COMMIT:
            return self._commit_since + self._timers.receive_timeout
        if state is LinkState.BIDDING:
            return self._bid_sent_at + self._timers.reply_timeout
        if state is LinkState.CONTENTION_WAIT:
            return self._contention_since + self._timers.instrument_contention_wait
        if state is LinkState.SENDING:
            return self._frame_sent_at + self._timers.reply_timeout
        if self._queue:
            return max(self._bid_not_before, self._now)
        return None

    def handle_timer(self, now: float) -> list[LinkEvent]:
        """Run whatever timers are due at ``now``; calling it early is harmless."""
        self._now = now
        self._events = []
        self._run_timers(now)
        self._process()
        self._maybe_bid()
        return self._finish_call()

    def accept_message(self, now: float) -> None:
        """Send the ACK held back for the last MessageReceived (call after committing it).

        Ignored unless the link is awaiting a commit: the link may have timed out meanwhile,
        which the caller learned through ``AcceptTimedOut``.
        """
        self._now = now
        if self._state is not LinkState.AWAITING_COMMIT:
            return
        self._held_text = b""
        self._move(Trigger.ACCEPTED)
        self._reply_positive()

    def send_message(self, text: bytes, now: float) -> None:
        """Queue a message text (records joined by CR); the link bids with ENQ when it may."""
        if not text:
            raise OutboundMessageError("cannot send an empty message text")
        if len(text) > self._max_message:
            raise OutboundMessageError(
                f"message text is {len(text)} bytes, over max_message_bytes={self._max_message}"
            )
        bad = find_restricted(text)
        if bad >= 0:
            raise OutboundMessageError(
                f"message text holds restricted control byte 0x{text[bad]:02X} at offset {bad}; "
                "LIS01-A2 forbids it inside frames (escape or remove it in the record layer)"
            )
        if len(self._queue) >= self._max_outbound:
            raise OutboundMessageError(
                f"outbound queue is full ({self._max_outbound} messages); the peer is not taking them"
            )
        self._now = now
        self._queue.append(bytes(text))
        self._maybe_bid()

    def set_busy(self, busy: bool) -> None:
        """While busy, the peer's ENQ is answered with NAK (it retries after 10 s)."""
        self._busy = busy

    def request_interrupt(self) -> None:
        """Ask the sending peer to stop: our next positive reply to a frame is EOT, not ACK."""
        self._interrupt_wanted = True

    def connection_lost(self, now: float) -> list[LinkEvent]:
        """The wire is gone (socket closed, serial port vanished).

        Whatever was half received is handed back as ``MessageAbandoned`` so the caller can
        quarantine it, and every queued outbound message fails: nothing leaves silently. The
        link returns to neutral, as the standard's termination phase would leave it.
        """
        self._now = now
        self._events = []
        if self._frame is not None and self._msg_frames == 0 and len(self._frame) > 1:
            self._msg_raw += self._frame
            self._msg_frames = 1  # a lone unfinished frame is still bytes the operator must see
        self._frame = None
        self._trailer_at = -1
        self._abandon_partial("connection lost")
        while self._queue:
            self._emit(SendFailed(self._queue.popleft(), "connection lost"))
        self._frames = []
        self._in.clear()
        self._reset_session()
        self._state = LinkState.IDLE  # a reset, not a protocol transition: the table has no wire left
        return self._finish_call()

    # ------------------------------------------------------------------ plumbing

    def _move(self, trigger: Trigger) -> None:
        self._state = next_state(self._state, trigger)

    def _emit(self, event: LinkEvent) -> None:
        if self._noise:
            self._flush_noise()
        self._events.append(event)

    def _flush_noise(self) -> None:
        self._events.append(NoiseDiscarded(bytes(self._noise)))
        self._noise.clear()

    def _add_noise(self, data: bytes | bytearray) -> None:
        self._noise += data
        while len(self._noise) >= NOISE_CHUNK:
            self._events.append(NoiseDiscarded(bytes(self._noise[:NOISE_CHUNK])))
            del self._noise[:NOISE_CHUNK]

    def _finish_call(self) -> list[LinkEvent]:
        if self._noise:
            self._flush_noise()
        events, self._events = self._events, []
        return events

    def _process(self) -> None:
        buf = self._in
        size = len(buf)
        pos = 0
        while pos < size:
            state = self._state
            if state is LinkState.AWAITING_COMMIT:
                break
            if state is LinkState.RECEIVING:
                pos = self._receiving_step(buf, pos, size)
            elif state is LinkState.IDLE:
                pos = self._idle_step(buf, pos, size)
            else:
                self._sender_step(buf[pos])
                pos += 1
        del buf[:pos]
        backlog_cap = self._max_frame + 64
        if len(buf) > backlog_cap:
            # The peer should be waiting for our ACK; anything this long is not protocol.
            self._add_noise(buf[backlog_cap:])
            del buf[backlog_cap:]

    def _idle_step(self, buf: bytearray, pos: int, size: int) -> int:
        byte = buf[pos]
        swallow, self._swallow_lf = self._swallow_lf, False
        if byte == ENQ_INT:
            self._on_enq()
            return pos + 1
        if byte in (EOT_INT, ACK_INT, NAK_INT) or (byte == LF_INT and swallow):
            return pos + 1  # stray protocol bytes carry no data
        match = _IN_IDLE.search(buf, pos + 1)
        end = size if match is None else match.start()
        self._add_noise(buf[pos:end])
        return end

    # ------------------------------------------------------------------ receiving side

    def _receiving_step(self, buf: bytearray, pos: int, size: int) -> int:
        frame = self._frame
        if frame is None:
            byte = buf[pos]
            swallow, self._swallow_lf = self._swallow_lf, False
            if byte == STX_INT:
                self._frame = bytearray(b"\x02")
                self._trailer_at = -1
                return pos + 1
            if byte == ENQ_INT:
                self._on_enq()
                return pos + 1
            if byte == EOT_INT:
                self._on_peer_eot()
                return pos + 1
            if byte == LF_INT and swallow:
                return pos + 1
            match = _BETWEEN_FRAMES.search(buf, pos + 1)
            end = size if match is None else match.start()
            self._add_noise(buf[pos:end])
            return end
        if self._trailer_at < 0:
            match = _IN_FRAME.search(buf, pos)
            end = size if match is None else match.start()
            room = self._max_frame - len(frame)
            if end - pos >= room:
                frame += buf[pos : pos + room]
                self._reject_oversize(frame)
                return pos + room
            frame += buf[pos:end]
            if match is None:
                return size
            byte = buf[end]
            if byte == ETX_INT or byte == ETB_INT:
                frame.append(byte)
                self._trailer_at = len(frame)
                self._trailer_since = self._now
                return end + 1
            # STX, EOT or ENQ inside a frame: the frame never finished; keep its bytes as noise
            self._add_noise(frame)
            self._frame = None
            if byte == STX_INT:
                self._frame = bytearray(b"\x02")
                return end + 1
            return end
        byte = buf[pos]
        accepted, complete = self._trailer_takes(frame, byte)
        if accepted:
            frame.append(byte)
            if complete:
                self._swallow_lf = byte == CR_INT
                self._complete_frame()
            return pos + 1
        self._complete_frame()
        return pos

    def _trailer_takes(self, frame: bytearray, byte: int) -> tuple[bool, bool]:
        """Whether ``byte`` belongs to the trailer after ETX/ETB, and whether it ends it."""
        trailer = frame[self._trailer_at :]
        if CR_INT in trailer or LF_INT in trailer:
            return (True, True) if byte == LF_INT and trailer[-1] == CR_INT else (False, False)
        if byte in HEX_DIGIT_INTS and len(trailer) < 2:
            return True, False
        if byte == CR_INT:
            return True, self._tol.cr_only_line_ends
        if byte == LF_INT:
            return True, True
        return False, False

    def _complete_frame(self) -> None:
        frame = self._frame
        assert frame is not None
        self._frame = None
        self._trailer_at = -1
        self._on_frame(bytes(frame))

    def _reject_oversize(self, frame: bytearray) -> None:
        self._frame = None
        self._trailer_at = -1
        self._nak(bytes(frame), f"frame exceeds max_frame_bytes={self._max_frame} without ending; cut")

    def _on_frame(self, raw: bytes) -> None:
        self._rx_activity = self._now
        if not self._announced:
            self._announced = True
            self._emit(TransferStarted())
        try:
            frame = parse_frame(raw, self._tol, max_text=self._max_text)
        except FrameError as exc:
            self._nak(raw, str(exc))
            return
        if not frame.checksum_ok:
            end = len(frame.text) + (1 if frame.number is None else 2)
            self._nak(
                raw,
                f"checksum mismatch: frame says {raw[end + 1 : end + 3].decode('latin-1')}, "
                f"computed {checksum(raw[1 : end + 1]).decode('ascii')}",
            )
            return
        if self._overflowing:
            self._nak(raw, f"message exceeds max_message_bytes={self._max_message}; refusing its frames")
            return
        number = frame.number
        if number is not None and number != self._expected_fn:
            if number == self._last_fn and raw == self._last_raw:
                self._emit(DuplicateFrame(number))
                self._reply_positive()
                return
            if not (number == 1 and self._msg_frames == 0):  # FN 1 may restart at a boundary
                self._nak(raw, f"frame number {number} out of sequence, expected {self._expected_fn}")
                return
        if len(self._msg_text) + len(frame.text) > self._max_message:
            self._emit(MessageAbandoned(bytes(self._msg_text), "oversize", bytes(self._msg_raw)))
            self._clear_message()
            self._overflowing = True
            self._nak(raw, f"message exceeds max_message_bytes={self._max_message}")
            return
        self._msg_text += frame.text
        self._msg_raw += raw
        self._msg_frames += 1
        self._last_fn = number
        self._last_raw = raw
        if number is not None:
            self._expected_fn = (number + 1) % FRAME_NUMBER_MODULUS
        if not frame.final:
            self._reply_positive()
            return
        text = bytes(self._msg_text)
        self._emit(MessageReceived(text, self._msg_frames, bytes(self._msg_raw)))
        self._clear_message()
        self._held_text = text
        self._commit_since = self._now
        self._move(Trigger.FINAL_FRAME)

    def _reply_positive(self) -> None:
        if self._interrupt_wanted:
            self._interrupt_wanted = False
            self._out += EOT
        else:
            self._out += ACK
        self._rx_activity = self._now

    def _nak(self, raw: bytes, reason: str) -> None:
        self._emit(FrameRejected(raw, reason))
        self._out += NAK
        self._rx_activity = self._now

    def _clear_message(self) -> None:
        self._msg_text.clear()
        self._msg_raw.clear()
        self._msg_frames = 0

    def _abandon_partial(self, reason: str) -> None:
        if self._msg_frames:
            self._emit(MessageAbandoned(bytes(self._msg_text), reason, bytes(self._msg_raw)))
        self._clear_message()
        self._overflowing = False

    def _reset_session(self) -> None:
        self._clear_message()
        self._overflowing = False
        self._expected_fn = 1
        self._last_fn = None
        self._last_raw = b""
        self._held_text = b""
        self._swallow_lf = False

    def _on_enq(self) -> None:
        """The peer bids (in IDLE or RECEIVING; contention is handled by the sender step)."""
        if self._state is LinkState.RECEIVING:
            self._abandon_partial("interrupted")
        if self._busy:
            self._out += NAK
            was_receiving = self._state is LinkState.RECEIVING
            self._move(Trigger.ENQ_REFUSED)
            self._emit(RefusedWhileBusy())
            if was_receiving and self._announced:
                self._emit(TransferEnded("interrupted"))
            self._reset_session()
            self._announced = False
            return
        first = self._state is not LinkState.RECEIVING
        self._out += ACK
        self._move(Trigger.ENQ_ACCEPTED)
        self._reset_session()
        self._rx_activity = self._now
        if first:
            self._announced = False
            if not self._tol.enq_eot_keepalive:
                self._announced = True
                self._emit(TransferStarted())

    def _on_peer_eot(self) -> None:
        self._abandon_partial("eot")
        self._move(Trigger.PEER_EOT)
        if self._announced:
            self._emit(TransferEnded("eot"))
        self._announced = False
        self._reset_session()

    # ------------------------------------------------------------------ sending side

    def _maybe_bid(self) -> None:
        if self._state is LinkState.IDLE and self._queue and self._now >= self._bid_not_before:
            self._bid()

    def _bid(self) -> None:
        self._out += ENQ
        self._bid_sent_at = self._now
        self._move(Trigger.BID)

    def _sender_step(self, byte: int) -> None:
        state = self._state
        if state is LinkState.SENDING:
            if byte == ACK_INT:
                self._frame_acked()
            elif byte == EOT_INT:
                if not self._peer_interrupted:
                    self._peer_interrupted = True
                    self._emit(InterruptRequested())
                self._frame_acked()
            else:
                if byte != NAK_INT:  # LIS01-A2: any other reply counts as NAK
                    self._add_noise(bytes((byte,)))
                self._frame_refused()
        elif state is LinkState.BIDDING:
            if byte == ACK_INT:
                self._start_sending()
            elif byte == NAK_INT:
                self._bid_failures = 0
                self._bid_not_before = self._now + self._timers.busy_retry_wait
                self._move(Trigger.BID_REFUSED)
                self._emit(BusyRefused())
            elif byte == ENQ_INT:
                self._on_contention()
            elif byte != EOT_INT:
                self._add_noise(bytes((byte,)))
        elif state is LinkState.CONTENTION_WAIT:
            if byte == ACK_INT:
                self._start_sending()
            elif byte not in (ENQ_INT, EOT_INT):
                self._add_noise(bytes((byte,)))

    def _on_contention(self) -> None:
        if self._role is Role.INSTRUMENT:
            self._contention_since = self._now
            self._move(Trigger.CONTENTION_PRIORITY)
            self._emit(ContentionWon())
            return
        self._bid_failures = 0
        self._bid_not_before = self._now + self._timers.host_contention_wait
        self._emit(ContentionLost())
        self._on_enq()

    def _start_sending(self) -> None:
        self._move(Trigger.BID_ACCEPTED)
        self._bid_failures = 0
        self._peer_interrupted = False
        self._next_fn = 1
        self._emit(TransferStarted(outbound=True))
        self._load_message()
        self._transmit()

    def _load_message(self) -> None:
        self._frames = build_frames(self._queue[0], max_text=self._max_text, first_number=self._next_fn)
        self._first_fn = self._next_fn
        self._frame_index = 0
        self._attempts = 0

    def _current_fn(self) -> int:
        return (self._first_fn + self._frame_index) % FRAME_NUMBER_MODULUS

    def _transmit(self) -> None:
        self._out += self._frames[self._frame_index]
        self._attempts += 1
        self._frame_sent_at = self._now

    def _frame_acked(self) -> None:
        self._frame_index += 1
        self._attempts = 0
        if self._frame_index < len(self._frames):
            self._transmit()
            return
        self._next_fn = self._current_fn()
        self._emit(MessageSent(self._queue.popleft()))
        if self._peer_interrupted:
            self._end_sending(Trigger.SEND_FINISHED, "interrupted")
            self._bid_not_before = self._now + self._timers.interrupt_yield_wait
        elif self._queue:
            self._load_message()
            self._transmit()
        else:
            self._end_sending(Trigger.SEND_FINISHED, "eot")

    def _frame_refused(self) -> None:
        if self._attempts >= self._timers.max_retries:
            self._abort("aborted", f"frame {self._current_fn()} refused {self._attempts} times")
            return
        self._emit(Retransmitted(self._current_fn(), self._attempts + 1))
        self._transmit()

    def _abort(self, ended: str, why: str) -> None:
        text = self._queue.popleft()
        self._emit(SendFailed(text, why))
        self._end_sending(Trigger.SEND_ABORTED, ended)
        self._bid_not_before = self._now + self._timers.busy_retry_wait

    def _end_sending(self, trigger: Trigger, reason: str) -> None:
        self._out += EOT
        self._frames = []
        self._move(trigger)
        self._emit(TransferEnded(reason, outbound=True))

    # ------------------------------------------------------------------ timers

    def _run_timers(self, now: float) -> None:
        state = self._state
        timers = self._timers
        if state is LinkState.RECEIVING:
            if (
                self._frame is not None
                and self._trailer_at >= 0
                and self._tol.missing_checksum
                and now >= self._trailer_since + timers.checksum_grace
            ):
                self._complete_frame()
            if self._state is LinkState.RECEIVING and now >= self._rx_activity + timers.receive_timeout:
                if self._frame is not None:
                    self._add_noise(self._frame)
                    self._frame = None
                    self._trailer_at = -1
                self._abandon_partial("timeout")
                self._move(Trigger.RECEIVE_TIMEOUT)
                if self._announced:
                    self._emit(TransferEnded("timeout"))
                self._announced = False
                self._reset_session()
        elif state is LinkState.AWAITING_COMMIT:
            if now >= self._commit_since + timers.receive_timeout:
                self._emit(AcceptTimedOut(self._held_text))
                self._move(Trigger.RECEIVE_TIMEOUT)
                self._emit(TransferEnded("timeout"))
                self._announced = False
                self._reset_session()
        elif state is LinkState.BIDDING:
            if now >= self._bid_sent_at + timers.reply_timeout:
                self._out += EOT
                self._bid_failures += 1
                self._move(Trigger.BID_TIMEOUT)
                self._emit(EstablishmentTimedOut(self._bid_failures))
                if self._bid_failures >= timers.max_retries:
                    failures, self._bid_failures = self._bid_failures, 0
                    self._emit(SendFailed(self._queue.popleft(), f"no reply to ENQ after {failures} bids"))
                self._bid_not_before = now + timers.busy_retry_wait
        elif state is LinkState.CONTENTION_WAIT:
            if now >= self._contention_since + timers.instrument_contention_wait:
                self._bid()
        elif state is LinkState.SENDING:
            if now >= self._frame_sent_at + timers.reply_timeout:
                self._abort(
                    "timeout", f"no reply to frame {self._current_fn()} within {timers.reply_timeout:g} s"
                )
