"""Simulator profiles: a cobas c311 (one long frame) and a c111 (a frame per record)."""

from __future__ import annotations

import random

from benchlink.drivers.simulation import GeneratedProfile, stamp, value_in

C311_TESTS = (("685", "U/l", 0.0, 41.0, 1), ("687", "U/l", 0.0, 40.0, 1), ("712", "umol/l", 5.0, 21.0, 1),
              ("717", "mmol/l", 3.9, 6.1, 2))
C111_TESTS = (("413", "g/L", 35.0, 52.0, 2),)


def c311(index: int, rng: random.Random) -> tuple[str, str]:
    sample = f"CL-PL-26-{index:04d}"
    when = stamp(index)
    tests = "\\".join(f"^^^{c}/" for c, *_ in C311_TESTS)
    lines = ["H|\\^&|||c311^1|||||host|RSUPL^REAL|P|1", "P|1",
             f"O|1|{10000 + index}^{sample:<22}^1^^004|R1|{tests}|R||||||N||^^||SC|||labo||||{when}|||F"]
    for n, (code, units, low, high, decimals) in enumerate(C311_TESTS, start=1):
        value, flag = value_in(rng, low, high, decimals)
        lines += [f"R|{n}|^^^{code}/|{value}|{units}||{flag}||F|||||P1", "C|1|I|0|I"]
    lines.append("L|1|N")
    return sample, "\r".join(lines) + "\r"


def c111(index: int, rng: random.Random) -> tuple[str, str]:
    sample = f"T{index:02d} {index:05d}GA"
    when = stamp(index)
    lines = [f"H|\\^&|||c111^Roche^c111^4.2.2.1730^1^13147|||||host|RSUPL^REAL|P|1|{when}", "P|1||",
             f"O|1||{sample}^^6||S||||||N|||||||||||{when}|||F"]
    for n, (code, units, low, high, decimals) in enumerate(C111_TESTS, start=1):
        value, flag = value_in(rng, low, high, decimals)
        lines += [f"R|{n}|^^^{code}|{value}|{units}||{flag}||F||$SYS$||{when}", "C|1|I||I"]
    lines.append("L|1|N")
    return sample, "\r".join(lines) + "\r"


PROFILES = (
    GeneratedProfile("roche-c311", "astm", c311, tolerances=("oversize_frames",), max_text_per_frame=1024,
                     description="Roche cobas c311 over ASTM"),
    GeneratedProfile("roche-c111", "astm", c111, description="Roche cobas c111 over ASTM"),
)
