"""Replay a capture through a driver, as the engine would, with no device and no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchlink.core.driver import DecodeError, Driver
from benchlink.core.model import Decoded, Result
from benchlink.protocols.astm.capture import read_capture
from benchlink.protocols.hl7.capture import read_hl7_capture


@dataclass
class ReplayReport:
    """What one capture gave: every message, what decoded, and what did not (with why)."""

    messages: list[bytes] = field(default_factory=list)
    decoded: list[Decoded] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def results(self) -> list[Result]:
        return [r for d in self.decoded for r in d.results]

    def by_sample(self) -> dict[str, list[Result]]:
        out: dict[str, list[Result]] = {}
        for r in self.results:
            out.setdefault(r.sample_id, []).append(r)
        return out


def split_capture(data: bytes, protocol: str) -> tuple[list[bytes], list[str]]:
    """Messages of a capture file in ``protocol`` ("astm": framed, unframed or tokenized logs)."""
    if protocol == "hl7":
        return read_hl7_capture(data), []
    capture = read_capture(data)
    return list(capture.messages), list(capture.notes)


def replay_capture(driver: Driver, capture: bytes | Path, *, encoding: str | None = None) -> ReplayReport:
    """Decode every message of ``capture`` with ``driver``; decode errors are collected, not raised."""
    data = capture.read_bytes() if isinstance(capture, Path) else bytes(capture)
    messages, notes = split_capture(data, driver.info.protocol)
    report = ReplayReport(messages=messages, notes=notes)
    chosen = driver.info.encoding if encoding is None else encoding
    for index, message in enumerate(messages, start=1):
        try:
            report.decoded.append(driver.decode(message, encoding=chosen or ""))
        except DecodeError as exc:
            report.failures.append((index, str(exc)))
    return report
