"""`benchlink export csv|hl7 --new-only`: files written whole, results marked, nothing twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.helpers import benchlink, cli_env

from benchlink.runtime.bootstrap import open_store
from benchlink.runtime.engine import Engine
from benchlink.runtime.settings import DeviceConfig, load_settings
from benchlink.runtime.simulator import build_message, send_messages
from benchlink.transports.tcp import open_tcp_channel


def seed(home: Path, samples: range) -> None:
    env = cli_env(home)
    settings = load_settings(home=home, environ=env)
    from dataclasses import replace

    from benchlink.runtime.settings import TransportConfig

    settings = replace(settings, devices=(DeviceConfig(name="chem", transport=TransportConfig(port=0)),))
    store = open_store(settings)

    async def run() -> None:
        engine = Engine(settings, store)
        await engine.start()
        try:
            chan = await open_tcp_channel("127.0.0.1", engine.runners["chem"].port)
            await send_messages(chan, [build_message(i, prefix="X", seed=2) for i in samples])
            await chan.close()
        finally:
            await engine.stop()

    asyncio.run(run())


def test_export_new_only_csv_then_hl7(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    seed(home, range(1, 4))
    first = benchlink(home, "export", "csv", "--out", str(tmp_path / "a.csv"), "--new-only")
    assert "exported 12 results" in first.stdout
    again = benchlink(home, "export", "csv", "--out", str(tmp_path / "b.csv"), "--new-only")
    assert "nothing to export" in again.stdout and not (tmp_path / "b.csv").exists()
    seed(home, range(4, 6))
    hl7 = benchlink(home, "export", "hl7", "--out", str(tmp_path / "c.hl7"), "--new-only", "--batch")
    assert "exported 8 results in 2 HL7 message(s)" in hl7.stdout
    text = (tmp_path / "c.hl7").read_bytes()
    assert text.startswith(b"FHS|") and text.count(b"MSH|") == 2 and b"X000004" in text and b"X000001" not in text
    semi = benchlink(home, "export", "csv", "--out", str(tmp_path / "d.csv"), "--semicolon")
    body = (tmp_path / "d.csv").read_bytes()
    assert body.startswith(b"\xef\xbb\xbf") and b";" in body.splitlines()[0]
    assert "exported 20 results" in semi.stdout
