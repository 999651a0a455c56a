"""Instrument code -> lab code mapping, applied to every result before it is stored.

An unmapped code is not an error: the result is stored with an empty ``lis_code`` and the
GUI highlights it, so the operator can fix the mapping and replay.

A factor converts the result into the lab's unit, and everything that carries the number follows:
the value text (which the HL7 export sends as OBX-5), the number, the unit and a numeric reference
range. Converting only the number once sent "3.9 mEq/L" for a potassium of 7.8 mEq/L. The value
exactly as the analyzer sent it stays in the stored raw message.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from benchlink.core.model import Result
from benchlink.core.values import scale_range, scale_value


@dataclass(frozen=True, slots=True)
class MappingEntry:
    device: str  # "*" applies to every device
    instrument_code: str
    lis_code: str
    name: str = ""
    units: str = ""
    factor: float | None = None


class MappingTable:
    def __init__(self, entries: list[MappingEntry] | None = None) -> None:
        self._by_key: dict[tuple[str, str], MappingEntry] = {}
        for entry in entries or []:
            self.add(entry)

    def add(self, entry: MappingEntry) -> None:
        self._by_key[(entry.device, entry.instrument_code)] = entry

    def lookup(self, device: str, code: str) -> MappingEntry | None:
        return self._by_key.get((device, code)) or self._by_key.get(("*", code))

    def __len__(self) -> int:
        return len(self._by_key)

    def apply(self, device: str, result: Result) -> Result:
        entry = self.lookup(device, result.instrument_code)
        if entry is None:
            return result
        mapped = replace(result, lis_code=entry.lis_code, test_name=entry.name or result.test_name)
        if entry.factor is None or result.numeric_value is None:
            return mapped
        return _converted(mapped, entry.factor, entry.units)


def _converted(result: Result, factor: float, units: str) -> Result:
    scaled = scale_value(result.value, factor) if factor != 1 else (result.value, result.numeric_value)
    if scaled is None:  # a number was parsed, but not from text this module can rewrite: leave it whole
        return result
    text, number = scaled
    reference_range = result.reference_range
    if factor != 1 and reference_range:
        converted_range = scale_range(reference_range, factor)
        # A numeric range left in the old unit beside the new one would mislead; a text range
        # ("negative") has no unit and stays.
        if converted_range is not None:
            reference_range = converted_range
        elif any(c.isdigit() for c in reference_range):
            reference_range = ""
    return replace(result, value=text, numeric_value=number, units=units or result.units,
                   reference_range=reference_range)
