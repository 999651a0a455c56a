"""Simulator profile: an XN-550 sending a CBC the way it does (one big frame, padded ids)."""

from __future__ import annotations

import random

from benchlink.drivers.simulation import GeneratedProfile, stamp, value_in

XN_TESTS = (
    ("WBC", "10*3/uL", 4.0, 10.0, 2), ("RBC", "10*6/uL", 3.8, 5.8, 2), ("HGB", "g/dL", 12.0, 16.0, 1),
    ("HCT", "%", 36.0, 46.0, 1), ("PLT", "10*3/uL", 150.0, 400.0, 0), ("NEUT%", "%", 40.0, 75.0, 1),
)


def xn_astm(index: int, rng: random.Random) -> tuple[str, str]:
    sample = str(index)
    when = stamp(index)
    tests = "\\".join(f"^^^^{c}" for c, *_ in XN_TESTS)
    lines = [
        "H|\\^&|||    XN-550^00-24^22723^^^^BD634545||||||||E1394-97",
        "P|1",
        f"O|1||^^{sample:>22}^M|{tests}|||||||N||||||||||||||F",
    ]
    for n, (code, units, low, high, decimals) in enumerate(XN_TESTS, start=1):
        value, flag = value_in(rng, low, high, decimals)
        lines.append(f"R|{n}|^^^^{code}^1|{value}|{units}||{flag}||F||||{when}")
    lines.append("L|1|N")
    return sample, "\r".join(lines) + "\r"


PROFILES = (GeneratedProfile("sysmex-xn", "astm", xn_astm, tolerances=("oversize_frames",),
                             max_text_per_frame=4000, description="Sysmex XN-550 CBC over ASTM"),)
