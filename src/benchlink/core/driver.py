"""What a device driver is, seen from the engine.

A driver turns one complete, committed message into domain objects (and, for orders,
domain objects back into message text). It never touches sockets or the database, which is
what lets the same driver run live, in replay, and in a vendor's test kit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from benchlink.core.model import Decoded, HostQuery, OrderRequest

PROTOCOLS = ("astm", "hl7")


class DecodeError(ValueError):
    """A message could not be turned into results; the message text says why and what to do."""


def _frozen(values: Mapping[str, object] | None = None) -> Mapping[str, object]:
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True, slots=True)
class DriverInfo:
    """Everything the engine, the CLI and auto-detection need to know before the first byte.

    ``tolerances`` name :class:`~benchlink.protocols.astm.tolerances.LinkTolerances` switches
    the analyzer needs (``"oversize_frames"``); ``timers`` override
    :class:`~benchlink.protocols.astm.tolerances.LinkTimers` fields. ``transport`` holds
    defaults a device configuration may leave out (``{"baudrate": 9600}``). ``sender_patterns``
    are regular expressions matched (case-insensitively) against the sender text of a
    message header (ASTM ``H.5`` components joined by ``^``; HL7 ``MSH-3^MSH-4``); they let
    ``benchlink decode`` pick this driver with no ``--profile``.
    """

    name: str
    protocol: str  # "astm" | "hl7"
    description: str = ""
    vendor: str = ""
    models: tuple[str, ...] = ()
    tolerances: tuple[str, ...] = field(default=())
    timers: Mapping[str, object] = field(default_factory=_frozen)
    transport: Mapping[str, object] = field(default_factory=_frozen)
    encoding: str = ""
    sender_patterns: tuple[str, ...] = ()
    orders: bool = False

    def __post_init__(self) -> None:
        # Plain dicts given by a plugin become read-only views: DriverInfo is shared.
        object.__setattr__(self, "timers", _frozen(self.timers))
        object.__setattr__(self, "transport", _frozen(self.transport))


@runtime_checkable
class Driver(Protocol):
    info: DriverInfo

    def decode(self, data: bytes, *, encoding: str) -> Decoded: ...

    def answer_query(self, query: HostQuery, orders: list[OrderRequest], *, encoding: str) -> bytes: ...


@runtime_checkable
class MultiMessageReplies(Protocol):
    """Optional: a driver whose answer to one query is several messages (HL7 QCK + DSR)."""

    def answer_query_messages(
        self, query: HostQuery, orders: list[OrderRequest], *, encoding: str
    ) -> list[bytes]: ...


def query_replies(driver: Driver, query: HostQuery, orders: list[OrderRequest], *, encoding: str) -> list[bytes]:
    """The messages to send back for ``query``, in order; one for most drivers."""
    if isinstance(driver, MultiMessageReplies):
        return list(driver.answer_query_messages(query, orders, encoding=encoding))
    return [driver.answer_query(query, orders, encoding=encoding)]
