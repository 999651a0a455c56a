"""What ``benchlink simulate --profile acme-ac100`` sends: messages shaped like the AC-100's."""

from __future__ import annotations

import random

from benchlink.drivers.simulation import GeneratedProfile, stamp, value_in

TESTS = (("GLU", "mmol/L", 3.9, 6.1, 1), ("CREA", "umol/L", 62.0, 106.0, 0))


def ac100(index: int, rng: random.Random) -> tuple[str, str]:
    barcode = f"AC{index:06d}"
    when = stamp(index)
    lines = ["H|\\^&|||AC-100^2.0|||||||P|LIS2-A2|" + when, "P|1", f"O|1|{index}|{barcode}|^^^GLU\\^^^CREA|R"]
    for n, (code, units, low, high, decimals) in enumerate(TESTS, start=1):
        value, flag = value_in(rng, low, high, decimals)
        lines.append(f"R|{n}|^^^{code}^1|{value}|{units}|{low:g} to {high:g}|{flag}||F||||{when}")
    lines.append("L|1|N")
    return barcode, "\r".join(lines) + "\r"


PROFILES = (GeneratedProfile("acme-ac100", "astm", ac100, tolerances=("oversize_frames",), max_text_per_frame=2000,
                             description="ACME AC-100 over ASTM"),)
