"""The engine on its own thread and asyncio loop, so ingest never queues behind Qt painting.

Under one qasync loop, every device read, decode and ACK waited for the GUI's timers and repaints
(and the GUI for them): the bench measured 70 ms stalls and ingest capped near 500 results/s.
Here the engine's loop runs on a dedicated thread; the two sides share only the GIL.

Rules that keep this safe:
- Anything that mutates the engine (enable/disable, apply_devices, mapping reload, stop) runs
  on the engine loop through :meth:`EngineHost.call`; the GUI awaits it with
  ``asyncio.wrap_future`` (the async methods below do exactly that).
- Bus events are published on the engine thread; subscribers must only hand them over
  (the main window's thread-safe queue does).
- Snapshots are frozen dataclasses, built from a copy of the runner table, so reading them from
  the GUI thread never sees a dict change size under it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from benchlink.runtime.event_loop import loop_factory

if TYPE_CHECKING:
    from benchlink.core.events import EventBus
    from benchlink.core.status import DeviceSnapshot
    from benchlink.runtime.engine import Engine
    from benchlink.runtime.settings import DeviceConfig

T = TypeVar("T")

_log = structlog.get_logger("benchlink.gui")


class EngineHostError(RuntimeError):
    """The engine thread is not running (never started, or already stopped): the call was not made."""


class EngineHost:
    """Owns the engine thread: start it, send it work, stop it (engine first, then the loop)."""

    def __init__(self, engine: Engine, *, thread_name: str = "benchlink-engine") -> None:
        self.engine = engine
        self._thread_name = thread_name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped = False
        self._event_loop = engine.settings.event_loop
        self._loop_error = ""

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while the engine thread's loop accepts work."""
        return self._loop is not None and self._thread is not None and self._thread.is_alive() and not self._stopped

    def start(self, *, start_engine: bool = True) -> concurrent.futures.Future[None]:
        """Start the thread; the returned future completes when ``Engine.start()`` has finished.

        Returns at once, so the window can be built while devices come up. With
        ``start_engine=False`` only the loop runs (tests of an engine that is never started).
        """
        if self._thread is not None:
            raise EngineHostError("this engine host was already started; make a new one")
        self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._loop is None:
            raise EngineHostError(f"the engine thread could not create its event loop: {self._loop_error or 'unknown'}")
        if not start_engine:
            done: concurrent.futures.Future[None] = concurrent.futures.Future()
            done.set_result(None)
            return done
        return self.call(self.engine.start)

    def _run(self) -> None:
        try:
            # Never asyncio.new_event_loop(): under qasync the installed policy would hand this thread a
            # second Qt loop. uvloop or the platform's plain loop (selector/proactor), as configured.
            loop = loop_factory(self._event_loop)[1]()
            asyncio.set_event_loop(loop)
            self._loop = loop
        except Exception as exc:
            self._loop_error = str(exc)
            raise
        finally:
            self._ready.set()  # also on failure: start() must not wait forever
        try:
            loop.run_forever()
        finally:
            try:
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    def call(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        """Run ``fn(*args)`` on the engine loop; a coroutine function is awaited there.

        Thread-safe; the future's result (or exception) is the call's. Raises EngineHostError
        when the engine thread is not running, rather than queueing work nobody will do.
        """
        loop = self._loop
        if loop is None or not self.running or loop.is_closed():
            raise EngineHostError("the engine thread is not running; start the EngineHost before calling it")
        if inspect.iscoroutinefunction(fn):
            return asyncio.run_coroutine_threadsafe(fn(*args), loop)

        async def on_loop() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(on_loop(), loop)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`call` for the qasync side: await the engine-thread result without blocking Qt."""
        return await asyncio.wrap_future(self.call(fn, *args))

    async def aclose(self) -> None:
        """Stop the engine on its loop (in-flight commits finish), then end the thread."""
        if self._stopped or self._thread is None:
            return
        # Engine.stop is safe on a never- or half-started engine, and stops devices added later.
        if self.running:
            try:
                await self.run(self.engine.stop)
            except Exception as exc:  # noqa: BLE001 - the thread must still end
                _log.error("engine_stop_failed", error_type=type(exc).__name__)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._end_thread)

    def stop(self, timeout: float = 30.0) -> None:
        """Blocking form of :meth:`aclose`, for code with no running loop (scripts, fixtures)."""
        if self._stopped or self._thread is None:
            return
        if self.running:
            try:
                self.call(self.engine.stop).result(timeout)
            except Exception as exc:  # noqa: BLE001 - the thread must still end
                _log.error("engine_stop_failed", error_type=type(exc).__name__)
        self._end_thread(timeout)

    def _end_thread(self, timeout: float = 30.0) -> None:
        self._stopped = True
        loop, thread = self._loop, self._thread
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(loop.stop)
            except RuntimeError:  # closed between the check and the call
                pass
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                _log.error("engine_thread_did_not_stop", timeout_s=timeout)

    # -- the engine surface the window uses (gui.contracts.GuiEngine) -------------------
    @property
    def bus(self) -> EventBus:
        return self.engine.bus

    @property
    def store(self) -> Any:
        return self.engine.store

    @property
    def settings(self) -> Any:
        return self.engine.settings

    @property
    def plugins(self) -> Any:
        return self.engine.plugins

    @property
    def worklist(self) -> Any:
        return self.engine.worklist

    @property
    def ingestor(self) -> Any:
        return self.engine.ingestor

    def snapshots(self) -> list[DeviceSnapshot]:
        return self.engine.snapshots()  # copies the runner table in C, so safe from this thread

    async def enable_device(self, name: str, enabled: bool) -> None:
        await self.run(self.engine.enable_device, name, enabled)

    async def apply_devices(self, devices: tuple[DeviceConfig, ...]) -> list[str]:
        changed: list[str] = await self.run(self.engine.apply_devices, devices)
        return changed

    async def reload_mappings(self) -> int:
        """Reload the live mapping table; the database read runs in the engine loop's executor."""
        engine = self.engine

        async def reload() -> int:
            return await asyncio.get_running_loop().run_in_executor(None, engine.reload_mappings)

        count: int = await self.run(reload)
        return count
