"""Link-layer cost per frame of the E1381 state machine (receive and send), pure Python.

Run: .venv/bin/python bench/bench_astm_link.py [--frames N]
Prints one table; stays well under 30 s on the reference 2-core machine.
"""

from __future__ import annotations

import argparse
import time

from benchlink.protocols.astm.constants import ACK, ENQ, EOT
from benchlink.protocols.astm.frames import build_frames, checksum, parse_frame
from benchlink.protocols.astm.link import AstmLink, LinkTolerances, MessageReceived, Role
from benchlink.protocols.astm.linkpair import LinkPair

RECORD = b"R|%d|^^^WBC^804-5^1|7.45|10*3/uL|4.00 - 10.00^REFERENCE_RANGE|N||F||||20250701120000\r"


def message(records: int) -> bytes:
    body = b"".join(RECORD % i for i in range(1, records + 1))
    return b"H|\\^&|||Bench^1.0|||||||P|LIS2-A2|20250701120000\rP|1\rO|1|S1||^^^DIF\r" + body + b"L|1|N\r"


def receive(text: bytes, messages: int, chunk: int | None, tolerances: LinkTolerances) -> tuple[int, float]:
    frames = build_frames(text)
    wire = ENQ + b"".join(frames)
    pieces = [wire] if chunk is None else [wire[i : i + chunk] for i in range(0, len(wire), chunk)]
    link = AstmLink(Role.HOST, tolerances=tolerances)
    start = time.perf_counter()
    for n in range(messages):
        now = float(n)
        for piece in pieces:
            for event in link.receive_data(piece, now):
                if isinstance(event, MessageReceived):
                    link.accept_message(now)
        link.receive_data(EOT, now)
        link.data_to_send()
    return len(frames) * messages, time.perf_counter() - start


def send(text: bytes, messages: int) -> tuple[int, float]:
    """Sender side alone: the peer's ACKs are fed back by hand, no second link."""
    link = AstmLink(Role.INSTRUMENT)
    frames = 0
    start = time.perf_counter()
    for n in range(messages):
        now = float(n)
        link.send_message(text, now)
        link.data_to_send()  # ENQ
        out = b"x"
        while out:
            link.receive_data(ACK, now)
            out = link.data_to_send()
            frames += out[:1] == b"\x02"
    return frames, time.perf_counter() - start


def pair(text: bytes, messages: int) -> tuple[int, float]:
    lp = LinkPair(latency=0.0)
    start = time.perf_counter()
    for _ in range(messages):
        lp.send(Role.INSTRUMENT, text)
        lp.run()
    return len(build_frames(text)) * messages, time.perf_counter() - start


def parse_only(text: bytes, messages: int) -> tuple[int, float]:
    frames = build_frames(text)
    start = time.perf_counter()
    for _ in range(messages):
        for raw in frames:
            parse_frame(raw)
    return len(frames) * messages, time.perf_counter() - start


def checksums(text: bytes, messages: int, reference: bool) -> tuple[int, float]:
    """Checksum alone, ours against python-astm's ``make_checksum`` (astm-2025) if installed."""
    bodies = [raw[1:-4] for raw in build_frames(text)]
    if reference:
        try:
            from astm.codec import make_checksum
        except ImportError:
            return 0, 0.0
        compute = make_checksum
    else:
        compute = checksum
    start = time.perf_counter()
    for _ in range(messages):
        for body in bodies:
            compute(body)
    return len(bodies) * messages, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=20_000, help="approximate frames per row")
    args = parser.parse_args()
    text = message(40)  # ~3.5 kB, 15 frames of <=240 text bytes
    per_message = len(build_frames(text))
    messages = max(1, args.frames // per_message)
    big = LinkTolerances(oversize_frames=True)
    rows = [
        ("receive, whole message per read", *receive(text, messages, None, LinkTolerances())),
        ("receive, 64-byte reads", *receive(text, messages, 64, LinkTolerances())),
        ("receive, 1-byte reads", *receive(text, max(1, messages // 20), 1, LinkTolerances())),
        ("receive, oversize tolerance", *receive(text, messages, None, big)),
        ("send (ACKs fed back)", *send(text, messages)),
        ("LinkPair round trip (both ends)", *pair(text, max(1, messages // 4))),
        ("parse_frame alone", *parse_only(text, messages)),
        ("checksum alone (benchlink)", *checksums(text, messages, reference=False)),
        ("checksum alone (python-astm ref)", *checksums(text, messages, reference=True)),
    ]
    print(f"E1381 link layer, {len(text)} B message in {per_message} frames of <=240 text bytes")
    print(f"{'path':<34}{'frames':>9}{'seconds':>10}{'us/frame':>11}{'MB/s':>8}")
    for name, frames, seconds in rows:
        if not frames:
            print(f"{name:<34}{'(not installed)':>38}")
            continue
        mbps = frames * 247 / seconds / 1e6 if seconds else float("inf")
        print(f"{name:<34}{frames:>9}{seconds:>10.3f}{seconds / frames * 1e6:>11.2f}{mbps:>8.1f}")


if __name__ == "__main__":
    main()
