"""A device's configuration changes apply to that device alone; the others keep their
connections, and a slow device does not delay another."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from tests.helpers import free_port

from benchlink.runtime.bootstrap import open_store
from benchlink.runtime.engine import Engine
from benchlink.runtime.settings import DeviceConfig, Settings, TransportConfig
from benchlink.runtime.simulator import build_message, send_messages
from benchlink.transports.tcp import open_tcp_channel


def settings_for(tmp_path: Path, devices: tuple[DeviceConfig, ...]) -> Settings:
    return Settings(home=tmp_path, config_file=tmp_path / "config.toml", key_file=tmp_path / "db.key",
                    use_keyring=False, devices=devices)


def tcp(name: str, port: int) -> DeviceConfig:
    return DeviceConfig(name=name, transport=TransportConfig(kind="tcp-server", host="127.0.0.1", port=port))


def test_changing_one_device_leaves_the_other_connected(tmp_path: Path) -> None:
    a, b = tcp("a", free_port()), tcp("b", free_port())
    settings = settings_for(tmp_path, (a, b))
    store = open_store(settings)

    async def scenario() -> None:
        engine = Engine(settings, store)
        await engine.start()
        try:
            chan_a = await open_tcp_channel("127.0.0.1", a.transport.port)
            first = await send_messages(chan_a, [build_message(1, prefix="A", seed=1)])
            assert first.acknowledged == ["A000001"]
            runner_a = engine.runners["a"]
            new_b = replace(b, transport=replace(b.transport, port=free_port()))
            changed = await engine.apply_devices((a, new_b), actor="config-file")
            assert changed == ["b"]
            (entry,) = engine.store.audit().search(action="device.edit")
            assert entry.target == "b" and entry.actor == "config-file"
            assert entry.before["transport"]["port"] == b.transport.port
            assert entry.after["transport"]["port"] == new_b.transport.port
            assert engine.runners["a"] is runner_a, "device a was restarted although unchanged"
            # a's existing connection still works without reconnecting
            second = await send_messages(chan_a, [build_message(2, prefix="A", seed=1)])
            assert second.acknowledged == ["A000002"]
            await chan_a.close()
            chan_b = await open_tcp_channel("127.0.0.1", new_b.transport.port)
            third = await send_messages(chan_b, [build_message(1, prefix="B", seed=2)])
            assert third.acknowledged == ["B000001"]
            await chan_b.close()
            removed = await engine.apply_devices((a,))
            assert removed == ["b"] and set(engine.runners) == {"a"}
        finally:
            await engine.stop()

    asyncio.run(scenario())


def test_a_stalled_analyzer_does_not_delay_another(tmp_path: Path) -> None:
    slow, fast = tcp("slow", free_port()), tcp("fast", free_port())
    settings = settings_for(tmp_path, (slow, fast))
    store = open_store(settings)

    async def scenario() -> tuple[str, int]:
        engine = Engine(settings, store)
        await engine.start()
        try:
            stalled = await open_tcp_channel("127.0.0.1", slow.transport.port)
            stalled.write(b"\x05")  # ENQ, then a frame that never finishes
            await stalled.drain()
            await asyncio.sleep(0.1)
            stalled.write(b"\x021H|\\^&|||half a frame and then silence")
            await stalled.drain()
            chan = await open_tcp_channel("127.0.0.1", fast.transport.port)
            report = await send_messages(chan, [build_message(i, prefix="F", seed=3) for i in range(1, 6)])
            assert report.acknowledged == [f"F{i:06d}" for i in range(1, 6)]
            await chan.close()
            slow_health = engine.runners["slow"].health
            outcome = (str(slow_health.state), slow_health.counters["timeouts"])
            await stalled.close()
            return outcome
        finally:
            await engine.stop()

    # the healthy device finished all five transfers while the stalled one was still mid-frame,
    # i.e. before its 30 s receive timer could have released anything
    assert asyncio.run(scenario()) == ("receiving", 0)
