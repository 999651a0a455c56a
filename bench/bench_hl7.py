"""Inbound HL7 parse rate: benchlink vs python-hl7 vs hl7apy on the same messages.

Run: ``.venv/bin/python bench/bench_hl7.py``. Prints a table (segments/s and ratio to
python-hl7). Uses the shared corpus when present (``BENCHLINK_CORPUS``), plus a synthetic
Mindray-style CBC message, so it also runs without the corpus.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from hl7apy.parser import parse_message as hl7apy_parse

import hl7
from benchlink.drivers.hl7_results import observations
from benchlink.protocols.hl7.capture import read_hl7_capture
from benchlink.protocols.hl7.message import decode_text, normalise_segments, parse_message

ROOT = Path(__file__).resolve().parents[1]


def synthetic() -> bytes:
    lines = [
        "MSH|^~\\&|BC-5380|Mindray|||20240301101500||ORU^R01|77|P|2.3.1||||||UNICODE",
        "PID|1||PAT001^^^^MR||Muster^Hans||19800101000000|M",
        "PV1|1",
        "OBR|1||S-1001|00001^Automated Count^99MRC||20240301101000|20240301101200",
    ]
    lines += [f"OBX|{i}|NM|{6690 + i}-2^T{i}^LN||{i}.25|10*9/L|4.00-10.00|N|||F" for i in range(1, 41)]
    return ("\r".join(lines) + "\r").encode()


def load_messages() -> list[bytes]:
    messages = [synthetic()]
    corpus = Path(os.environ.get("BENCHLINK_CORPUS", str(ROOT.parent / "shared" / "corpus"))) / "hl7"
    if corpus.is_dir():
        for path in sorted(corpus.iterdir()):
            messages += read_hl7_capture(path.read_bytes())
    return messages


def rate(fn: Callable[[], object], segments: int, budget: float) -> float:
    fn()  # warm up
    loops = 0
    start = time.perf_counter()
    while True:
        fn()
        loops += 1
        elapsed = time.perf_counter() - start
        if elapsed >= budget:
            return loops * segments / elapsed


def main() -> None:
    messages = load_messages()
    texts = [decode_text(normalise_segments(m)) for m in messages]
    segments = sum(t.count("\r") for t in texts)

    def ours() -> None:
        for m in messages:
            parse_message(m)

    def ours_full() -> None:
        for m in messages:
            observations(parse_message(m))

    def python_hl7() -> None:
        for t in texts:
            hl7.parse(t)

    def hl7apy_run() -> None:
        for t in texts:
            hl7apy_parse(t)

    rows = [
        ("benchlink parse_message", rate(ours, segments, 2.0)),
        ("benchlink parse + observations", rate(ours_full, segments, 2.0)),
        ("python-hl7 hl7.parse", rate(python_hl7, segments, 2.0)),
        ("hl7apy parse_message", rate(hl7apy_run, segments, 3.0)),
    ]
    reference = rows[2][1]
    print(f"{len(messages)} messages, {segments} segments per pass")
    print(f"{'parser':34} {'segments/s':>14} {'vs python-hl7':>14}")
    for name, value in rows:
        print(f"{name:34} {value:14,.0f} {value / reference:13.1f}x")


if __name__ == "__main__":
    main()
