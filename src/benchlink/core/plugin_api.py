"""The value types plugin hooks return (besides drivers, which live in ``core.driver``).

They are small and frozen so that a plugin hands the application *descriptions* of what it
provides, never live objects wired into internals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from benchlink.core.model import Result


@dataclass(frozen=True, slots=True)
class CodecInfo:
    """A wire codec: how to recognise a capture of its protocol and cut it into messages.

    ``sniff`` answers "is this capture mine?" cheaply (it sees at most the first 64 KiB);
    ``split_capture`` returns message bytes; ``sender`` returns the header text of one
    message that drivers' ``sender_patterns`` are matched against.
    """

    name: str
    protocol: str
    sniff: Callable[[bytes], bool]
    split_capture: Callable[[bytes], list[bytes]]
    sender: Callable[[bytes], str]
    description: str = ""


@dataclass(frozen=True, slots=True)
class ExporterInfo:
    """An offline export format: ``write(rows, path)`` writes a file and returns a count."""

    name: str
    extension: str
    write: Callable[..., int]
    description: str = ""


@runtime_checkable
class ResultProcessor(Protocol):
    """Runs on every decoded result before mapping and storage (units, derived flags).

    It must return a result (the same one when it has nothing to do) and be fast; a processor
    that raises is disabled and the result goes on unchanged.
    """

    @property
    def name(self) -> str: ...

    def process(self, device: str, result: Result) -> Result: ...


@runtime_checkable
class SimulatorProfile(Protocol):
    """What ``benchlink simulate --profile NAME`` sends: messages shaped like one analyzer's.

    ``message(index, seed)`` returns a sample label and the message text: ASTM records joined
    by CR, or an HL7 message with CR segment ends. The same ``(index, seed)`` gives the same
    bytes. ``tolerances`` are the receiver-side link tolerances this analyzer needs and
    ``max_text_per_frame`` how much record text it puts in one ASTM frame (240 by the
    standard; Mindray BS sends a whole message in one frame).
    """

    @property
    def name(self) -> str: ...

    @property
    def protocol(self) -> str: ...

    @property
    def tolerances(self) -> tuple[str, ...]: ...

    @property
    def max_text_per_frame(self) -> int: ...

    def message(self, index: int, seed: int | None) -> tuple[str, bytes]: ...


def describe(obj: Any) -> str:
    """A short name for an object a plugin returned, for error messages."""
    name = getattr(obj, "name", None)
    if isinstance(name, str):
        return name
    info = getattr(obj, "info", None)
    if info is not None and isinstance(getattr(info, "name", None), str):
        return str(info.name)
    return type(obj).__name__
