"""Hostile and broken peers at the network edge. After each attack the peer has been cut off,
memory stayed bounded, and a normal analyzer on the same listener is still served correctly."""

from __future__ import annotations

import asyncio
import os
import resource
from pathlib import Path

from benchlink.runtime.bootstrap import open_store
from benchlink.runtime.engine import Engine
from benchlink.runtime.limits import EdgeLimits
from benchlink.runtime.settings import DeviceConfig, Settings, TransportConfig
from benchlink.runtime.simulator import build_message, send_messages
from benchlink.transports.tcp import open_tcp_channel

LIMITS = EdgeLimits(progress_timeout=1.0, supersede_after=1.0, max_connections_per_minute=25)
MB = 1024 * 1024


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def closed_by_host(reader: asyncio.StreamReader, timeout: float = 15.0) -> bool:
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), timeout)
            if not chunk:
                return True
    except (ConnectionError, TimeoutError):
        return False


async def blast(port: int, payload_chunks: list[bytes], delay: float = 0.0) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for chunk in payload_chunks:
            writer.write(chunk)
            await writer.drain()
            if delay:
                await asyncio.sleep(delay)
    except ConnectionError:
        return True
    dropped = await closed_by_host(reader)
    writer.close()
    return dropped


def scenario_runner(tmp_path: Path, attack) -> tuple[bool, list[str], dict[str, int], float]:
    device = DeviceConfig(name="edge", limits=LIMITS,
                          transport=TransportConfig(kind="tcp-server", host="127.0.0.1", port=0))
    settings = Settings(home=tmp_path, config_file=tmp_path / "c.toml", key_file=tmp_path / "k", use_keyring=False,
                        devices=(device,))
    store = open_store(settings)

    async def run() -> tuple[bool, list[str], dict[str, int], float]:
        engine = Engine(settings, store)
        await engine.start()
        try:
            port = engine.runners["edge"].port
            before = rss_mb()
            dropped = await attack(port)
            growth = rss_mb() - before
            await asyncio.sleep(0.2)
            chan = await open_tcp_channel("127.0.0.1", port)
            report = await asyncio.wait_for(send_messages(chan, [build_message(1, prefix="OK", seed=4)]), 30)
            await chan.close()
            return dropped, report.acknowledged, dict(engine.runners["edge"].health.counters), growth
        finally:
            await engine.stop()

    return asyncio.run(run())


def test_frame_that_never_ends(tmp_path: Path) -> None:
    async def attack(port: int) -> bool:
        return await blast(port, [b"\x05", b"\x021H|"] + [b"A" * MB for _ in range(8)])

    dropped, acked, counters, growth = scenario_runner(tmp_path, attack)
    assert dropped, "an endless frame must get the connection dropped"
    assert acked == ["OK000001"]
    assert counters["errors"] >= 1
    assert growth < 64, f"memory grew {growth:.0f} MB for an 8 MB frame"


def test_megabytes_of_random_bytes(tmp_path: Path) -> None:
    async def attack(port: int) -> bool:
        return await blast(port, [os.urandom(MB) for _ in range(6)])

    dropped, acked, _, growth = scenario_runner(tmp_path, attack)
    assert dropped and acked == ["OK000001"]
    assert growth < 64


def test_slowloris_is_cut_off(tmp_path: Path) -> None:
    async def attack(port: int) -> bool:
        trickle = [b"\x05", b"\x02"] + [b"x"] * 40
        return await blast(port, trickle, delay=0.1)

    dropped, acked, counters, _ = scenario_runner(tmp_path, attack)
    assert dropped, "a peer trickling bytes without completing a frame must be dropped"
    assert acked == ["OK000001"] and counters["errors"] >= 1


def test_idle_squatter_is_replaced_by_the_real_analyzer(tmp_path: Path) -> None:
    held: list[asyncio.StreamWriter] = []

    async def attack(port: int) -> bool:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        held.append(writer)  # holds the device's only connection slot and says nothing
        await asyncio.sleep(LIMITS.supersede_after + 0.5)
        return True

    _, acked, _, _ = scenario_runner(tmp_path, attack)
    assert acked == ["OK000001"], "a silent squatter kept the real analyzer out"


def test_connection_flood_from_one_peer_does_not_lock_out_the_analyzer(tmp_path: Path) -> None:
    flood = 150

    async def attack(port: int) -> bool:
        async def one() -> bool:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.2", 0))
            except OSError:
                return True
            closed = await closed_by_host(reader, timeout=5)
            writer.close()
            return closed

        results = await asyncio.gather(*(one() for _ in range(flood)))
        return sum(results) >= flood - 1  # at most one of them may hold the slot, and it is idle

    dropped, acked, _, growth = scenario_runner(tmp_path, attack)
    assert dropped, "the flood's connections were not refused"
    assert acked == ["OK000001"], "the analyzer at another address was locked out by the flood"
    assert growth < 64
