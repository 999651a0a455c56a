"""The engine's event loop choice: uvloop where installed, the standard loop on request or without it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from benchlink.runtime import event_loop
from benchlink.runtime.event_loop import EventLoopUnavailable, loop_factory, run, running_loop_name
from benchlink.runtime.settings import ConfigError, load_settings


def _need_uvloop() -> None:
    pytest.importorskip("uvloop", reason="uvloop is not installed (it does not exist on Windows)")


async def _which() -> tuple[str, str]:
    return running_loop_name(), type(asyncio.get_running_loop()).__module__


def test_auto_picks_uvloop_when_installed() -> None:
    _need_uvloop()
    name, module = run(_which(), "auto")
    assert name == "uvloop" and module.startswith("uvloop")


def test_asyncio_choice_takes_the_standard_loop() -> None:
    name, module = run(_which(), "asyncio")
    assert name == "asyncio" and module.startswith("asyncio")


def test_without_uvloop_auto_falls_back_and_uvloop_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # What a Windows PC sees: the import fails.
    monkeypatch.setitem(sys.modules, "uvloop", None)
    assert loop_factory("auto")[0] == "asyncio"
    assert run(_which(), "auto")[0] == "asyncio"
    with pytest.raises(EventLoopUnavailable, match="pip install uvloop") as info:
        loop_factory("uvloop")
    assert isinstance(info.value, ConfigError)  # the CLI reports it as a configuration error, not a traceback


def test_unknown_choice_is_refused() -> None:
    with pytest.raises(ValueError, match="auto, uvloop, asyncio"):
        loop_factory("trio")


def test_setting_from_file_and_environment(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[serve]\nevent_loop = "asyncio"\n', encoding="utf-8")
    assert load_settings(home=tmp_path, environ={}).event_loop == "asyncio"
    assert load_settings(home=tmp_path, environ={"BENCHLINK_EVENT_LOOP": "uvloop"}).event_loop == "uvloop"
    assert load_settings(home=tmp_path / "other", environ={}).event_loop == "auto"
    with pytest.raises(ConfigError, match="BENCHLINK_EVENT_LOOP"):
        load_settings(home=tmp_path, environ={"BENCHLINK_EVENT_LOOP": "trio"})


def test_uvloop_runs_loopback_tcp_through_the_engine_transports() -> None:
    """The transports use only the asyncio API; on uvloop a round trip still works byte for byte."""
    _need_uvloop()
    from benchlink.transports.tcp import StreamChannel, bound_port, open_tcp_channel, start_tcp_server

    async def main() -> bytes:
        got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

        async def on_connect(channel: StreamChannel) -> None:
            data = await channel.read()
            channel.write(data[::-1])
            await channel.drain()
            got.set_result(data)

        server = await start_tcp_server("127.0.0.1", 0, on_connect)
        client = await open_tcp_channel("127.0.0.1", bound_port(server))
        client.write(b"\x05ENQ")
        await client.drain()
        echoed = await client.read()
        await got
        await client.close()
        server.close()
        return echoed

    assert event_loop.run(main(), "uvloop") == b"QNE\x05"

