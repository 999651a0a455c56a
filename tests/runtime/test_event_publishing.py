"""Trace chunks and device snapshots are built only for subscribers, and do reach them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from benchlink.core.events import DeviceChanged, ResultsStored, TraceChunk
from benchlink.runtime.bootstrap import open_store
from benchlink.runtime.engine import Engine
from benchlink.runtime.settings import DeviceConfig, Settings, TransportConfig
from benchlink.runtime.simulator import build_message, send_messages
from benchlink.transports.tcp import open_tcp_channel


def _engine(tmp_path: Path) -> Engine:
    settings = Settings(home=tmp_path, config_file=tmp_path / "c.toml", key_file=tmp_path / "db.key",
                        use_keyring=False,
                        devices=(DeviceConfig(name="chem-1", transport=TransportConfig(kind="tcp-server", port=0)),))
    return Engine(settings, open_store(settings))


async def _one_message(engine: Engine) -> None:
    await engine.start()
    try:
        channel = await open_tcp_channel("127.0.0.1", engine.runners["chem-1"].port)
        report = await asyncio.wait_for(send_messages(channel, [build_message(1, seed=3)]), 30)
        await channel.close()
        assert len(report.acknowledged) == 1
    finally:
        await engine.stop()


def test_a_subscriber_gets_trace_chunks_and_device_changes(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    seen: list[object] = []
    engine.bus.subscribe(seen.append)
    asyncio.run(_one_message(engine))
    chunks = [e for e in seen if isinstance(e, TraceChunk)]
    assert {c.direction for c in chunks} == {"in", "out"}
    assert b"\x05" in b"".join(c.data for c in chunks if c.direction == "in")  # the analyzer's ENQ
    assert b"\x06" in b"".join(c.data for c in chunks if c.direction == "out")  # our ACKs
    states = [str(e.snapshot.state) for e in seen if isinstance(e, DeviceChanged)]
    assert "receiving" in states and "connected" in states
    assert any(isinstance(e, ResultsStored) for e in seen)


def test_without_subscribers_no_trace_or_device_event_is_built(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A headless serve has no subscriber: the per-frame events must not even be constructed."""
    from benchlink.runtime import device as device_module

    built: list[str] = []

    def counting(kind: str, real: Callable[..., object]) -> Callable[..., object]:
        def make(*args: object) -> object:
            built.append(kind)
            return real(*args)
        return make

    monkeypatch.setattr(device_module, "TraceChunk", counting("trace", TraceChunk))
    monkeypatch.setattr(device_module, "DeviceChanged", counting("device", DeviceChanged))
    asyncio.run(_one_message(_engine(tmp_path)))
    assert built == []
    # and the same counters do see events once someone listens (so the check above can fail)
    engine = _engine(tmp_path / "listened")
    engine.bus.subscribe(lambda event: None)
    asyncio.run(_one_message(engine))
    assert "trace" in built and "device" in built
