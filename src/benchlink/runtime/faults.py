"""Fault injection for the simulated analyzer: a channel wrapper that damages the wire.

Faults are applied to bytes, below the simulator's own link, so the *host* sees exactly
what a misbehaving cable or analyzer would produce while the simulator's state machine
stays honest (it retransmits, times out and gives up by the standard's rules).
"""

from __future__ import annotations

import asyncio
import enum
import random

from benchlink.protocols.astm.constants import ACK, ETB, ETX, STX
from benchlink.protocols.astm.frames import checksum
from benchlink.transports.base import Channel


class Fault(enum.StrEnum):
    NONE = "none"
    CORRUPT = "corrupt"        # one byte of the first frame flipped, checksum left stale -> NAK, resend
    GARBLED_ACK = "garbled-ack"  # our first ACK arrives damaged -> the analyzer resends the frame (duplicate)
    DROP = "drop"              # connection closed after the first frame of a multi-frame message
    STALL = "stall"            # first frame sent, then silence past the receiver's timeout
    GARBAGE = "garbage"        # random bytes on the line before the ENQ
    OVERSIZE = "oversize"      # frames padded past 240 characters of text
    CONTENTION = "contention"  # analyzer bids (ENQ) exactly when the host does (handled by the simulator)


class FaultyChannel:
    """Wraps a real channel; the fault fires once (or for the first message, for OVERSIZE)."""

    def __init__(self, inner: Channel, fault: Fault, *, seed: int = 0, stall_seconds: float = 0.0) -> None:
        self.inner = inner
        self.fault = fault
        self.peer = inner.peer
        self._rng = random.Random(seed)
        self._fired = False
        self._stall_seconds = stall_seconds
        self._frames_written = 0
        self.closed_by_fault = False

    async def read(self) -> bytes:
        data = await self.inner.read()
        if self.fault is Fault.GARBLED_ACK and not self._fired and self._frames_written and ACK in data:
            self._fired = True
            data = data.replace(ACK, b"?", 1)  # LIS01-A2: any other reply counts as NAK
        return data

    def write(self, data: bytes) -> None:
        # CONTENTION is a timing fault: send_messages(contend=True) creates it, not the wire.
        if self.fault is Fault.GARBAGE and not self._fired and data.startswith(b"\x05"):
            self._fired = True
            noise = bytes(self._rng.choice(range(32, 127)) for _ in range(300))
            self.inner.write(noise + b"\x00\xff\x15" + noise)
        if STX in data:
            self._frames_written += 1
            data = self._damage_frame(data)
        self.inner.write(data)

    def _damage_frame(self, data: bytes) -> bytes:
        if self.fault is Fault.CORRUPT and not self._fired:
            self._fired = True
            at = data.index(STX) + 3
            return data[:at] + bytes([data[at] ^ 0x20]) + data[at + 1:]
        if self.fault is Fault.OVERSIZE:
            start = data.index(STX)
            end = max(data.rfind(ETX), data.rfind(ETB))
            body = data[start + 1:end] + b"X" * 300 + data[end:end + 1]
            return data[:start] + STX + body + checksum(body) + b"\r\n"
        return data

    async def drain(self) -> None:
        await self.inner.drain()
        if self._frames_written and not self._fired and self.fault in (Fault.DROP, Fault.STALL):
            self._fired = True
            if self.fault is Fault.STALL:
                await asyncio.sleep(self._stall_seconds)
            else:
                self.closed_by_fault = True
                await self.inner.close()

    async def close(self) -> None:
        await self.inner.close()
