"""Result processors registered by plugins run on live traffic, before mapping and storage."""

from __future__ import annotations

import asyncio
from pathlib import Path

from benchlink.runtime.bootstrap import open_store
from benchlink.runtime.engine import Engine
from benchlink.runtime.settings import DeviceConfig, Settings, TransportConfig
from benchlink.runtime.simulator import send_messages
from benchlink.storage.store import ResultFilter
from benchlink.transports.tcp import open_tcp_channel

MESSAGE = (b"H|\\^&|||c311^1^1.0\rP|1\rO|1|RP-1||^^^ALT|R\r"
           b"R|1|^^^ALT|35|U/l||N||F||||20260101120000|c311\rL|1|N\r")


def test_plugin_processor_fixes_units_on_live_results(tmp_path: Path) -> None:
    device = DeviceConfig(name="chem", transport=TransportConfig(kind="tcp-server", host="127.0.0.1", port=0))
    settings = Settings(home=tmp_path, config_file=tmp_path / "c.toml", key_file=tmp_path / "k", use_keyring=False,
                        devices=(device,))
    store = open_store(settings)

    async def scenario() -> None:
        engine = Engine(settings, store)
        await engine.start()
        try:
            chan = await open_tcp_channel("127.0.0.1", engine.runners["chem"].port)
            report = await send_messages(chan, [("RP-1", MESSAGE)])
            await chan.close()
            assert report.acknowledged == ["RP-1"]
        finally:
            await engine.stop()

    asyncio.run(scenario())
    (row,) = store.results_page(ResultFilter(device="chem"), after=None, limit=5)
    assert row.units == "U/L", "the Roche unit processor did not run on the live path"
