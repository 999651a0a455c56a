"""GUI test fixtures: offscreen Qt, one qasync loop for the session, a real encrypted store.

The qasync loop is made the thread's running loop only for the duration of each GUI test:
left installed, it would make every later `asyncio.run` in the same session refuse to start.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import qasync
from PySide6.QtWidgets import QApplication

from benchlink.core.model import Result
from benchlink.runtime.settings import DeviceConfig, Settings, TransportConfig
from benchlink.storage.database import open_engine
from benchlink.storage.keys import load_or_create_key
from benchlink.storage.store import InboundMessage, Store

T = TypeVar("T")


@pytest.fixture(scope="session")
def qloop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.events._set_running_loop(None)
    yield loop
    loop.stop()
    asyncio.events._set_running_loop(None)
    loop.close()


@pytest.fixture
def loop(qloop: qasync.QEventLoop) -> Iterator[qasync.QEventLoop]:
    asyncio.events._set_running_loop(qloop)
    try:
        yield qloop
    finally:
        asyncio.events._set_running_loop(None)


def run_on(
    loop: asyncio.AbstractEventLoop, qtbot: Any, coro: Coroutine[Any, Any, T], timeout: int = 10_000
) -> T:
    """Drive a coroutine to completion by spinning Qt, which is what runs the qasync loop."""
    task = loop.create_task(coro)
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


def gui_settings(tmp_path: Path, *devices: DeviceConfig, demo: bool = False) -> Settings:
    home = tmp_path / "home"
    return Settings(
        home=home,
        config_file=home / "config.toml",
        key_file=tmp_path / "benchlink.key",
        use_keyring=False,
        devices=devices,
        demo=demo,
    )


def demo_device() -> DeviceConfig:
    """The engine's demo analyzer, on an ephemeral port so parallel runs cannot collide."""
    return DeviceConfig(name="demo-analyzer", driver="astm",
                        transport=TransportConfig(kind="tcp-server", host="127.0.0.1", port=0))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return gui_settings(tmp_path)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """A real SQLCipher file keyed from a temp key file (what runtime.bootstrap.open_store does)."""
    settings.home.mkdir(parents=True, exist_ok=True)
    key = load_or_create_key(key_file=settings.key_file, use_keyring=False)
    store = Store(open_engine(None, path=settings.database_path, key=key))
    store.migrate()
    yield store
    store.engine.dispose()


def seed_results(
    store: Store,
    count: int,
    *,
    device: str = "analyzer-1",
    per_message: int = 1,
    start: int = 0,
    unmapped_every: int = 0,
    received_at: datetime | None = None,
) -> None:
    """Commit `count` results through the real write path, oldest first (ids ascend)."""
    when = received_at or datetime.now().astimezone()
    messages = []
    for m in range(start, start + count // per_message):
        results = tuple(
            Result(
                sample_id=f"S{m:05d}",
                instrument_code=f"T{k}",
                lis_code="" if unmapped_every and (m * per_message + k) % unmapped_every == 0 else f"LIS{k}",
                test_name=f"Test {k}",
                value=str(m + k),
                units="mmol/L",
                flags="H" if m % 5 == 0 else "N",
                patient_id=f"P{m % 7}",
                status="F",
            )
            for k in range(per_message)
        )
        messages.append(
            InboundMessage(device=device, protocol="astm", data=f"msg-{device}-{m}".encode(),
                           received_at=when + timedelta(microseconds=m), results=results)
        )
    store.commit_inbound(messages)


@pytest.fixture
def qsettings(tmp_path: Path) -> Any:
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat)


def hosted(engine: Any, *, start_engine: bool = False) -> Any:
    """The engine on its own thread and loop, exactly as the app runs it (gui.engine_host)."""
    from benchlink.gui.engine_host import EngineHost

    host = EngineHost(engine)
    host.start(start_engine=start_engine).result(timeout=10)
    return host


@pytest.fixture
def idle_engine(store: Store, tmp_path: Path) -> Iterator[Any]:
    """A real engine with no devices, never started, hosted on its thread: the window must cope."""
    from benchlink.runtime.engine import Engine

    host = hosted(Engine(gui_settings(tmp_path), store))
    yield host
    host.stop()


def open_window(qtbot: Any, engine: Any, qsettings: Any, **kwargs: Any) -> Any:
    from benchlink.gui.main_window import MainWindow

    window = MainWindow(engine, settings=qsettings, **kwargs)
    qtbot.addWidget(window)
    window.show()
    return window


def close_window(qtbot: Any, window: Any) -> None:
    with qtbot.waitSignal(window.closed, timeout=2000):
        window.close()


def quarantine_message(store: Store, data: bytes, error: str, *, device: str = "xn") -> int:
    """A real quarantined message through the real write path; returns its quarantine id."""
    outcome = store.commit_inbound([InboundMessage(device=device, protocol="astm", data=data,
                                                   received_at=datetime.now().astimezone(),
                                                   decode_status="quarantined", error=error)])[0]
    assert outcome.quarantine_id is not None
    return int(outcome.quarantine_id)
