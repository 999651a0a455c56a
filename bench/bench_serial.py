"""The ASTM path over a real pty pair (socat) at an emulated 9600 baud, 8N1.

A pty does not enforce a baud rate, so the analyzer side paces its writes to the wire's
limit (9600 / 10 bits = 960 bytes/s) and the host answers as fast as it can. Utilisation is
the share of the wire's capacity spent moving message bytes, the rest being handshakes
(ENQ/ACK/EOT), framing and the host's commit-before-ACK turnaround.

    .venv/bin/python bench/bench_serial.py [--messages 20]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlink.runtime.bootstrap import open_store
from benchlink.runtime.engine import Engine
from benchlink.runtime.settings import DeviceConfig, Settings, TransportConfig
from benchlink.runtime.simulator import build_message, send_messages
from benchlink.transports.serial_port import open_serial_channel

BAUD = 9600
BYTES_PER_S = BAUD / 10  # start + 8 data + stop bits


class PacedChannel:
    """Writes no faster than the emulated wire."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.peer = getattr(inner, "peer", "pty")
        self._free_at = 0.0
        self.wire_bytes = 0

    async def read(self) -> bytes:
        return await self.inner.read()  # type: ignore[attr-defined,no-any-return]

    def write(self, data: bytes) -> None:
        self.wire_bytes += len(data)
        self.inner.write(data)  # type: ignore[attr-defined]
        now = time.monotonic()
        self._free_at = max(self._free_at, now) + len(data) / BYTES_PER_S

    async def drain(self) -> None:
        await self.inner.drain()  # type: ignore[attr-defined]
        delay = self._free_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def close(self) -> None:
        await self.inner.close()  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()
    if shutil.which("socat") is None:
        print("socat not installed; skipping serial bench")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="benchlink-serial-"))
    host_end, analyzer_end = tmp / "ttyHOST", tmp / "ttyANALYZER"
    socat = subprocess.Popen(["socat", f"pty,raw,echo=0,link={host_end}", f"pty,raw,echo=0,link={analyzer_end}"],
                             stderr=subprocess.DEVNULL)
    while not (host_end.exists() and analyzer_end.exists()):
        time.sleep(0.02)
    device = DeviceConfig(name="ser", transport=TransportConfig(kind="serial", device=str(host_end), baudrate=BAUD))
    settings = Settings(home=tmp, config_file=tmp / "c.toml", key_file=tmp / "k", use_keyring=False,
                        devices=(device,))
    store = open_store(settings)
    messages = [build_message(i, prefix="SER", seed=1) for i in range(1, args.messages + 1)]
    payload = sum(len(text) for _, text in messages)

    async def run() -> tuple[int, float, int]:
        engine = Engine(settings, store)
        await engine.start()
        try:
            while engine.runners["ser"].health.state != "connected":
                await asyncio.sleep(0.05)
            channel = PacedChannel(await open_serial_channel(str(analyzer_end), baudrate=BAUD))
            started = time.monotonic()
            report = await send_messages(channel, messages)
            elapsed = time.monotonic() - started
            await channel.close()
            return len(report.acknowledged), elapsed, channel.wire_bytes
        finally:
            await engine.stop()

    try:
        acked, elapsed, wire = asyncio.run(run())
    finally:
        socat.terminate()
        socat.wait()
    capacity = elapsed * BYTES_PER_S
    print(f"{'messages':>8} {'acked':>6} {'seconds':>8} {'payload B':>10} {'wire B':>8} {'capacity B':>10} "
          f"{'wire use':>8} {'payload use':>11} {'results/s':>9}")
    print(f"{args.messages:>8} {acked:>6} {elapsed:>8.2f} {payload:>10} {wire:>8} {capacity:>10.0f} "
          f"{wire / capacity:>8.1%} {payload / capacity:>11.1%} {acked * 4 / elapsed:>9.1f}")
    return 0 if acked == args.messages else 1


if __name__ == "__main__":
    sys.exit(main())
