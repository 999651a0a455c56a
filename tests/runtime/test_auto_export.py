"""Results exported on arrival into a watched folder: whole files only, each result once."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

from benchlink.runtime.bootstrap import open_store
from benchlink.runtime.engine import Engine
from benchlink.runtime.settings import DeviceConfig, Settings, TransportConfig
from benchlink.runtime.simulator import build_message, send_messages
from benchlink.storage.store import ResultFilter
from benchlink.transports.tcp import open_tcp_channel


def test_new_results_land_in_the_watched_folder_once(tmp_path: Path) -> None:
    folder = tmp_path / "lis-inbox"
    device = DeviceConfig(name="chem", transport=TransportConfig(kind="tcp-server", host="127.0.0.1", port=0))
    settings = Settings(home=tmp_path, config_file=tmp_path / "c.toml", key_file=tmp_path / "k", use_keyring=False,
                        devices=(device,), export_folder=folder)
    store = open_store(settings)

    async def scenario() -> None:
        engine = Engine(settings, store)
        engine_exporter_interval = 0.2
        await engine.start()
        engine.folder_exporter.interval = engine_exporter_interval
        try:
            for batch in ((1, 2), (3,)):
                chan = await open_tcp_channel("127.0.0.1", engine.runners["chem"].port)
                report = await send_messages(chan, [build_message(i, prefix="W", seed=1) for i in batch])
                await chan.close()
                assert len(report.acknowledged) == len(batch)
                for _ in range(100):
                    if store.count_results(ResultFilter(exported=False)) == 0:
                        break
                    await asyncio.sleep(0.05)
        finally:
            await engine.stop()

    asyncio.run(scenario())
    files = sorted(folder.iterdir())
    assert files and all(f.suffix == ".csv" for f in files), [f.name for f in files]
    assert not [f for f in folder.iterdir() if f.name.startswith(".")], "a partial/temporary file was left behind"
    samples: list[str] = []
    for f in files:
        with f.open(encoding="utf-8", newline="") as handle:
            samples += [row["sample_id"] for row in csv.DictReader(handle)]
    assert sorted(set(samples)) == ["W000001", "W000002", "W000003"]
    assert len(samples) == store.count_results(ResultFilter()), "a result was exported twice or not at all"
    assert store.count_results(ResultFilter(exported=False)) == 0
