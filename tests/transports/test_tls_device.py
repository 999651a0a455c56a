"""TLS and mutual TLS on a tcp-server device, with certificates the test makes itself."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trustme

from benchlink.runtime.bootstrap import open_store
from benchlink.runtime.engine import Engine
from benchlink.runtime.event_loop import run
from benchlink.runtime.settings import DeviceConfig, Settings, TransportConfig
from benchlink.runtime.simulator import build_message, send_messages
from benchlink.transports.tcp import open_tcp_channel

Runner = Callable[[Coroutine[Any, Any, Any]], Any]


@pytest.fixture(params=["asyncio", "uvloop"])
def run_on(request: pytest.FixtureRequest) -> Runner:
    """Every TLS scenario on the standard loop and on uvloop, whose TLS is its own implementation."""
    if request.param == "uvloop":
        pytest.importorskip("uvloop", reason="uvloop is not installed (it does not exist on Windows)")
    return lambda coro: run(coro, request.param)


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("analyzer-7.lab.example")
    files = {"ca": tmp_path / "ca.pem", "server": tmp_path / "server.pem", "client": tmp_path / "client.pem"}
    ca.cert_pem.write_to_path(str(files["ca"]))
    server.private_key_and_cert_chain_pem.write_to_path(str(files["server"]))
    client.private_key_and_cert_chain_pem.write_to_path(str(files["client"]))
    return files


def make_settings(tmp_path: Path, transport: TransportConfig) -> Settings:
    return Settings(home=tmp_path, config_file=tmp_path / "c.toml", key_file=tmp_path / "db.key", use_keyring=False,
                    devices=(DeviceConfig(name="tls-1", transport=transport),))


def client_ctx(pki: dict[str, Path], with_cert: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki["ca"]))
    if with_cert:
        ctx.load_cert_chain(str(pki["client"]))
    return ctx


@pytest.mark.parametrize("mutual", [False, True])
def test_tls_device_receives_results(tmp_path: Path, pki: dict[str, Path], mutual: bool, run_on: Runner) -> None:
    transport = TransportConfig(kind="tcp-server", host="127.0.0.1", port=0, tls_cert=str(pki["server"]),
                                tls_ca=str(pki["ca"]) if mutual else "")
    settings = make_settings(tmp_path, transport)
    store = open_store(settings)

    async def scenario() -> list[str]:
        engine = Engine(settings, store)
        await engine.start()
        try:
            port = engine.runners["tls-1"].port
            channel = await open_tcp_channel("127.0.0.1", port, ssl_context=client_ctx(pki, with_cert=mutual))
            report = await send_messages(channel, [build_message(1, prefix="TLS", seed=1)])
            await channel.close()
            return report.acknowledged
        finally:
            await engine.stop()

    assert run_on(scenario()) == ["TLS000001"]


def test_mtls_refuses_a_client_without_certificate(tmp_path: Path, pki: dict[str, Path], run_on: Runner) -> None:
    transport = TransportConfig(kind="tcp-server", host="127.0.0.1", port=0, tls_cert=str(pki["server"]),
                                tls_ca=str(pki["ca"]))
    settings = make_settings(tmp_path, transport)
    store = open_store(settings)

    async def scenario() -> tuple[list[str], int]:
        engine = Engine(settings, store)
        await engine.start()
        try:
            port = engine.runners["tls-1"].port
            try:
                channel = await open_tcp_channel("127.0.0.1", port, ssl_context=client_ctx(pki, with_cert=False))
            except (ssl.SSLError, ConnectionError):
                return [], engine.runners["tls-1"].health.counters["messages"]
            report = await send_messages(channel, [build_message(1, prefix="TLS", seed=1)])
            await channel.close()
            return report.acknowledged, engine.runners["tls-1"].health.counters["messages"]
        finally:
            await engine.stop()

    acknowledged, stored = run_on(scenario())
    assert acknowledged == [] and stored == 0


def test_plain_client_cannot_talk_to_tls_listener(tmp_path: Path, pki: dict[str, Path], run_on: Runner) -> None:
    transport = TransportConfig(kind="tcp-server", host="127.0.0.1", port=0, tls_cert=str(pki["server"]))
    settings = make_settings(tmp_path, replace(transport))
    store = open_store(settings)

    async def scenario() -> list[str]:
        engine = Engine(settings, store)
        await engine.start()
        try:
            channel = await open_tcp_channel("127.0.0.1", engine.runners["tls-1"].port)
            report = await asyncio.wait_for(send_messages(channel, [build_message(1, seed=1)]), 30)
            await channel.close()
            return report.acknowledged
        finally:
            await engine.stop()

    assert run_on(scenario()) == []


def test_tcp_client_device_connects_to_a_tls_analyzer(tmp_path: Path, pki: dict[str, Path], run_on: Runner) -> None:
    """The analyzer is the server here (tcp-client mode); we verify its certificate against our CA."""
    from benchlink.storage.store import ResultFilter
    from benchlink.transports.tcp import StreamChannel

    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(str(pki["server"]))
    delivered: list[list[str]] = []

    async def scenario() -> None:
        done = asyncio.Event()

        async def analyzer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            report = await send_messages(StreamChannel(reader, writer), [build_message(1, prefix="CLI", seed=2)])
            delivered.append(report.acknowledged)
            writer.close()
            done.set()

        server = await asyncio.start_server(analyzer, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        transport = TransportConfig(kind="tcp-client", host="127.0.0.1", port=port, tls_ca=str(pki["ca"]))
        settings = make_settings(tmp_path, transport)
        store = open_store(settings)
        engine = Engine(settings, store)
        await engine.start()
        try:
            await asyncio.wait_for(done.wait(), 20)
            await asyncio.sleep(0.1)
            rows = store.results_page(ResultFilter(device="tls-1"), after=None, limit=10)
            assert {r.sample_id for r in rows} == {"CLI000001"}
        finally:
            await engine.stop()
            server.close()

    run_on(scenario())
    assert delivered == [["CLI000001"]]
