from __future__ import annotations

import asyncio
import urllib.request
from dataclasses import replace
from pathlib import Path

from tests.helpers import free_port

from benchlink.runtime.bootstrap import open_store
from benchlink.runtime.engine import Engine
from benchlink.runtime.settings import DeviceConfig, TransportConfig, load_settings
from benchlink.runtime.simulator import build_message, send_messages
from benchlink.transports.tcp import open_tcp_channel


def test_metrics_endpoint_reports_device_counters(tmp_path: Path) -> None:
    port = free_port()
    device = DeviceConfig(name="chem-1", transport=TransportConfig(kind="tcp-server", host="127.0.0.1", port=0))
    settings = replace(load_settings(home=tmp_path, environ={}), key_file=tmp_path / "k",
                       use_keyring=False, status_port=port, devices=(device,))
    store = open_store(settings)

    async def scenario() -> str:
        engine = Engine(settings, store)
        await engine.start()
        try:
            runner = engine.runners["chem-1"]
            await runner.listening.wait()
            chan = await open_tcp_channel("127.0.0.1", runner.port)
            await send_messages(chan, [build_message(1, prefix="M", seed=1)])
            await chan.close()
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                None, lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode())
        finally:
            await engine.stop()

    text = asyncio.run(scenario())
    assert "# TYPE benchlink_device_messages_total counter" in text
    prefix = 'benchlink_device_messages_total{device="chem-1"'
    messages = [line for line in text.splitlines() if line.startswith(prefix)]
    assert messages == ['benchlink_device_messages_total{device="chem-1"} 1']
    assert 'benchlink_device_results_total{device="chem-1"} 4' in text
    assert 'benchlink_device_state{device="chem-1",state="listening"} 1' in text
