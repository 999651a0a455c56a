"""Instrument code -> lab code mapping, applied to every result before it is stored.

An unmapped code is not an error: the result is stored with an empty ``lis_code`` and the
GUI highlights it, so the operator can fix the mapping and replay.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from benchlink.core.model import Result


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
        numeric = result.numeric_value
        units = result.units
        if entry.factor is not None and numeric is not None:
            numeric = numeric * entry.factor
            units = entry.units or units
        return replace(
            result,
            lis_code=entry.lis_code,
            test_name=entry.name or result.test_name,
            numeric_value=numeric,
            units=units,
        )
