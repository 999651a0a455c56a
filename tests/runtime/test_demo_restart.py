"""A restarted demo analyzer sends new samples, so a second `make run` shows new results."""

from __future__ import annotations

import asyncio
from pathlib import Path

from benchlink.runtime.bootstrap import open_store
from benchlink.runtime.engine import DEMO_DEVICE, Engine
from benchlink.runtime.settings import DeviceConfig, Settings, TransportConfig
from benchlink.storage.store import ResultFilter, Store


def _demo_run(settings: Settings, store: Store, messages: int, interval: float) -> None:
    """Run the engine until ``messages`` more demo messages are stored, then stop it."""
    before = store.count_results(ResultFilter(device=DEMO_DEVICE))

    async def scenario() -> None:
        engine = Engine(settings, store, demo_interval=interval)
        await engine.start()
        try:
            for _ in range(300):
                if store.count_results(ResultFilter(device=DEMO_DEVICE)) >= before + 4 * messages:
                    return
                await asyncio.sleep(0.05)
            raise AssertionError("the demo analyzer stored nothing new")
        finally:
            await engine.stop()

    asyncio.run(scenario())


def test_the_demo_continues_after_the_newest_stored_sample(tmp_path: Path) -> None:
    demo = DeviceConfig(name=DEMO_DEVICE, driver="astm",
                        transport=TransportConfig(kind="tcp-server", host="127.0.0.1", port=0))
    settings = Settings(home=tmp_path, config_file=tmp_path / "c.toml", key_file=tmp_path / "k", use_keyring=False,
                        devices=(demo,), demo=True)
    store = open_store(settings)
    _demo_run(settings, store, messages=3, interval=0.05)
    first = {r.sample_id for r in store.results_page(ResultFilter(device=DEMO_DEVICE), limit=500)}
    # One message in the whole second run (the next comes 60 s later): it must be a new sample,
    # not DEMO000001 again, which the store would ignore as a duplicate.
    _demo_run(settings, store, messages=1, interval=60.0)
    every = {r.sample_id for r in store.results_page(ResultFilter(device=DEMO_DEVICE), limit=500)}
    assert sorted(every - first) == [f"DEMO{max(int(s[4:]) for s in first) + 1:06d}"]
