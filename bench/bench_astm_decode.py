"""Decode throughput: benchlink's ASTM record decoder against python-astm, same messages, one run.

python-astm's ``codec.decode_message`` takes one framed message (STX FN text ETX CS CR LF) and
verifies its checksum, so it gets the framed form; ours gets the record text (the link layer
has already removed framing), and a second row charges ours for reading the same framed
bytes through ``read_capture`` too, so the comparison is fair either way.

Run: ``.venv/bin/python bench/bench_astm_decode.py [--seconds 0.5]``. Needs ``astm-2025``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchlink.protocols.astm.capture import read_capture
from benchlink.protocols.astm.records import decode_message, encode_records

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("BENCHLINK_CORPUS", REPO.parent / "shared" / "corpus"))


def message_34_records() -> bytes:
    """H, P, O, 30 R, L: the shape of a chemistry panel."""
    rows: list[list[object]] = [
        ["H", None, None, None, ["Analyzer", "1.0", "SN123"], None, None, None, None, "LIS", None, "P",
         "LIS2-A2", "20240101120000"],
        ["P", "1", "PID1", "LAB1", "", ["Doe", "John"], "", "19800101", "M"],
        ["O", "1", "SID1", "", [["", "", "", f"T{i}"] for i in range(30)], "R", "20240101120000"],
    ]
    for i in range(30):
        rows.append(["R", str(i + 1), ["", "", "", f"T{i}"], f"{i * 1.5:.2f}", "mg/dL", "3.5 to 5.1", "N", "",
                     "F", "", "OP", "20240101120000", "20240101120500", "INST1"])
    rows.append(["L", "1", "N"])
    return encode_records(rows)  # type: ignore[arg-type]


def frame(text: bytes) -> bytes:
    body = b"1" + text + b"\x03"
    return b"\x02" + body + f"{sum(body) & 0xFF:02X}".encode() + b"\r\n"


def corpus_messages() -> list[bytes]:
    texts: list[bytes] = []
    for folder in ("astm", "astm-framed"):
        path = CORPUS / folder
        if not path.is_dir():
            continue
        for file in sorted(path.iterdir()):
            if "nonastm" in file.name:
                continue
            texts.extend(read_capture(file.read_bytes()).messages)
    return texts


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second, timing batches until ``seconds`` have passed (best of the batches)."""
    fn()
    batch = 1
    while True:
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        spent = time.perf_counter() - start
        if spent > 0.05:
            break
        batch *= 4
    best = spent / batch
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        best = min(best, (time.perf_counter() - start) / batch)
    return 1.0 / best


def measure(codec: Any, texts: list[bytes], seconds: float) -> list[tuple[str, float, int, int, float]]:
    """Rows of (decoder, calls/s over all ``texts``, records, bytes, python-astm calls/s)."""
    framed = [frame(t) for t in texts]
    n_records = sum(len(decode_message(t).records) for t in texts)
    n_bytes = sum(len(t) for t in texts)

    def ours() -> None:
        for t in texts:
            decode_message(t)

    def ours_framed() -> None:
        for f in framed:
            for m in read_capture(f).messages:
                decode_message(m)

    def theirs() -> None:
        for f in framed:
            codec.decode_message(f, "latin-1")

    base = rate(theirs, seconds)
    return [
        (label, calls, n_records, n_bytes, base)
        for label, calls in (
            ("python-astm codec.decode_message", base),
            ("benchlink decode_message", rate(ours, seconds)),
            ("benchlink read_capture+decode_message", rate(ours_framed, seconds)),
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="timing budget per row")
    args = parser.parse_args()
    try:
        from astm import codec
    except ImportError:
        print("python-astm (astm-2025) is not installed: pip install astm-2025", file=sys.stderr)
        return 2

    workloads: list[tuple[str, list[bytes]]] = [("34-record message", [message_34_records()])]
    corpus = corpus_messages()
    if corpus:
        workloads.append((f"corpus ({len(corpus)} messages)", corpus))
    else:
        print(f"(corpus not found at {CORPUS}; set BENCHLINK_CORPUS to include it)")

    header = (f"{'workload':<26} {'decoder':<36} {'records/s':>12} {'MB/s':>8} {'vs python-astm':>15}")
    print(header)
    print("-" * len(header))
    for name, texts in workloads:
        for label, calls, n_records, n_bytes, base in measure(codec, texts, args.seconds):
            print(f"{name:<26} {label:<36} {calls * n_records:>12,.0f} {calls * n_bytes / 1e6:>8.1f} "
                  f"{calls / base:>14.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
