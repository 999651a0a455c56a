"""A serial analyzer through a real socat pty pair: results stored, and the port vanishing and
coming back (a USB adapter pulled and replugged) is survived without a restart."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from benchlink.core.status import DeviceState
from benchlink.runtime.bootstrap import open_store
from benchlink.runtime.engine import Engine
from benchlink.runtime.settings import DeviceConfig, Settings, TransportConfig
from benchlink.runtime.simulator import build_message, send_messages
from benchlink.storage.store import ResultFilter
from benchlink.transports.serial_port import open_serial_channel

pytestmark = pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed (make test installs it)")


def start_socat(a: Path, b: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["socat", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not (a.exists() and b.exists()):
        assert time.monotonic() < deadline, "socat did not create the pty pair"
        time.sleep(0.02)
    return proc


async def wait_state(engine: Engine, name: str, states: set[DeviceState], timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while engine.runners[name].health.state not in states:
        assert asyncio.get_running_loop().time() < deadline, engine.runners[name].health.snapshot()
        await asyncio.sleep(0.05)


def test_serial_results_and_port_replug(tmp_path: Path) -> None:
    host_end, analyzer_end = tmp_path / "ttyHOST", tmp_path / "ttyANALYZER"
    socat = start_socat(host_end, analyzer_end)
    settings = Settings(
        home=tmp_path, config_file=tmp_path / "config.toml", key_file=tmp_path / "db.key", use_keyring=False,
        devices=(DeviceConfig(name="haem-1", transport=TransportConfig(
            kind="serial", device=str(host_end), baudrate=9600, parity="N", bytesize=8)),),
    )
    store = open_store(settings)

    async def scenario() -> None:
        nonlocal socat
        engine = Engine(settings, store)
        await engine.start()
        try:
            await wait_state(engine, "haem-1", {DeviceState.CONNECTED})
            analyzer = await open_serial_channel(str(analyzer_end), baudrate=9600)
            report = await send_messages(analyzer, [build_message(i, prefix="SER", seed=5) for i in (1, 2, 3)])
            await analyzer.close()
            assert report.acknowledged == ["SER000001", "SER000002", "SER000003"]

            # pull the "USB adapter": the pty pair disappears
            socat.terminate()
            socat.wait(timeout=10)
            await wait_state(engine, "haem-1", {DeviceState.ERROR, DeviceState.CONNECTING})
            # plug it back in
            socat = start_socat(host_end, analyzer_end)
            await wait_state(engine, "haem-1", {DeviceState.CONNECTED}, timeout=40)
            analyzer = await open_serial_channel(str(analyzer_end), baudrate=9600)
            report = await send_messages(analyzer, [build_message(4, prefix="SER", seed=5)])
            await analyzer.close()
            assert report.acknowledged == ["SER000004"]
            counters = engine.runners["haem-1"].health.counters
            assert counters["messages"] == 4 and counters["bytes_in"] > 0 and counters["bytes_out"] > 0
        finally:
            await engine.stop()

    try:
        asyncio.run(scenario())
    finally:
        socat.terminate()
        socat.wait(timeout=10)
    rows = store.results_page(ResultFilter(device="haem-1"), after=None, limit=100)
    assert {r.sample_id for r in rows} == {"SER000001", "SER000002", "SER000003", "SER000004"}
