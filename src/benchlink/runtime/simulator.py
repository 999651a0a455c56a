"""A simulated analyzer: the instrument side of the same link state machine.

Used by ``benchlink simulate``, the demo device, the tests and the benchmarks, so every one
of them exercises the real framing, checksums and ACK handshake rather than a shortcut.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from benchlink.protocols.astm import link as astm_link
from benchlink.protocols.astm.link import AstmLink, Role
from benchlink.protocols.astm.tolerances import LinkTimers
from benchlink.transports.base import Channel
from benchlink.transports.tcp import open_tcp_channel

# (code, name, units, low, high, decimals)
PANEL: tuple[tuple[str, str, str, float, float, int], ...] = (
    ("GLU", "Glucose", "mmol/L", 3.9, 6.1, 1),
    ("CREA", "Creatinine", "umol/L", 62, 106, 0),
    ("NA", "Sodium", "mmol/L", 136, 145, 0),
    ("K", "Potassium", "mmol/L", 3.5, 5.1, 1),
    ("ALT", "Alanine aminotransferase", "U/L", 0, 41, 0),
    ("CHOL", "Cholesterol", "mmol/L", 0, 5.2, 2),
    ("AST", "Aspartate aminotransferase", "U/L", 0, 40, 0),
    ("ALP", "Alkaline phosphatase", "U/L", 40, 130, 0),
    ("GGT", "Gamma-glutamyltransferase", "U/L", 8, 61, 0),
    ("TBIL", "Bilirubin total", "umol/L", 3, 21, 1),
    ("TP", "Protein total", "g/L", 64, 83, 0),
    ("ALB", "Albumin", "g/L", 35, 52, 0),
    ("UREA", "Urea", "mmol/L", 2.8, 7.2, 1),
    ("UA", "Uric acid", "umol/L", 202, 416, 0),
    ("TG", "Triglycerides", "mmol/L", 0, 1.7, 2),
    ("HDL", "HDL cholesterol", "mmol/L", 1.0, 2.0, 2),
    ("CA", "Calcium", "mmol/L", 2.15, 2.55, 2),
    ("CL", "Chloride", "mmol/L", 98, 107, 0),
    ("CRP", "C-reactive protein", "mg/L", 0, 5, 1),
    ("LDH", "Lactate dehydrogenase", "U/L", 135, 225, 0),
)

FIRST_NAMES = ("Ada", "Bela", "Chidi", "Dana", "Emil", "Farah", "Goran", "Hana")
LAST_NAMES = ("Novak", "Okafor", "Silva", "Tanaka", "Weber", "Yilmaz", "Khan", "Moreau")


@dataclass(slots=True)
class SimulatedSample:
    sample_id: str
    patient_id: str
    patient_name: str
    birth_date: str
    results: list[tuple[str, str, str, str, str]]  # code, value, units, range, flag


def make_sample(index: int, rng: random.Random, *, prefix: str = "S", panel_size: int = 4,
                patient_name: str | None = None) -> SimulatedSample:
    results = []
    for code, _name, units, low, high, decimals in rng.sample(PANEL, k=min(panel_size, len(PANEL))):
        span = high - low or 1.0
        value = max(0.0, rng.uniform(low - span * 0.15, high + span * 0.15))  # concentrations are never negative
        text = f"{value:.{decimals}f}"
        flag = "H" if value > high else "L" if value < low else "N"
        results.append((code, text, units, f"{low:g} to {high:g}", flag))
    name = patient_name or f"{rng.choice(LAST_NAMES)}^{rng.choice(FIRST_NAMES)}"
    return SimulatedSample(
        sample_id=f"{prefix}{index:06d}",
        patient_id=f"P{rng.randrange(10**6):06d}",
        patient_name=name,
        birth_date=f"19{rng.randrange(30, 99)}0{rng.randrange(1, 9)}1{rng.randrange(0, 9)}",
        results=results,
    )


def astm_message(sample: SimulatedSample, *, sender: str = "BENCHLINK-SIM^1.0", when: datetime | None = None) -> bytes:
    """An E1394 message in the default delimiters, records separated by CR."""
    stamp = (when or datetime(2026, 1, 1)).strftime("%Y%m%d%H%M%S")
    tests = "\\".join(f"^^^{r[0]}" for r in sample.results)
    lines = [
        f"H|\\^&|||{sender}|||||||P|LIS2-A2|{stamp}",
        f"P|1||{sample.patient_id}||{sample.patient_name}||{sample.birth_date}|U",
        f"O|1|{sample.sample_id}||{tests}|R||||||N||||||||||||||F",
    ]
    for seq, (code, value, units, ref, flag) in enumerate(sample.results, start=1):
        lines.append(f"R|{seq}|^^^{code}|{value}|{units}|{ref}|{flag}||F||||{stamp}|SIM")
    lines.append("L|1|N")
    return ("\r".join(lines) + "\r").encode("latin-1")


@dataclass(slots=True)
class SimulationReport:
    acknowledged: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    bytes_sent: int = 0
    ack_log: Path | None = None
    events: list[astm_link.LinkEvent] = field(default_factory=list)
    received: list[bytes] = field(default_factory=list)

    def record_ack(self, label: str) -> None:
        """Written to disk the moment the final ACK arrives, so a crash test knows exactly what
        the analyzer believes was accepted."""
        self.acknowledged.append(label)
        if self.ack_log is not None:
            with self.ack_log.open("a", encoding="utf-8") as handle:
                handle.write(label + "\n")
                handle.flush()


async def _pump(link: AstmLink, channel: Channel, report: SimulationReport, loop: asyncio.AbstractEventLoop,
                until: Callable[[list[astm_link.LinkEvent]], bool]) -> list[astm_link.LinkEvent]:
    seen: list[astm_link.LinkEvent] = []
    while True:
        out = link.data_to_send()
        if out:
            report.bytes_sent += len(out)
            channel.write(out)
            await channel.drain()
        if until(seen):
            return seen
        deadline = link.next_deadline()
        timeout = None if deadline is None else max(0.0, deadline - loop.time())
        try:
            data = await asyncio.wait_for(channel.read(), timeout)
        except TimeoutError:
            seen.extend(link.handle_timer(loop.time()))
            continue
        if not data:
            seen.append(astm_link.SendFailed(b"", "connection closed by the host"))
            return seen
        _absorb(link.receive_data(data, loop.time()), link, report, loop, seen)


def _absorb(events: list[astm_link.LinkEvent], link: AstmLink, report: SimulationReport,
            loop: asyncio.AbstractEventLoop, seen: list[astm_link.LinkEvent]) -> None:
    """An analyzer accepts what the host sends it (query answers, order downloads) at once."""
    for event in events:
        if isinstance(event, astm_link.MessageReceived):
            report.received.append(event.text)
            link.accept_message(loop.time())
    seen.extend(events)


def _finished(events: list[astm_link.LinkEvent]) -> bool:
    return any(isinstance(e, astm_link.MessageSent | astm_link.SendFailed) for e in events)


async def send_messages(channel: Channel, messages: list[tuple[str, bytes]], *, rate: float = 0.0,
                        report: SimulationReport | None = None, timers: LinkTimers | None = None,
                        max_text_per_frame: int = 240, contend: bool = False,
                        wait_for_answers: int = 0, answer_timeout: float = 30.0) -> SimulationReport:
    """Send each message in its own transfer and wait for the final ACK before the next.

    ``contend`` waits for the host to bid (ENQ) and bids at the same moment: LIS01-A2 contention,
    which the instrument must win. ``wait_for_answers`` keeps the line open until that many
    messages came back from the host (query answers).
    """
    loop = asyncio.get_running_loop()
    report = report or SimulationReport()
    link = AstmLink(Role.INSTRUMENT, timers=timers or LinkTimers(), max_text_per_frame=max_text_per_frame)
    held = b""
    if contend:
        held = await _await_host_bid(channel, answer_timeout)
    for label, text in messages:
        link.send_message(text, loop.time())
        if held:
            out = link.data_to_send()  # our ENQ crosses the host's on the wire
            channel.write(out)
            await channel.drain()
            pre: list[astm_link.LinkEvent] = []
            _absorb(link.receive_data(held, loop.time()), link, report, loop, pre)
            report.events.extend(pre)
            held = b""
        events = await _pump(link, channel, report, loop, _finished)
        report.events.extend(events)
        if any(isinstance(e, astm_link.MessageSent) for e in events):
            report.record_ack(label)
        else:
            report.failed.append(label)
            break
        if rate > 0:
            await asyncio.sleep(1.0 / rate)
    if wait_for_answers and not report.failed:
        deadline = loop.time() + answer_timeout
        await _pump(link, channel, report, loop,
                    lambda _: len(report.received) >= wait_for_answers or loop.time() >= deadline)
    return report


async def _await_host_bid(channel: Channel, timeout: float) -> bytes:
    """Read until the host's ENQ arrives; return the bytes read, still to be fed to our link."""
    data = b""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while b"\x05" not in data:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            chunk = await asyncio.wait_for(channel.read(), remaining)
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
    return data


def query_message(sample_ids: list[str], *, sender: str = "BENCHLINK-SIM^1.0") -> bytes:
    """An LIS02-A2 host query (Q record) asking for all tests of these samples."""
    ids = "\\".join(f"^{s}" for s in sample_ids)
    return f"H|\\^&|||{sender}\rQ|1|{ids}||ALL||||||||O\rL|1|N\r".encode("latin-1")


async def simulate_tcp(host: str, port: int, *, count: int, rate: float = 0.0, prefix: str = "S",
                       seed: int | None = None, start: int = 1, patient_name: str | None = None,
                       report: SimulationReport | None = None) -> SimulationReport:
    channel = await open_tcp_channel(host, port)
    try:
        messages = [build_message(index, prefix=prefix, seed=seed, patient_name=patient_name)
                    for index in range(start, start + count)]
        return await send_messages(channel, messages, rate=rate, report=report)
    finally:
        await channel.close()


def build_message(index: int, *, prefix: str = "S", seed: int | None = None,
                  patient_name: str | None = None, panel_size: int = 4) -> tuple[str, bytes]:
    """With a seed, message *index* is byte-identical every time it is built: that is what an
    analyzer retransmitting after a host crash looks like, and what duplicate detection must catch."""
    if seed is None:
        sample = make_sample(index, random.Random(), prefix=prefix, patient_name=patient_name, panel_size=panel_size)
        return sample.sample_id, astm_message(sample, when=datetime.now())
    rng = random.Random(seed * 1_000_003 + index)
    sample = make_sample(index, rng, prefix=prefix, patient_name=patient_name, panel_size=panel_size)
    return sample.sample_id, astm_message(sample, when=datetime(2026, 1, 1) + timedelta(seconds=index))


async def send_hl7_messages(channel: Channel, messages: list[tuple[str, bytes]], *, rate: float = 0.0,
                            report: SimulationReport | None = None, timeout: float = 30.0) -> SimulationReport:
    """HL7 over MLLP: one message, then wait for its ACK (MSA-1 AA/CA counts as accepted)."""
    from benchlink.protocols.hl7.mllp import MllpFramer, MllpMessage, frame

    report = report or SimulationReport()
    framer = MllpFramer()
    for label, text in messages:
        out = frame(text)
        report.bytes_sent += len(out)
        channel.write(out)
        await channel.drain()
        ack: bytes | None = None
        while ack is None:
            try:
                data = await asyncio.wait_for(channel.read(), timeout)
            except TimeoutError:
                break
            if not data:
                break
            for event in framer.feed(data):
                if isinstance(event, MllpMessage):
                    ack = event.payload
        accepted = ack is not None and any(
            line.startswith(b"MSA|") and line[4:6] in (b"AA", b"CA") for line in ack.split(b"\r"))
        if accepted:
            report.record_ack(label)
        else:
            report.failed.append(label)
            break
        if rate > 0:
            await asyncio.sleep(1.0 / rate)
    return report


async def simulate_profile(channel: Channel, profile: SimulatorProfileLike, *, count: int, start: int = 1,
                           seed: int | None = None, rate: float = 0.0,
                           report: SimulationReport | None = None) -> SimulationReport:
    """Send *count* messages shaped by a vendor profile (``benchlink simulate --profile NAME``)."""
    messages = [profile.message(index, seed) for index in range(start, start + count)]
    if profile.protocol == "hl7":
        return await send_hl7_messages(channel, messages, rate=rate, report=report)
    return await send_messages(channel, messages, rate=rate, report=report,
                               max_text_per_frame=profile.max_text_per_frame)


class SimulatorProfileLike(Protocol):
    name: str
    protocol: str
    max_text_per_frame: int

    def message(self, index: int, seed: int | None) -> tuple[str, bytes]: ...
