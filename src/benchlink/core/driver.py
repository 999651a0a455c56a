"""What a device driver is, seen from the engine.

A driver turns one complete, committed message into domain objects (and, for orders,
domain objects back into message text). It never touches sockets or the database, which is
what lets the same driver run live, in replay, and in a vendor's test kit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from benchlink.core.model import Decoded, HostQuery, OrderRequest


class DecodeError(ValueError):
    """A message could not be turned into results; the message text says why and what to do."""


@dataclass(frozen=True, slots=True)
class DriverInfo:
    name: str
    protocol: str  # "astm" | "hl7"
    description: str = ""
    vendor: str = ""
    models: tuple[str, ...] = ()
    tolerances: tuple[str, ...] = field(default=())


@runtime_checkable
class Driver(Protocol):
    info: DriverInfo

    def decode(self, data: bytes, *, encoding: str) -> Decoded: ...

    def answer_query(self, query: HostQuery, orders: list[OrderRequest], *, encoding: str) -> bytes: ...
