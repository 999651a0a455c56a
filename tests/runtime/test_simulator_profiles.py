"""Every simulator profile a plugin ships talks to a device using the matching driver, over real
TCP, and its results are stored: `benchlink simulate --profile X` behaves like that analyzer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from benchlink.runtime.bootstrap import open_store
from benchlink.runtime.engine import Engine
from benchlink.runtime.plugins import PluginManager
from benchlink.runtime.settings import DeviceConfig, Settings, TransportConfig
from benchlink.runtime.simulator import simulate_profile
from benchlink.storage.store import ResultFilter
from benchlink.transports.tcp import open_tcp_channel

PLUGINS = PluginManager()
PROFILES = PLUGINS.simulator_profiles()


def driver_for(profile_name: str) -> str:
    return {"generic-astm": "astm", "generic-hl7": "hl7"}.get(profile_name, profile_name)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profile_is_received_by_its_driver(tmp_path: Path, name: str) -> None:
    profile = PROFILES[name]
    assert driver_for(name) in PLUGINS.drivers(), f"profile {name} has no matching driver"
    device = DeviceConfig(name="dev", driver=driver_for(name), tolerances=tuple(profile.tolerances),
                          transport=TransportConfig(kind="tcp-server", host="127.0.0.1", port=0))
    settings = Settings(home=tmp_path, config_file=tmp_path / "c.toml", key_file=tmp_path / "k", use_keyring=False,
                        devices=(device,))
    store = open_store(settings)

    async def scenario() -> list[str]:
        engine = Engine(settings, store)
        await engine.start()
        try:
            channel = await open_tcp_channel("127.0.0.1", engine.runners["dev"].port)
            report = await asyncio.wait_for(simulate_profile(channel, profile, count=3, seed=5), 60)
            await channel.close()
            return report.acknowledged
        finally:
            await engine.stop()

    acknowledged = asyncio.run(scenario())
    assert len(acknowledged) == 3, f"{name}: only {acknowledged} acknowledged"
    rows = store.results_page(ResultFilter(device="dev"), after=None, limit=1000)
    assert rows, f"{name}: nothing stored"
    assert not store.quarantine_list(), f"{name}: messages went to quarantine"
    assert all(r.instrument_code for r in rows)
