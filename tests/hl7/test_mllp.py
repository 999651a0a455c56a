from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchlink.protocols.hl7.errors import MllpError
from benchlink.protocols.hl7.mllp import (
    REASON_NOISE,
    REASON_RESTARTED,
    REASON_TOO_LARGE,
    REASON_TOO_LARGE_REST,
    MllpEvent,
    MllpFramer,
    MllpMessage,
    MllpNoise,
    MllpOverflow,
    frame,
)

MSG_A = b"MSH|^~\\&|A|B|||20240101||ORU^R01|1|P|2.5.1\rPID|1||42\r"
MSG_B = b"MSH|^~\\&|A|B|||20240101||ORU^R01|2|P|2.5.1\rOBX|1|NM|GLU||5.5\r"


def feed_chunks(framer: MllpFramer, data: bytes, cuts: list[int]) -> list[MllpEvent]:
    events: list[MllpEvent] = []
    previous = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        events += framer.feed(data[previous:cut])
        previous = cut
    return events


def messages(events: list[MllpEvent]) -> list[bytes]:
    return [e.payload for e in events if isinstance(e, MllpMessage)]


def test_frame_wraps_payload() -> None:
    assert frame(MSG_A) == b"\x0b" + MSG_A + b"\x1c\r"


def test_frame_refuses_block_characters() -> None:
    with pytest.raises(MllpError, match="0x0B or 0x1C"):
        frame(b"MSH|\x1c|")


def test_two_messages_in_one_read() -> None:
    events = MllpFramer().feed(frame(MSG_A) + frame(MSG_B))
    assert events == [MllpMessage(MSG_A), MllpMessage(MSG_B)]


@settings(max_examples=200, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=len(frame(MSG_A) + frame(MSG_B))), max_size=12))
def test_any_split_point_yields_the_same_messages(cuts: list[int]) -> None:
    stream = frame(MSG_A) + frame(MSG_B)
    events = feed_chunks(MllpFramer(), stream, cuts)
    assert messages(events) == [MSG_A, MSG_B]
    assert not [e for e in events if not isinstance(e, MllpMessage)]


def test_byte_by_byte_including_fs_cr_split() -> None:
    framer = MllpFramer()
    events: list[MllpEvent] = []
    for b in frame(MSG_A) + frame(MSG_B):
        events += framer.feed(bytes([b]))
    assert messages(events) == [MSG_A, MSG_B]
    assert all(isinstance(e, MllpMessage) for e in events)


def test_missing_cr_after_fs_is_tolerated() -> None:
    events = MllpFramer().feed(b"\x0b" + MSG_A + b"\x1c" + b"\x0b" + MSG_B + b"\x1c")
    assert messages(events) == [MSG_A, MSG_B]


def test_noise_outside_blocks_is_reported_not_mixed_in() -> None:
    events = MllpFramer().feed(b"garbage\n" + frame(MSG_A) + b"\n\x1c\n")
    assert events == [MllpNoise(b"garbage\n"), MllpMessage(MSG_A), MllpNoise(b"\n\x1c\n")]


def test_noise_is_bounded_and_counted() -> None:
    framer = MllpFramer(max_noise_bytes=10)
    events = framer.feed(b"x" * 25) + framer.feed(b"y" * 5)
    kept = b"".join(e.data for e in events if isinstance(e, MllpNoise))
    dropped = sum(e.discarded for e in events if isinstance(e, MllpOverflow))
    assert kept == b"x" * 10
    assert dropped == 20
    assert all(e.reason == REASON_NOISE for e in events if isinstance(e, MllpOverflow))
    # A block resets the noise allowance.
    events = framer.feed(frame(MSG_A) + b"z" * 3)
    assert events == [MllpMessage(MSG_A), MllpNoise(b"zzz")]


def test_oversized_message_is_discarded_and_buffer_bounded() -> None:
    framer = MllpFramer(max_message_bytes=100)
    events = framer.feed(b"\x0b" + b"a" * 80)
    assert events == [] and framer.buffered == 80
    events = framer.feed(b"b" * 50)
    assert events == [MllpOverflow(80, REASON_TOO_LARGE)]
    assert framer.buffered == 0
    for _ in range(100):  # a sender that never stops: memory stays flat
        assert framer.feed(b"c" * 1000) == []
        assert framer.buffered == 0
    events = framer.feed(b"d\x1c\r" + frame(MSG_A))
    assert events == [MllpOverflow(50 + 100_000 + 1, REASON_TOO_LARGE_REST), MllpMessage(MSG_A)]


def test_message_of_exactly_the_limit_is_accepted() -> None:
    payload = b"M" * 64
    assert MllpFramer(max_message_bytes=64).feed(frame(payload)) == [MllpMessage(payload)]


def test_new_start_block_abandons_unfinished_message() -> None:
    events = MllpFramer().feed(b"\x0bMSH|partial" + frame(MSG_A))
    assert events == [MllpOverflow(len(b"MSH|partial"), REASON_RESTARTED), MllpMessage(MSG_A)]


def test_invalid_limits_rejected() -> None:
    with pytest.raises(ValueError):
        MllpFramer(max_message_bytes=0)
