"""A result processor: cobas units in the lab's usual spelling (``U/l`` -> ``U/L``).

Only the spelling changes (litre as ``L``, ``umol`` as ``µmol``); values are never converted
here, so nothing a lab reports can change by more than its unit's case.
"""

from __future__ import annotations

import re
from dataclasses import replace

from benchlink.core.model import Result

_COBAS = re.compile(r"(^|\^)c(311|111|501|502|503|701|702)(\^|$)", re.IGNORECASE)
_LITRE = re.compile(r"/(d?)l$")


class CobasUnitSpelling:
    name = "roche-unit-spelling"

    def process(self, device: str, result: Result) -> Result:
        if not result.units or not _COBAS.search(result.instrument):
            return result
        units = _LITRE.sub(lambda m: f"/{m.group(1)}L", result.units)
        if units.startswith("umol"):
            units = "µmol" + units[4:]
        return result if units == result.units else replace(result, units=units)
