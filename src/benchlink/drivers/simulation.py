"""Simulator profiles: deterministic messages shaped like one analyzer's.

A vendor plugin builds a :class:`GeneratedProfile` from a function ``build(index, rng)``
returning a sample label and the message text; the profile makes it reproducible per
``(index, seed)`` and encodes it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

Builder = Callable[[int, random.Random], tuple[str, str]]

#: (code, name, units, low, high, decimals) of a small chemistry panel.
CHEMISTRY = (
    ("GLU", "Glucose", "mmol/L", 3.9, 6.1, 1),
    ("CREA", "Creatinine", "umol/L", 62.0, 106.0, 0),
    ("ALT", "Alanine aminotransferase", "U/L", 0.0, 41.0, 0),
    ("CHOL", "Cholesterol", "mmol/L", 0.0, 5.2, 2),
)
BASE_TIME = datetime(2026, 1, 5, 8, 0, 0)


@dataclass(frozen=True, slots=True)
class GeneratedProfile:
    name: str
    protocol: str
    build: Builder
    tolerances: tuple[str, ...] = ()
    max_text_per_frame: int = 240
    description: str = ""
    encoding: str = "latin-1"

    def message(self, index: int, seed: int | None) -> tuple[str, bytes]:
        rng = random.Random(f"{self.name}:{seed}:{index}")
        label, text = self.build(index, rng)
        return label, text.encode(self.encoding)


def value_in(rng: random.Random, low: float, high: float, decimals: int) -> tuple[str, str]:
    """A value around a reference range and its flag (``L``/``H``/``N``)."""
    span = (high - low) or 1.0
    value = rng.uniform(low - span * 0.15, high + span * 0.15)
    flag = "H" if value > high else "L" if value < low else "N"
    return f"{value:.{decimals}f}", flag


def stamp(index: int, fmt: str = "%Y%m%d%H%M%S") -> str:
    return (BASE_TIME + timedelta(minutes=index)).strftime(fmt)


def generic_astm(index: int, rng: random.Random) -> tuple[str, str]:
    sample = f"S{index:06d}"
    when = stamp(index)
    lines = [f"H|\\^&|||BENCHLINK-SIM^1.0|||||||P|LIS2-A2|{when}", "P|1",
             f"O|1|{sample}||^^^GLU|R||||||N||||||||||||||F"]
    for seq, (code, _name, units, low, high, decimals) in enumerate(CHEMISTRY, start=1):
        value, flag = value_in(rng, low, high, decimals)
        lines.append(f"R|{seq}|^^^{code}|{value}|{units}|{low:g} to {high:g}|{flag}||F||||{when}")
    lines.append("L|1|N")
    return sample, "\r".join(lines) + "\r"


def generic_hl7(index: int, rng: random.Random) -> tuple[str, str]:
    sample = f"S{index:06d}"
    when = stamp(index)
    lines = [f"MSH|^~\\&|BENCHLINK-SIM|LAB|||{when}||ORU^R01|SIM{index}|P|2.5.1", "PID|1",
             f"OBR|1|{sample}||PANEL|||{when}"]
    for seq, (code, name, units, low, high, decimals) in enumerate(CHEMISTRY, start=1):
        value, flag = value_in(rng, low, high, decimals)
        lines.append(f"OBX|{seq}|NM|{code}^{name}||{value}|{units}|{low:g}-{high:g}|{flag}|||F|||{when}")
    return sample, "\r".join(lines) + "\r"


GENERIC_PROFILES = (
    GeneratedProfile("generic-astm", "astm", generic_astm, description="a LIS02-A2 chemistry analyzer"),
    GeneratedProfile("generic-hl7", "hl7", generic_hl7, description="an HL7 v2.5.1 ORU^R01 sender"),
)
