"""The one shape every transport hands to the engine: a byte channel.

Sessions (ASTM, HL7) are written against :class:`Channel` only, so TCP, TLS and serial
are interchangeable per device and testable with real sockets or real ptys.
"""

from __future__ import annotations

from typing import Protocol


class Channel(Protocol):
    peer: str

    async def read(self) -> bytes:
        """Next chunk of bytes; ``b""`` when the peer has gone."""
        ...

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    async def close(self) -> None: ...


class TransportError(OSError):
    """A transport could not be opened; the message says which setting to check."""
