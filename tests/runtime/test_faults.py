"""The host against a misbehaving analyzer: every fault the simulator can inject, over real TCP.
After each one the message is stored exactly once, or (when it never completed) quarantined or
refused, and the device keeps serving the next analyzer message."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from benchlink.protocols.astm import link as astm_link
from benchlink.protocols.astm.tolerances import LinkTimers
from benchlink.runtime.bootstrap import open_store
from benchlink.runtime.engine import Engine
from benchlink.runtime.faults import Fault, FaultyChannel
from benchlink.runtime.settings import DeviceConfig, Settings, TransportConfig
from benchlink.runtime.simulator import build_message, send_messages
from benchlink.storage.store import ResultFilter
from benchlink.transports.tcp import open_tcp_channel

FAST = LinkTimers(reply_timeout=0.5, busy_retry_wait=0.5)


@dataclass
class Outcome:
    acknowledged: list[str]
    counters: dict[str, int]
    samples: list[str]
    quarantined: int
    events: list[object] = field(default_factory=list)


def run_fault(tmp_path: Path, fault: Fault, *, receive_timeout: float = 30.0) -> Outcome:
    device = DeviceConfig(name="dev", receive_timeout=receive_timeout,
                          transport=TransportConfig(kind="tcp-server", host="127.0.0.1", port=0))
    settings = Settings(home=tmp_path, config_file=tmp_path / "c.toml", key_file=tmp_path / "k", use_keyring=False,
                        devices=(device,))
    store = open_store(settings)

    async def scenario() -> Outcome:
        engine = Engine(settings, store)
        await engine.start()
        try:
            port = engine.runners["dev"].port
            raw = await open_tcp_channel("127.0.0.1", port)
            faulty = FaultyChannel(raw, fault, seed=1, stall_seconds=receive_timeout + 1.0)
            report = await asyncio.wait_for(
                send_messages(faulty, [build_message(1, prefix="F", seed=9)], timers=FAST), 60)
            await faulty.close()
            await asyncio.sleep(0.2)
            # the device still serves a healthy analyzer afterwards
            clean = await open_tcp_channel("127.0.0.1", port)
            after = await send_messages(clean, [build_message(2, prefix="F", seed=9)])
            await clean.close()
            assert after.acknowledged == ["F000002"], "device stopped serving after the fault"
            counters = dict(engine.runners["dev"].health.counters)
        finally:
            await engine.stop()
        rows = store.results_page(ResultFilter(device="dev"), after=None, limit=100)
        return Outcome(report.acknowledged, counters, sorted({r.sample_id for r in rows}),
                       len(store.quarantine_list(state=None)), report.events)

    return asyncio.run(scenario())


def test_corrupted_byte_is_naked_and_resent(tmp_path: Path) -> None:
    out = run_fault(tmp_path, Fault.CORRUPT)
    assert out.acknowledged == ["F000001"]
    assert out.counters["naks"] >= 1
    assert out.samples == ["F000001", "F000002"]
    assert any(isinstance(e, astm_link.Retransmitted) for e in out.events)


def test_garbled_ack_duplicate_frame_is_stored_once(tmp_path: Path) -> None:
    out = run_fault(tmp_path, Fault.GARBLED_ACK)
    assert out.acknowledged == ["F000001"]
    assert out.samples == ["F000001", "F000002"]
    assert out.counters["messages"] == 2, "the duplicate frame was stored as a new message"
    assert any(isinstance(e, astm_link.Retransmitted) for e in out.events)


def test_garbage_before_enq_is_discarded(tmp_path: Path) -> None:
    out = run_fault(tmp_path, Fault.GARBAGE)
    assert out.acknowledged == ["F000001"]
    assert out.samples == ["F000001", "F000002"]


def test_oversize_frames_are_refused_without_tolerance(tmp_path: Path) -> None:
    out = run_fault(tmp_path, Fault.OVERSIZE)
    assert out.acknowledged == []
    assert out.counters["naks"] >= 6
    assert out.samples == ["F000002"]
    assert any(isinstance(e, astm_link.SendFailed) for e in out.events)


def test_connection_dropped_mid_message_keeps_partial_in_quarantine(tmp_path: Path) -> None:
    out = run_fault(tmp_path, Fault.DROP)
    assert out.acknowledged == []
    assert out.samples == ["F000002"]
    assert out.quarantined == 1, "the partial message was dropped silently"


def test_stall_past_receive_timeout_quarantines_partial(tmp_path: Path) -> None:
    out = run_fault(tmp_path, Fault.STALL, receive_timeout=1.0)
    assert out.acknowledged == []
    assert out.counters["timeouts"] >= 1
    assert out.quarantined == 1
    assert out.samples == ["F000002"]
