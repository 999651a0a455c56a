"""Two ``AstmLink`` ends joined by a simulated wire and a simulated clock.

Modelled on h11's ``ConnectionPair`` test helper, for our tests and for vendors' driver tests
(``benchlink.testing`` re-exports it). Nothing here sleeps: the pair's clock jumps straight
to the next byte delivery or link deadline, so a 30 s timeout costs microseconds.

The wire carries *units*: a whole frame (STX through its line end) or one control byte.
Faults pick units by kind and drop, corrupt, duplicate or delay them; ``chunk_size`` cuts
what is delivered into pieces of that many bytes (1 = one byte at a time).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from benchlink.protocols.astm.constants import LF, STX, STX_INT
from benchlink.protocols.astm.link import AstmLink, Role
from benchlink.protocols.astm.link_events import LinkEvent, MessageReceived

__all__ = ["Fault", "FaultAction", "LinkPair", "split_units"]

FaultAction = Literal["drop", "corrupt", "duplicate", "delay"]
E = TypeVar("E")


@dataclass
class Fault:
    """Apply ``action`` to units of kind ``match`` leaving one end.

    ``match`` is a control byte (``ACK``, ``NAK``, ``ENQ``, ``EOT``), ``STX`` for any frame,
    or None for any unit. The first ``skip`` matching units pass untouched, then ``times``
    are hit. ``frame_number`` narrows a frame match to one FN digit.
    """

    action: FaultAction
    match: bytes | None = None
    times: int = 1
    skip: int = 0
    delay: float = 0.0
    frame_number: int | None = None
    hits: int = field(default=0, init=False)

    def matches(self, unit: bytes) -> bool:
        if self.match is not None and unit[:1] != self.match[:1]:
            return False
        if self.frame_number is not None and (len(unit) < 2 or unit[1] != 0x30 + self.frame_number):
            return False
        return True

    @property
    def spent(self) -> bool:
        return self.hits >= self.times


def split_units(data: bytes) -> list[bytes]:
    """Cut link output into frames (STX..LF) and single bytes."""
    units: list[bytes] = []
    pos = 0
    while pos < len(data):
        if data[pos] == STX_INT:
            end = data.find(LF, pos)
            end = len(data) if end < 0 else end + 1
            units.append(data[pos:end])
            pos = end
        else:
            units.append(data[pos : pos + 1])
            pos += 1
    return units


def corrupt_unit(unit: bytes) -> bytes:
    """A damaged copy: a frame gets one text bit flipped (its checksum no longer matches),
    a control byte becomes ``?``."""
    if unit[:1] == STX and len(unit) > 3:
        damaged = bytearray(unit)
        damaged[2] ^= 0x01 if damaged[2] not in (0x02, 0x03, 0x16) else 0x40
        return bytes(damaged)
    return b"?"


class LinkPair:
    """A host link and an instrument link on one simulated line."""

    def __init__(
        self,
        host: AstmLink | None = None,
        instrument: AstmLink | None = None,
        *,
        start: float = 0.0,
        latency: float = 0.001,
        chunk_size: int | None = None,
        auto_accept: bool = True,
        accept_delay: float = 0.0,
    ) -> None:
        self.links: dict[Role, AstmLink] = {
            Role.HOST: host if host is not None else AstmLink(Role.HOST),
            Role.INSTRUMENT: instrument if instrument is not None else AstmLink(Role.INSTRUMENT),
        }
        if self.links[Role.HOST].role is self.links[Role.INSTRUMENT].role:
            raise ValueError("a LinkPair needs one HOST-role link and one INSTRUMENT-role link")
        self.now = start
        self.latency = latency
        self.chunk_size = chunk_size
        self.auto_accept = auto_accept
        self.accept_delay = accept_delay
        self.events: dict[Role, list[LinkEvent]] = {Role.HOST: [], Role.INSTRUMENT: []}
        #: (time, sending end, bytes as delivered) for every unit that reached the other end.
        self.transcript: list[tuple[float, Role, bytes]] = []
        self.faults: dict[Role, list[Fault]] = {Role.HOST: [], Role.INSTRUMENT: []}
        self._flight: list[tuple[float, int, Role, bytes]] = []
        self._last_arrival: dict[Role, float] = {Role.HOST: start, Role.INSTRUMENT: start}
        self._accepts: list[tuple[float, int, Role]] = []
        self._seq = 0

    @property
    def host(self) -> AstmLink:
        return self.links[Role.HOST]

    @property
    def instrument(self) -> AstmLink:
        return self.links[Role.INSTRUMENT]

    def add_fault(self, sender: Role, fault: Fault) -> Fault:
        self.faults[sender].append(fault)
        return fault

    def send(self, sender: Role, text: bytes) -> None:
        """Queue ``text`` on ``sender``'s link at the current time."""
        self.links[sender].send_message(text, self.now)
        self._collect()

    def received(self, role: Role) -> list[bytes]:
        return [e.text for e in self.events[role] if isinstance(e, MessageReceived)]

    def of_type(self, role: Role, kind: type[E]) -> list[E]:
        return [e for e in self.events[role] if isinstance(e, kind)]

    def advance(self, seconds: float) -> None:
        self.run(until=self.now + seconds)

    def run(self, until: float | None = None, *, max_steps: int = 1_000_000) -> None:
        """Deliver bytes and fire timers in time order, up to ``until`` or until quiet."""
        for _ in range(max_steps):
            self._collect()
            due = self._next_time()
            if due is None or (until is not None and due > until):
                if until is not None:
                    self.now = max(self.now, until)
                return
            self.now = max(self.now, due)
            self._step()
        raise RuntimeError(f"LinkPair did not settle within {max_steps} steps")

    def run_until(self, predicate: Callable[[LinkPair], bool], timeout: float) -> bool:
        """Run until ``predicate(self)`` holds or ``timeout`` simulated seconds pass."""
        limit = self.now + timeout
        while not predicate(self):
            self._collect()
            due = self._next_time()
            if due is None or due > limit:
                self.now = max(self.now, limit) if due is not None else self.now
                return predicate(self)
            self.now = max(self.now, due)
            self._step()
        return True

    # ------------------------------------------------------------------ internals

    def _next_time(self) -> float | None:
        times = [t for t, *_ in self._flight[:1]] + [t for t, *_ in self._accepts[:1]]
        times += [d for link in self.links.values() if (d := link.next_deadline()) is not None]
        return min(times) if times else None

    def _step(self) -> None:
        now = self.now
        while self._flight and self._flight[0][0] <= now:
            _, _, sender, unit = heapq.heappop(self._flight)
            receiver = Role.INSTRUMENT if sender is Role.HOST else Role.HOST
            self.transcript.append((now, sender, unit))
            size = self.chunk_size or len(unit)
            for start in range(0, len(unit), size):
                self._record(receiver, self.links[receiver].receive_data(unit[start : start + size], now))
            self._collect()
        while self._accepts and self._accepts[0][0] <= now:
            _, _, role = heapq.heappop(self._accepts)
            self.links[role].accept_message(now)
        for role, link in self.links.items():
            deadline = link.next_deadline()
            if deadline is not None and deadline <= now:
                self._record(role, link.handle_timer(now))
        self._collect()

    def _record(self, role: Role, events: list[LinkEvent]) -> None:
        self.events[role].extend(events)
        if self.auto_accept:
            for event in events:
                if isinstance(event, MessageReceived):
                    self._seq += 1
                    heapq.heappush(self._accepts, (self.now + self.accept_delay, self._seq, role))

    def _collect(self) -> None:
        for sender, link in self.links.items():
            data = link.data_to_send()
            if data:
                for unit in split_units(data):
                    self._launch(sender, unit)

    def _launch(self, sender: Role, unit: bytes) -> None:
        copies = [unit]
        delay = 0.0
        for fault in self.faults[sender]:
            if fault.spent or not fault.matches(unit):
                continue
            if fault.skip > 0:
                fault.skip -= 1
                continue
            fault.hits += 1
            if fault.action == "drop":
                copies = []
            elif fault.action == "corrupt":
                copies = [corrupt_unit(c) for c in copies]
            elif fault.action == "duplicate":
                copies = copies + copies
            else:
                delay += fault.delay
            break
        for copy in copies:
            arrival = max(self.now + self.latency + delay, self._last_arrival[sender])
            self._last_arrival[sender] = arrival
            self._seq += 1
            heapq.heappush(self._flight, (arrival, self._seq, sender, copy))
