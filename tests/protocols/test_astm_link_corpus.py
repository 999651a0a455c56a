"""Real analyzer captures fed through a receiving AstmLink.

Files stored without the establishment phase (SENAITE keeps only the frames) get an ENQ in
front; files without a closing EOT get one at the end. The link must ACK every frame, deliver
one MessageReceived per ETX frame, and reject nothing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from benchlink.protocols.astm.constants import ACK, ENQ, EOT, NAK
from benchlink.protocols.astm.frames import parse_frame
from benchlink.protocols.astm.link import (
    AstmLink,
    FrameRejected,
    LinkEvent,
    LinkTolerances,
    MessageReceived,
    Role,
    TransferEnded,
)

CORPUS = Path(os.environ.get("BENCHLINK_CORPUS", Path(__file__).resolve().parents[3] / "shared" / "corpus"))
FRAMED = CORPUS / "astm-framed"

STRICT = LinkTolerances()
LINE_ENDS = LinkTolerances(cr_only_line_ends=True)
LONG = LinkTolerances(oversize_frames=True)
LONG_LINE_ENDS = LinkTolerances(cr_only_line_ends=True, oversize_frames=True)

#: file -> (tolerances, frames, ETX-terminated messages)
CAPTURES: dict[str, tuple[LinkTolerances, int, int]] = {
    "abbott-afinion2__hba1c-single-frame.astm": (LINE_ENDS, 1, 1),
    "cepheid-genexpert__mtb-rif-84-results.astm": (LONG_LINE_ENDS, 1, 1),
    "erba-xl1000__wire-capture-backtick-repeat-delim.astm": (STRICT, 1, 1),
    "horiba-pentra-xlr__cbc-diff-alarms.astm": (LINE_ENDS, 28, 28),
    "horiba-yumizen-h500__wire-capture-enq-etb-histograms.astm": (STRICT, 125, 36),
    "lis-to-vitros3600__host-order-download-single-frame.astm": (STRICT, 1, 1),
    "ortho-vitros3600__wire-capture-host-query.astm": (STRICT, 3, 3),
    "ortho-vitros3600__wire-capture-results-M-records.astm": (STRICT, 16, 16),
    "ortho-vitros3600__wire-capture-results-censored-values.astm": (STRICT, 9, 9),
    "roche-cobas-c111__control-etb-per-record.astm": (LINE_ENDS, 7, 1),
    "roche-cobas-c311__multi-test-order-comments.astm": (LONG, 1, 1),
    "siemens-dca-vantage__alb-crt-ratio.astm": (LONG_LINE_ENDS, 1, 1),
    "sysmex-xn550__cbc-patient.astm": (LONG_LINE_ENDS, 1, 1),
    "sysmex-xp100__cbc-padded-values.astm": (LONG_LINE_ENDS, 1, 1),
}
# Not here: horiba-yumizen-h500__control-histograms-multiframe.astm, whose frames SENAITE
# re-joined (numbers run 1 2 3 4 5 1 1 1 4 ...), so it is no longer a valid wire sequence;
# its frames are checked one by one in test_astm_frames.py.

_FRAME_RE = re.compile(rb"\x02[^\x02\x03\x17]*[\x03\x17](?:[0-9A-Fa-f]{2})?(?:\r\n|\r|\n)?")


def _capture(name: str) -> bytes:
    path = FRAMED / name
    if not path.is_file():
        pytest.skip(f"corpus file {path} not present (set BENCHLINK_CORPUS to the shared corpus folder)")
    return path.read_bytes()


def _on_the_wire(data: bytes) -> bytes:
    if not data.startswith(ENQ):
        data = ENQ + data
    if not data.rstrip(b"\r\n").endswith(EOT):
        data += EOT
    return data


def _receive(link: AstmLink, data: bytes, chunk: int) -> tuple[list[LinkEvent], bytes]:
    """Feed ``data`` in ``chunk``-byte reads, committing every message at once."""
    events: list[LinkEvent] = []
    replies = bytearray()
    now = 0.0

    def settle(new: list[LinkEvent]) -> None:
        while new:
            events.extend(new)
            replies.extend(link.data_to_send())
            if not any(isinstance(e, MessageReceived) for e in new):
                return
            link.accept_message(now)
            replies.extend(link.data_to_send())
            new = link.handle_timer(now)

    for start in range(0, len(data), chunk):
        now += 0.01
        settle(link.receive_data(data[start : start + chunk], now))
    return events, bytes(replies)


@pytest.mark.parametrize("chunk", [1, 7, 1 << 20], ids=["bytewise", "7-byte-reads", "whole"])
@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_capture_is_received_frame_by_frame(name: str, chunk: int) -> None:
    raw = _capture(name)
    tolerances, frame_count, message_count = CAPTURES[name]
    link = AstmLink(Role.HOST, tolerances=tolerances)
    events, replies = _receive(link, _on_the_wire(raw), chunk)

    assert [e for e in events if isinstance(e, FrameRejected)] == []
    messages = [e for e in events if isinstance(e, MessageReceived)]
    assert len(messages) == message_count
    assert sum(m.frames for m in messages) == frame_count
    frames = [parse_frame(f, tolerances) for f in _FRAME_RE.findall(raw)]
    assert b"".join(m.text for m in messages) == b"".join(f.text for f in frames)
    assert b"".join(m.raw for m in messages) == b"".join(f.raw for f in frames)
    assert replies == ACK * (1 + frame_count)  # the ENQ and every frame, no NAK
    assert events[-1] == TransferEnded("eot")


def test_capture_needing_a_tolerance_is_refused_by_a_strict_link() -> None:
    raw = _capture("sysmex-xn550__cbc-patient.astm")
    events, replies = _receive(AstmLink(Role.HOST), _on_the_wire(raw), 1 << 20)
    assert not any(isinstance(e, MessageReceived) for e in events)
    rejected = [e for e in events if isinstance(e, FrameRejected)]
    assert len(rejected) == 1 and "oversize_frames" in rejected[0].reason
    assert replies == ACK + NAK


@pytest.mark.parametrize(
    "name", ["arkray-spotchem-el-se1520__nonastm-raw.astm", "biomerieux-minividas__nonastm-raw.astm"]
)
def test_non_astm_capture_yields_no_message_and_keeps_its_bytes(name: str) -> None:
    raw = _capture(name)
    tolerant = LinkTolerances(
        cr_only_line_ends=True, oversize_frames=True, missing_checksum=True, missing_frame_number=True
    )
    link = AstmLink(Role.HOST, tolerances=tolerant)
    events, _ = _receive(link, _on_the_wire(raw), 1 << 20)
    assert not any(isinstance(e, MessageReceived) for e in events)
    kept = b"".join(getattr(e, "raw", b"") + getattr(e, "data", b"") for e in events)
    assert raw.strip(b"\n")[:40] in kept  # rejected or discarded, never silently
