"""The E1381 link state machine: establishment, transfer, commit hold, faults and timers."""

from __future__ import annotations

from typing import TypeVar

import pytest

from benchlink.protocols.astm.constants import ACK, ENQ, EOT, ETX, NAK, STX
from benchlink.protocols.astm.frames import build_frames, checksum
from benchlink.protocols.astm.link import (
    AcceptTimedOut,
    AstmLink,
    BusyRefused,
    ContentionLost,
    ContentionWon,
    DuplicateFrame,
    EstablishmentTimedOut,
    FrameRejected,
    InterruptRequested,
    LinkEvent,
    LinkState,
    LinkTimers,
    LinkTolerances,
    MessageAbandoned,
    MessageReceived,
    MessageSent,
    NoiseDiscarded,
    OutboundMessageError,
    RefusedWhileBusy,
    Retransmitted,
    Role,
    SendFailed,
    TransferEnded,
    TransferStarted,
)
from benchlink.protocols.astm.link_state import TRANSITIONS, LinkStateError, Trigger, next_state
from benchlink.protocols.astm.linkpair import Fault, LinkPair

HOST, INST = Role.HOST, Role.INSTRUMENT
E = TypeVar("E")
RESULT = b"H|\\^&|||Analyzer\rP|1\rO|1|S1||^^^GLU\rR|1|^^^GLU|5.5|mmol/L\rL|1|N\r"
LONG = b"H|\\^&\r" + b"".join(b"R|%d|^^^T%d|%d.0\r" % (i, i, i) for i in range(1, 200)) + b"L|1|N\r"


def kinds(events: list[LinkEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


def ev(event: LinkEvent, kind: type[E]) -> E:
    assert isinstance(event, kind), f"expected {kind.__name__}, got {event!r}"
    return event


def receiver(**kwargs: object) -> AstmLink:
    link = AstmLink(HOST, **kwargs)  # type: ignore[arg-type]
    assert link.receive_data(ENQ, 0.0) == [TransferStarted()]
    assert link.data_to_send() == ACK
    return link


# ------------------------------------------------------------------ happy paths


@pytest.mark.parametrize("sender", [INST, HOST])
def test_message_crosses_the_line_in_both_directions(sender: Role) -> None:
    pair = LinkPair()
    pair.send(sender, LONG)
    pair.run()
    other = HOST if sender is INST else INST
    assert pair.received(other) == [LONG]
    assert pair.of_type(sender, MessageSent) == [MessageSent(LONG)]
    frames = len(build_frames(LONG))
    assert frames > 8  # frame numbers wrapped
    assert pair.of_type(other, MessageReceived)[0].frames == frames
    assert pair.of_type(sender, TransferEnded) == [TransferEnded("eot", outbound=True)]
    assert pair.of_type(other, TransferEnded) == [TransferEnded("eot")]
    assert pair.host.state is pair.instrument.state is LinkState.IDLE
    assert pair.host.next_deadline() is None and pair.instrument.next_deadline() is None


def test_wire_bytes_follow_lis01_a2_exactly() -> None:
    pair = LinkPair()
    pair.send(INST, b"L|1|N\r")
    pair.run()
    wire = [(sender, unit) for _, sender, unit in pair.transcript]
    assert wire == [
        (INST, ENQ),
        (HOST, ACK),
        (INST, STX + b"1L|1|N\r" + ETX + checksum(b"1L|1|N\r\x03") + b"\r\n"),
        (HOST, ACK),
        (INST, EOT),
    ]


def test_several_queued_messages_share_one_transfer_with_continuing_frame_numbers() -> None:
    pair = LinkPair()
    for n in range(3):
        pair.send(INST, b"H|\\^&\rR|%d|^^^X|1\rL|1|N\r" % n)
    pair.run()
    assert len(pair.received(HOST)) == 3
    frames = [u for _, s, u in pair.transcript if s is INST and u[:1] == STX]
    assert [u[1:2] for u in frames] == [b"1", b"2", b"3"]
    assert pair.of_type(HOST, TransferStarted) == [TransferStarted()]
    assert pair.instrument.pending_outbound == 0


def test_mid_message_bytes_split_one_at_a_time_still_deliver() -> None:
    pair = LinkPair(chunk_size=1)
    pair.send(INST, LONG)
    pair.run()
    assert pair.received(HOST) == [LONG]
    assert not pair.of_type(HOST, NoiseDiscarded)


# ------------------------------------------------------------------ commit hold (guarantee 1)


def test_final_ack_is_held_until_accept_and_input_waits_meanwhile() -> None:
    link = receiver()
    frames = build_frames(LONG)
    for raw in frames[:-1]:
        assert link.receive_data(raw, 1.0) == []
        assert link.data_to_send() == ACK  # ETB frames are ACKed at once
    events = link.receive_data(frames[-1] + EOT, 2.0)
    assert kinds(events) == ["MessageReceived"]
    assert link.data_to_send() == b""  # no ACK yet
    assert link.state is LinkState.AWAITING_COMMIT
    assert link.receive_data(ENQ, 3.0) == []  # buffered, not processed
    assert link.data_to_send() == b""
    link.accept_message(4.0)
    assert link.data_to_send() == ACK
    assert link.next_deadline() == 4.0  # the backlog asks to be processed now
    events = link.handle_timer(4.0)
    assert kinds(events) == ["TransferEnded", "TransferStarted"]  # the EOT, then the ENQ
    assert link.data_to_send() == ACK


def test_accept_that_never_comes_times_out_after_receive_timeout() -> None:
    link = receiver()
    link.receive_data(build_frames(RESULT)[0], 5.0)
    assert link.next_deadline() == 35.0
    assert link.handle_timer(34.9) == []
    events = link.handle_timer(35.0)
    assert events == [AcceptTimedOut(RESULT), TransferEnded("timeout")]
    assert link.state is LinkState.IDLE
    link.accept_message(36.0)  # late accept is ignored: no stray ACK
    assert link.data_to_send() == b""


def test_sender_waits_while_receiver_commits_slowly_within_reply_timeout() -> None:
    pair = LinkPair(accept_delay=14.0)
    pair.send(INST, RESULT)
    pair.run()
    assert pair.of_type(INST, MessageSent) == [MessageSent(RESULT)]


def test_commit_slower_than_reply_timeout_fails_the_send_and_receiver_recovers() -> None:
    pair = LinkPair(accept_delay=16.0)
    pair.send(INST, RESULT)
    pair.run()
    assert pair.of_type(INST, SendFailed)[0].reason.startswith("no reply to frame 1")
    assert pair.received(HOST) == [RESULT]  # stored; the instrument will resend, storage dedupes
    assert pair.host.state is LinkState.IDLE and pair.instrument.state is LinkState.IDLE


# ------------------------------------------------------------------ establishment


def test_busy_receiver_naks_enq_and_sender_retries_after_10_s() -> None:
    pair = LinkPair()
    pair.host.set_busy(True)
    pair.send(INST, RESULT)
    pair.advance(1.0)
    assert pair.of_type(INST, BusyRefused) == [BusyRefused()]
    assert pair.of_type(HOST, RefusedWhileBusy) == [RefusedWhileBusy()]
    assert pair.instrument.next_deadline() == pytest.approx(10.002)
    pair.run(until=10.0)
    assert [u for _, s, u in pair.transcript if s is INST] == [ENQ]
    pair.host.set_busy(False)
    pair.run()
    assert pair.received(HOST) == [RESULT]
    second_enq = [t for t, s, u in pair.transcript if s is INST and u == ENQ][1]
    assert second_enq >= 10.002


def test_contention_host_yields_and_waits_20_s_before_bidding_again() -> None:
    pair = LinkPair(latency=0.01)
    pair.host.send_message(b"H|\\^&\rO|1|ORDER\rL|1|N\r", 0.0)
    pair.instrument.send_message(RESULT, 0.0)
    pair.run()
    assert pair.of_type(HOST, ContentionLost) == [ContentionLost()]
    assert pair.of_type(INST, ContentionWon) == [ContentionWon()]
    assert pair.received(HOST) == [RESULT]
    assert pair.received(INST) == [b"H|\\^&\rO|1|ORDER\rL|1|N\r"]
    host_enqs = [t for t, s, u in pair.transcript if s is HOST and u == ENQ]
    assert len(host_enqs) == 2
    # contention seen at 0.01; the host bids again at 20.01, landing after 0.01 s of latency
    assert host_enqs[1] == pytest.approx(0.01 + 20.0 + 0.01)
    # the yielding host ACKed the instrument's first ENQ, so the instrument never had to re-bid
    assert [u for _, s, u in pair.transcript if s is INST].count(ENQ) == 1


def test_busy_host_in_contention_yields_with_nak() -> None:
    link = AstmLink(HOST)
    link.set_busy(True)
    link.send_message(RESULT, 0.0)
    assert link.data_to_send() == ENQ
    assert link.receive_data(ENQ, 0.5) == [ContentionLost(), RefusedWhileBusy()]
    assert link.data_to_send() == NAK
    assert link.state is LinkState.IDLE
    assert link.next_deadline() == pytest.approx(20.5)


def test_contention_instrument_keeps_priority_and_rebids_after_1_s_if_host_stays_silent() -> None:
    link = AstmLink(INST)
    link.send_message(RESULT, 0.0)
    assert link.data_to_send() == ENQ
    assert link.receive_data(ENQ, 0.2) == [ContentionWon()]
    assert link.state is LinkState.CONTENTION_WAIT
    assert link.next_deadline() == pytest.approx(1.2)
    assert link.handle_timer(1.1) == [] and link.data_to_send() == b""
    link.handle_timer(1.2)
    assert link.data_to_send() == ENQ
    assert link.state.value == "bidding"
    assert kinds(link.receive_data(ACK, 1.3)) == ["TransferStarted"]
    assert link.data_to_send() == build_frames(RESULT)[0]


def test_no_reply_to_enq_times_out_after_15_s_sends_eot_and_fails_after_6_bids() -> None:
    pair = LinkPair()
    pair.add_fault(INST, Fault("drop", ENQ, times=99))
    pair.send(INST, RESULT)
    pair.run(until=14.999)
    assert pair.of_type(INST, EstablishmentTimedOut) == []
    pair.run(until=15.0)
    assert pair.of_type(INST, EstablishmentTimedOut) == [EstablishmentTimedOut(1)]
    pair.run(until=15.001)
    assert [u for _, s, u in pair.transcript if s is INST] == [EOT]  # the ENQ itself was dropped
    assert pair.instrument.next_deadline() == pytest.approx(25.0)  # then 10 s before the next bid
    pair.run()
    assert [e.attempt for e in pair.of_type(INST, EstablishmentTimedOut)] == [1, 2, 3, 4, 5, 6]
    assert pair.of_type(INST, SendFailed) == [SendFailed(RESULT, "no reply to ENQ after 6 bids")]
    assert pair.instrument.pending_outbound == 0
    assert pair.now == pytest.approx(6 * 15 + 5 * 10, abs=0.01)  # last EOT lands 1 ms after


def test_enq_eot_keepalive_is_answered_without_events_when_tolerated() -> None:
    quiet = AstmLink(HOST, tolerances=LinkTolerances(enq_eot_keepalive=True))
    assert quiet.receive_data(ENQ + EOT, 0.0) == []
    assert quiet.data_to_send() == ACK
    assert quiet.state is LinkState.IDLE
    strict = AstmLink(HOST)
    assert strict.receive_data(ENQ + EOT, 0.0) == [TransferStarted(), TransferEnded("eot")]


def test_keepalive_tolerance_still_announces_a_real_transfer() -> None:
    link = AstmLink(HOST, tolerances=LinkTolerances(enq_eot_keepalive=True))
    events = link.receive_data(ENQ + build_frames(RESULT)[0], 0.0)
    assert kinds(events) == ["TransferStarted", "MessageReceived"]


# ------------------------------------------------------------------ transfer faults


def test_corrupted_frame_is_naked_and_retransmitted() -> None:
    pair = LinkPair()
    pair.add_fault(INST, Fault("corrupt", STX, frame_number=2, times=2))
    pair.send(INST, LONG)
    pair.run()
    assert pair.received(HOST) == [LONG]
    assert pair.of_type(INST, Retransmitted) == [Retransmitted(2, 2), Retransmitted(2, 3)]
    rejected = pair.of_type(HOST, FrameRejected)
    assert len(rejected) == 2 and "checksum mismatch" in rejected[0].reason


def test_five_refusals_still_deliver_the_sixth_try() -> None:
    pair = LinkPair()
    pair.add_fault(INST, Fault("corrupt", STX, frame_number=1, times=5))
    pair.send(INST, RESULT)
    pair.run()
    assert pair.received(HOST) == [RESULT]
    assert [e.attempt for e in pair.of_type(INST, Retransmitted)] == [2, 3, 4, 5, 6]


def test_six_refusals_abort_with_eot_and_send_failed() -> None:
    pair = LinkPair()
    pair.add_fault(INST, Fault("corrupt", STX, frame_number=3, times=6))
    pair.send(INST, LONG)
    pair.run()
    assert pair.of_type(INST, SendFailed) == [SendFailed(LONG, "frame 3 refused 6 times")]
    assert pair.of_type(INST, TransferEnded) == [TransferEnded("aborted", outbound=True)]
    assert [u for _, s, u in pair.transcript if s is INST][-1] == EOT
    assert pair.received(HOST) == []
    abandoned = pair.of_type(HOST, MessageAbandoned)
    assert len(abandoned) == 1 and abandoned[0].reason == "eot"
    assert LONG.startswith(abandoned[0].text)


def test_retransmission_of_a_frame_whose_ack_was_damaged_is_a_duplicate() -> None:
    pair = LinkPair()
    pair.add_fault(HOST, Fault("corrupt", ACK, skip=1))  # the ACK of frame 1 (the first ACK answers ENQ)
    pair.send(INST, LONG)
    pair.run()
    assert pair.received(HOST) == [LONG]
    assert pair.of_type(HOST, DuplicateFrame) == [DuplicateFrame(1)]
    assert pair.of_type(INST, Retransmitted) == [Retransmitted(1, 2)]


def test_duplicated_frame_on_the_wire_is_acked_and_discarded() -> None:
    link = receiver()
    first, second = build_frames(b"A" * 300)
    link.receive_data(first, 1.0)
    assert link.receive_data(first, 1.1) == [DuplicateFrame(1)]
    assert link.data_to_send() == ACK + ACK
    assert kinds(link.receive_data(second, 1.2)) == ["MessageReceived"]


def test_wire_duplicate_of_the_final_frame_is_acked_once_more_and_ignored_by_the_sender() -> None:
    pair = LinkPair()
    count = len(build_frames(LONG))
    last = count % 8
    pair.add_fault(INST, Fault("duplicate", STX, frame_number=last, skip=(count - 1) // 8))
    pair.send(INST, LONG)
    pair.run()
    assert pair.received(HOST) == [LONG]
    assert pair.of_type(HOST, DuplicateFrame) == [DuplicateFrame(last)]
    assert pair.of_type(INST, MessageSent) == [MessageSent(LONG)]
    assert pair.of_type(INST, NoiseDiscarded) == []


def test_out_of_sequence_frame_is_naked() -> None:
    link = receiver()
    events = link.receive_data(build_frames(RESULT, first_number=3)[0], 1.0)
    assert kinds(events) == ["FrameRejected"]
    assert "frame number 3 out of sequence, expected 1" in ev(events[0], FrameRejected).reason
    assert link.data_to_send() == NAK


def test_same_number_different_content_mid_message_is_not_taken_as_duplicate() -> None:
    link = receiver()
    first = build_frames(b"A" * 300)[0]
    link.receive_data(first, 1.0)
    other = build_frames(b"B" * 300)[0]
    assert kinds(link.receive_data(other, 1.1)) == ["FrameRejected"]


def test_frame_numbering_may_restart_at_1_for_a_new_message() -> None:
    link = receiver()
    link.receive_data(build_frames(b"H|1\r")[0], 1.0)
    link.accept_message(1.0)
    events = link.receive_data(build_frames(b"H|2\r")[0], 2.0)
    assert events == [MessageReceived(b"H|2\r", 1, build_frames(b"H|2\r")[0])]


def test_no_reply_to_a_frame_aborts_after_15_s() -> None:
    pair = LinkPair()
    pair.add_fault(INST, Fault("drop", STX, frame_number=2))
    pair.send(INST, LONG)
    pair.run(until=15.0)
    assert pair.of_type(INST, SendFailed) == []
    pair.run()
    failed = pair.of_type(INST, SendFailed)
    assert failed == [SendFailed(LONG, "no reply to frame 2 within 15 s")]
    assert pair.of_type(INST, TransferEnded) == [TransferEnded("timeout", outbound=True)]
    sent_at = [t for t, s, u in pair.transcript if s is INST and u[:2] == STX + b"2"]
    assert sent_at == []  # dropped on the wire, never delivered
    eot_at = next(t for t, s, u in pair.transcript if s is INST and u == EOT)
    assert eot_at == pytest.approx(0.003 + 0.002 + 15.0 + 0.001, abs=0.01)


def test_receiver_discards_incomplete_message_after_30_s_silence() -> None:
    link = receiver()
    first = build_frames(b"A" * 300)[0]
    link.receive_data(first, 2.0)
    link.receive_data(STX + b"2AAA", 3.0)  # a frame that never ends
    assert link.next_deadline() == 32.0
    assert link.handle_timer(31.9) == []
    events = link.handle_timer(32.0)
    assert events == [
        NoiseDiscarded(STX + b"2AAA"),
        MessageAbandoned(b"A" * 240, "timeout", first),
        TransferEnded("timeout"),
    ]
    assert link.state is LinkState.IDLE


def test_eot_mid_message_abandons_the_partial_text() -> None:
    link = receiver()
    link.receive_data(build_frames(b"A" * 300)[0], 1.0)
    events = link.receive_data(EOT, 2.0)
    assert kinds(events) == ["MessageAbandoned", "TransferEnded"]
    assert ev(events[0], MessageAbandoned).reason == "eot"


def test_new_enq_mid_message_abandons_and_restarts() -> None:
    link = receiver()
    link.receive_data(build_frames(b"A" * 300)[0], 1.0)
    link.data_to_send()
    events = link.receive_data(ENQ + build_frames(b"B|1\r")[0], 2.0)
    assert kinds(events) == ["MessageAbandoned", "MessageReceived"]
    assert ev(events[0], MessageAbandoned).reason == "interrupted"
    assert link.data_to_send() == ACK


# ------------------------------------------------------------------ receiver interrupt


def test_receiver_interrupt_lets_the_current_message_finish_then_sender_yields_15_s() -> None:
    pair = LinkPair()
    pair.send(INST, LONG)
    pair.send(INST, RESULT)
    pair.run_until(lambda p: bool(p.host.state is LinkState.RECEIVING and p.received(HOST) == []
                                  and any(u[:1] == STX for _, s, u in p.transcript)), 5.0)
    pair.host.request_interrupt()
    order = b"H|\\^&\rO|1|URGENT\rL|1|N\r"
    pair.send(HOST, order)  # the host wants the line
    pair.run()
    assert pair.of_type(INST, InterruptRequested) == [InterruptRequested()]
    assert pair.received(HOST) == [LONG, RESULT]
    assert pair.received(INST) == [order]
    ends = pair.of_type(INST, TransferEnded)
    assert ends[0] == TransferEnded("interrupted", outbound=True)
    # the host got the line first, and the instrument's second message waited
    first_order_frame = next(t for t, s, u in pair.transcript if s is HOST and u[:1] == STX)
    result_frame = next(t for t, s, u in pair.transcript if s is INST and u[:1] == STX and b"GLU" in u)
    assert first_order_frame < result_frame
    interrupted_at = next(t for t, s, u in pair.transcript if s is INST and u == EOT)
    second_bid = [t for t, s, u in pair.transcript if s is INST and u == ENQ][1]
    assert second_bid - interrupted_at >= 15.0 - 0.01


# ------------------------------------------------------------------ tolerances on the receiver


def test_lowercase_checksum_is_naked_unless_tolerated() -> None:
    raw = build_frames(RESULT)[0]
    low = raw[:-4] + raw[-4:-2].lower() + raw[-2:]
    assert raw != low
    assert kinds(receiver().receive_data(low, 1.0)) == ["FrameRejected"]
    tolerant = receiver(tolerances=LinkTolerances(lowercase_checksum=True))
    assert kinds(tolerant.receive_data(low, 1.0)) == ["MessageReceived"]


def test_maglumi_style_frame_without_number_or_checksum_followed_by_eot() -> None:
    tol = LinkTolerances(missing_checksum=True, missing_frame_number=True)
    link = receiver(tolerances=tol)
    events = link.receive_data(STX + RESULT + ETX + EOT, 1.0)
    assert events == [MessageReceived(RESULT, 1, STX + RESULT + ETX)]
    link.accept_message(1.1)
    assert link.data_to_send() == ACK
    assert kinds(link.handle_timer(1.1)) == ["TransferEnded"]


def test_frame_without_checksum_then_silence_is_judged_after_the_grace_period() -> None:
    tol = LinkTolerances(missing_checksum=True, missing_frame_number=True)
    link = receiver(tolerances=tol)
    assert link.receive_data(STX + RESULT + ETX, 1.0) == []
    assert link.next_deadline() == pytest.approx(1.5)
    assert kinds(link.handle_timer(1.5)) == ["MessageReceived"]


def test_strict_receiver_naks_a_frame_without_checksum() -> None:
    link = receiver()
    events = link.receive_data(STX + b"1" + RESULT + ETX + b"\r\n", 1.0)
    assert kinds(events) == ["FrameRejected"]
    assert "no checksum" in ev(events[0], FrameRejected).reason


@pytest.mark.parametrize("line_end", [b"\r", b"\n"])
def test_single_byte_line_end_completes_the_frame_at_once_when_tolerated(line_end: bytes) -> None:
    link = receiver(tolerances=LinkTolerances(cr_only_line_ends=True))
    raw = build_frames(RESULT)[0][:-2] + line_end
    assert kinds(link.receive_data(raw, 1.0)) == ["MessageReceived"]
    link.accept_message(1.0)
    if line_end == b"\r":
        assert link.receive_data(b"\n", 1.1) == []  # a late LF after a bare CR is not noise
    assert link.receive_data(EOT, 1.2) == [TransferEnded("eot")]


def test_cr_only_frame_waits_for_lf_when_not_tolerated() -> None:
    link = receiver()
    raw = build_frames(RESULT)[0][:-1]  # CR, no LF
    assert link.receive_data(raw, 1.0) == []
    events = link.receive_data(EOT, 2.0)
    assert kinds(events) == ["FrameRejected", "TransferEnded"]


def test_oversize_frame_is_naked_unless_tolerated() -> None:
    body = b"1" + b"R" * 2500 + ETX
    raw = STX + body + checksum(body) + b"\r\n"
    events = receiver().receive_data(raw, 1.0)
    assert kinds(events) == ["FrameRejected"] and "2500 bytes" in ev(events[0], FrameRejected).reason
    tolerant = receiver(tolerances=LinkTolerances(oversize_frames=True))
    assert kinds(tolerant.receive_data(raw, 1.0)) == ["MessageReceived"]


def test_frame_longer_than_max_frame_bytes_is_cut_and_naked() -> None:
    link = receiver(tolerances=LinkTolerances(oversize_frames=True), max_frame_bytes=1000)
    events = link.receive_data(STX + b"1" + b"x" * 5000, 1.0)
    assert kinds(events) == ["FrameRejected", "NoiseDiscarded"]
    assert len(ev(events[0], FrameRejected).raw) == 1000
    assert ev(events[1], NoiseDiscarded).data == b"x" * (5001 - 999)
    assert link.data_to_send() == NAK
    assert link.buffered_bytes == 0


def test_message_over_max_message_bytes_is_abandoned_and_refused() -> None:
    link = receiver(max_message_bytes=500)
    frames = build_frames(b"A" * 1000)
    events: list[LinkEvent] = []
    for raw in frames:
        events += link.receive_data(raw, 1.0)
    assert kinds(events) == ["MessageAbandoned", "FrameRejected", "FrameRejected", "FrameRejected"]
    assert ev(events[0], MessageAbandoned).reason == "oversize"
    assert link.data_to_send() == ACK + ACK + NAK + NAK + NAK


def test_noise_outside_frames_is_reported_with_its_bytes() -> None:
    link = AstmLink(HOST)
    assert link.receive_data(b"garbage", 0.0) == [NoiseDiscarded(b"garbage")]
    assert link.receive_data(EOT + ACK + NAK, 0.0) == []  # stray protocol bytes carry no data
    link.receive_data(ENQ, 0.0)
    events = link.receive_data(b"\x00\x01junk" + build_frames(RESULT)[0], 1.0)
    assert events[0] == NoiseDiscarded(b"\x00\x01junk")


def test_stx_inside_a_frame_restarts_the_frame() -> None:
    link = receiver()
    events = link.receive_data(STX + b"1H|broken" + build_frames(RESULT)[0], 1.0)
    assert events[0] == NoiseDiscarded(STX + b"1H|broken")
    assert kinds(events[1:]) == ["MessageReceived"]


def test_noise_comes_in_bounded_chunks() -> None:
    link = AstmLink(HOST)
    events = link.receive_data(b"z" * 10_000, 0.0)
    assert [len(ev(e, NoiseDiscarded).data) for e in events] == [4096, 4096, 1808]
    assert link.buffered_bytes == 0


def test_event_reprs_carry_no_message_text() -> None:
    phi = b"P|1||PID-4711||DOE^JANE||19700101|F\r"
    pair = LinkPair()
    pair.add_fault(INST, Fault("corrupt", STX, times=7))  # rejected frames, then a failed send
    pair.send(INST, b"H|\\^&\r" + phi + b"L|1|N\r")
    pair.send(INST, b"H|\\^&\r" + phi + b"L|1|N\r")
    pair.run()
    link = receiver()
    wire = b"DOE^JANE" + build_frames(phi * 3)[0] + STX + b"1" + phi + ETX + b"ZZDOE^JANE"
    events = link.receive_data(wire, 1.0)
    events += link.handle_timer(100.0)
    everything = pair.events[HOST] + pair.events[INST] + events
    assert {type(e).__name__ for e in everything} >= {
        "FrameRejected", "MessageReceived", "SendFailed", "MessageSent", "NoiseDiscarded", "AcceptTimedOut"}
    assert b"DOE" not in repr(everything).encode()
    assert "4711" not in repr(everything)


# ------------------------------------------------------------------ API guards and the table


@pytest.mark.parametrize(
    ("text", "message"),
    [(b"", "empty"), (b"H|\x05", "0x05"), (b"x" * 5000, "max_message_bytes")],
)
def test_send_message_refuses_what_it_cannot_frame(text: bytes, message: str) -> None:
    link = AstmLink(HOST, max_message_bytes=4096)
    with pytest.raises(OutboundMessageError, match=message):
        link.send_message(text, 0.0)


def test_outbound_queue_is_bounded() -> None:
    link = AstmLink(HOST, max_outbound_messages=2)
    link.send_message(b"A", 0.0)
    link.send_message(b"B", 0.0)
    with pytest.raises(OutboundMessageError, match="queue is full"):
        link.send_message(b"C", 0.0)
    assert link.pending_outbound == 2


def test_transition_table_refuses_moves_it_does_not_list() -> None:
    assert next_state(LinkState.IDLE, Trigger.ENQ_ACCEPTED) is LinkState.RECEIVING
    with pytest.raises(LinkStateError, match="no transition from 'idle' on 'final_frame'"):
        next_state(LinkState.IDLE, Trigger.FINAL_FRAME)
    assert {s for s, _ in TRANSITIONS} == set(LinkState)


def test_every_state_can_get_back_to_idle() -> None:
    reachable_idle = {LinkState.IDLE}
    changed = True
    while changed:
        changed = False
        for (src, _), dst in TRANSITIONS.items():
            if dst in reachable_idle and src not in reachable_idle:
                reachable_idle.add(src)
                changed = True
    assert reachable_idle == set(LinkState)


def test_constructor_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="max_text_per_frame"):
        AstmLink(HOST, max_text_per_frame=0)
    with pytest.raises(ValueError, match="max_text_per_frame"):
        AstmLink(HOST, max_frame_bytes=4096, max_text_per_frame=5000)
    # imitating an oversize sender (Mindray BS-240) is allowed within the frame bound
    assert AstmLink(HOST, max_text_per_frame=3000).pending_outbound == 0
    with pytest.raises(ValueError, match="max_retries"):
        AstmLink(HOST, timers=LinkTimers(max_retries=0))
