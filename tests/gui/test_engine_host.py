"""The engine on its own thread and loop: calls cross over and back, stopping is clean, and the
GUI's reader drops counts nobody will see."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from benchlink.core.events import ResultsStored
from benchlink.gui.engine_host import EngineHost, EngineHostError
from benchlink.gui.queries import QueryRunner
from benchlink.runtime.engine import Engine
from benchlink.storage.store import Store

from .conftest import demo_device, gui_settings, run_on


def test_calls_run_on_the_engine_thread_and_results_come_back(
    qtbot: Any, loop: Any, store: Store, tmp_path: Path
) -> None:
    host = EngineHost(Engine(gui_settings(tmp_path), store))
    host.start().result(timeout=10)
    try:
        async def where() -> int:
            return threading.get_ident()

        assert host.call(where).result(timeout=5) != threading.get_ident()
        assert host.call(lambda a, b: a + b, 2, 3).result(timeout=5) == 5  # plain callables too
        assert run_on(loop, qtbot, host.run(where)) == host.call(where).result(timeout=5)

        async def boom() -> None:
            raise ValueError("from the engine loop")

        with pytest.raises(ValueError, match="engine loop"):
            run_on(loop, qtbot, host.run(boom))
    finally:
        host.stop()
    assert not host.running
    with pytest.raises(EngineHostError, match="not running"):
        host.call(lambda: None)


def test_events_come_from_the_engine_thread_and_stop_commits_and_records_it(
    qtbot: Any, loop: Any, store: Store, tmp_path: Path
) -> None:
    settings = gui_settings(tmp_path, demo_device(), demo=True)
    host = EngineHost(Engine(settings, store, demo_interval=0.05))
    publishers: set[str] = set()
    stored: list[ResultsStored] = []

    def on_event(event: object) -> None:
        if isinstance(event, ResultsStored):
            publishers.add(threading.current_thread().name)
            stored.append(event)

    host.bus.subscribe(on_event)

    async def start() -> None:
        await asyncio.wrap_future(host.start())

    try:
        run_on(loop, qtbot, start())
        qtbot.waitUntil(lambda: len(stored) >= 2, timeout=10_000)
        run_on(loop, qtbot, host.aclose())  # from the qasync side, as the app closes
    finally:
        host.stop()
    assert publishers == {"benchlink-engine"}
    assert not host.running
    status = json.loads(settings.state_file.read_text(encoding="utf-8"))
    assert status["running"] is False  # Engine.stop ran to the end on its own loop
    # Every stored-result event names a message that is really in the database.
    ids = {event.message_id for event in stored}
    assert all(store.raw_message(message_id) is not None for message_id in ids)
    host.stop()  # a second stop is a no-op, not a hang
    assert not host.running


def test_a_superseded_query_is_dropped_before_it_runs(qtbot: Any, loop: Any) -> None:
    runner = QueryRunner(name="test-count")
    gate = threading.Event()
    ran: list[str] = []
    answered: list[str] = []

    def query(name: str) -> Any:
        def run() -> str:
            if name == "blocker":
                gate.wait(5)
            ran.append(name)
            return name
        return run

    runner.submit(query("blocker"), answered.append)
    runner.submit(query("old filter"), answered.append, supersede="count")
    runner.submit(query("new filter"), answered.append, supersede="count")
    gate.set()
    run_on(loop, qtbot, runner.drain())
    runner.close()
    assert ran == ["blocker", "new filter"]
    assert answered == ["blocker", "new filter"]


def test_a_device_that_could_not_start_is_listed_as_an_error_until_removed(store: Store, tmp_path: Path) -> None:
    from dataclasses import replace as dc_replace

    from benchlink.core.status import DeviceState

    broken = dc_replace(demo_device(), name="chem-x", driver="nope")
    host = EngineHost(Engine(gui_settings(tmp_path, broken, demo_device()), store))
    host.start().result(timeout=10)
    try:
        snaps = {s.name: s for s in host.snapshots()}
        assert set(snaps) == {"chem-x", "demo-analyzer"}
        assert snaps["chem-x"].state == DeviceState.ERROR
        assert snaps["chem-x"].reason.startswith("not started: no driver named 'nope'")
        host.call(host.engine.apply_devices, (demo_device(),)).result(timeout=10)
        assert [s.name for s in host.snapshots()] == ["demo-analyzer"]
    finally:
        host.stop()
