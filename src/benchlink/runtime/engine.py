"""The engine: every device, one writer, one event bus. The same object runs under the GUI
and headless under ``benchlink serve``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

from benchlink.core.events import EventBus
from benchlink.core.status import DeviceSnapshot, DeviceState
from benchlink.runtime.auto_export import FolderExporter
from benchlink.runtime.device import DeviceRunner
from benchlink.runtime.event_loop import running_loop_name
from benchlink.runtime.ingest import Ingestor
from benchlink.runtime.logging_setup import get_logger
from benchlink.runtime.orders import OrderService
from benchlink.runtime.plugins import PluginManager
from benchlink.runtime.settings import DeviceConfig, Settings
from benchlink.runtime.simulator import simulate_tcp
from benchlink.storage.store import Store
from benchlink.storage.worklist import Worklist
from benchlink.storage.writer import GroupCommitWriter, StoreWriter

log = get_logger("benchlink.engine")

DEMO_DEVICE = "demo-analyzer"


class Engine:
    def __init__(self, settings: Settings, store: Store, *, plugins: PluginManager | None = None,
                 bus: EventBus | None = None, demo_interval: float = 2.0) -> None:
        self.settings = settings
        self.store = store
        self.bus = bus or EventBus()
        self.plugins = plugins or PluginManager()
        self.writer = make_writer(settings, store)
        self.ingestor = Ingestor(self.writer, self.bus, process=self.plugins.process)
        self.worklist = Worklist(store.engine)
        self.orders = OrderService(self.worklist)
        self.runners: dict[str, DeviceRunner] = {}
        #: Configured devices that could not start (unknown driver, bad profile), as error snapshots:
        #: listed with the running ones, so the window, `status` and serve's console show them, not
        #: only the log file.
        self.not_started: dict[str, DeviceSnapshot] = {}
        #: The configuration a runner was started from when it differs from the runner's own:
        #: Connect on a device configured enabled=false runs it with enabled=True, and
        #: apply_devices must compare the configured copy or it would see a change and stop it.
        self._configured: dict[str, DeviceConfig] = {}
        self.demo_interval = demo_interval
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._metrics: asyncio.Server | None = None
        self.folder_exporter: FolderExporter | None = None

    def _make_runner(self, config: DeviceConfig) -> DeviceRunner:
        driver = self.plugins.driver(config.driver)
        return DeviceRunner(config, driver=driver, ingestor=self.ingestor, bus=self.bus, orders=self.orders)

    def reload_mappings(self) -> int:
        """Load the current mapping version into the live ingest path; returns the entry count."""
        from benchlink.storage.mappings import MappingStore

        self.ingestor.mapping = MappingStore(self.store.engine, self.store.audit()).to_table()
        return len(self.ingestor.mapping)

    async def start(self) -> None:
        loaded = await asyncio.get_running_loop().run_in_executor(None, self.reload_mappings)
        log.info("mappings loaded", entries=loaded)
        self.writer.start()
        self._started = True
        for config in self.settings.devices:
            try:
                runner = self._make_runner(config)
            except (KeyError, ValueError) as exc:
                self._not_started(config, exc)
                continue
            self.runners[config.name] = runner
            await runner.start()
        if self.settings.demo and DEMO_DEVICE in self.runners:
            self._tasks.append(asyncio.create_task(self._demo_loop(), name="demo-analyzer"))
        self._tasks.append(asyncio.create_task(self._status_loop(), name="status-file"))
        if self.settings.export_folder is not None:
            self.folder_exporter = FolderExporter(self.store, self.bus, self.settings.export_folder,
                                                  fmt=self.settings.export_format)
            self._tasks.append(asyncio.create_task(self.folder_exporter.run(), name="watched-folder-export"))
        if self.settings.status_port:
            from benchlink.runtime.metrics import start_metrics_server

            try:
                self._metrics = await start_metrics_server(self.settings.status_port, self.snapshots)
                log.info("metrics endpoint", url=f"http://127.0.0.1:{self.settings.status_port}/metrics")
            except OSError as exc:
                log.error("metrics endpoint not started", port=self.settings.status_port, error=str(exc))
        log.info("engine started", devices=len(self.runners))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - shutting down
                pass
        self._tasks.clear()
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None
        await asyncio.gather(*(runner.stop() for runner in self.runners.values()), return_exceptions=True)
        if self._started:
            await asyncio.get_running_loop().run_in_executor(None, self.writer.stop)
            self._started = False
        self._write_status()
        log.info("engine stopped")

    def _not_started(self, config: DeviceConfig, exc: Exception) -> None:
        reason = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        self.not_started[config.name] = DeviceSnapshot(
            name=config.name, driver=config.driver, transport=config.transport.describe(),
            state=DeviceState.ERROR, reason=f"not started: {reason}")
        log.error("device not started", device=config.name, error=reason)

    def snapshots(self) -> list[DeviceSnapshot]:
        # list() copies in C, under the GIL: the GUI reads this from its own thread.
        return [runner.health.snapshot() for runner in list(self.runners.values())] + list(self.not_started.values())

    async def apply_devices(self, devices: tuple[DeviceConfig, ...], *, actor: str | None = None) -> list[str]:
        """Bring the running devices in line with a new configuration, touching only the
        devices whose configuration changed; returns the names restarted, added or removed."""
        wanted = {d.name: d for d in devices}
        for name in [n for n in self.not_started if n not in wanted]:
            del self.not_started[name]
        changed: list[str] = []
        for name in [n for n in self.runners if n not in wanted and n != DEMO_DEVICE]:
            self._configured.pop(name, None)
            await self.runners.pop(name).stop()
            changed.append(name)
            log.info("device removed", device=name)
        for name, config in wanted.items():
            current = self.runners.get(name)
            if current is not None and self._configured.get(name, current.config) == config:
                continue
            self._configured.pop(name, None)
            if current is not None:
                await current.stop()
            try:
                runner = self._make_runner(config)
            except (KeyError, ValueError) as exc:
                self._not_started(config, exc)
                self.runners.pop(name, None)
                changed.append(name)
                continue
            self.not_started.pop(name, None)
            self.runners[name] = runner
            await runner.start()
            changed.append(name)
            log.info("device reconfigured" if current is not None else "device added", device=name)
        if actor is not None and changed:
            before = {d.name: d for d in self.settings.devices}
            entries = [(name, _device_audit(before.get(name)), _device_audit(wanted.get(name))) for name in changed]
            await asyncio.get_running_loop().run_in_executor(None, self._audit_devices, actor, entries)
        self.settings = replace(self.settings, devices=devices)
        return changed

    def _audit_devices(self, actor: str, entries: list[tuple[str, dict[str, object] | None,
                                                             dict[str, object] | None]]) -> None:
        audit = self.store.audit()
        for name, before, after in entries:
            action = "device.add" if before is None else "device.remove" if after is None else "device.edit"
            audit.append(actor, action, name, before, after)

    async def watch_config(self, interval: float = 2.0) -> None:
        """Re-read the config file when it changes; a broken edit is logged and ignored."""
        from benchlink.runtime.settings import ConfigError, parse_devices, read_toml

        path = self.settings.config_file
        last = path.stat().st_mtime_ns if path.exists() else 0
        while True:
            await asyncio.sleep(interval)
            mtime = path.stat().st_mtime_ns if path.exists() else 0
            if mtime == last:
                continue
            last = mtime
            try:
                devices = parse_devices(read_toml(path).get("device"), str(path)) if path.exists() else ()
            except ConfigError as exc:
                log.error("configuration change ignored", error=str(exc))
                continue
            if self.settings.demo:
                demo = [d for d in self.settings.devices if d.name == DEMO_DEVICE]
                devices = (*devices, *demo)
            await self.apply_devices(devices, actor="config-file")

    async def enable_device(self, name: str, enabled: bool) -> None:
        """Connect or disconnect one device by hand until the operator says otherwise; a later
        apply_devices leaves it alone unless its configuration is the thing that changed."""
        runner = self.runners[name]
        await runner.stop()
        if enabled:
            configured = self._configured.get(name, runner.config)
            fresh = self._make_runner(replace(runner.config, enabled=True))
            if fresh.config != configured:
                self._configured[name] = configured
            self.runners[name] = fresh
            await fresh.start()
        else:
            runner.health.set_state(DeviceState.DISABLED, "disconnected by operator")

    def _next_demo_index(self) -> int:
        """One past the newest demo sample stored: a restarted demo sends new samples, where starting
        at 1 again re-sent identical messages that were only logged as duplicates (no new results)."""
        from benchlink.storage.store import ResultFilter

        newest = self.store.results_page(ResultFilter(device=DEMO_DEVICE), limit=1)
        digits = newest[0].sample_id.removeprefix("DEMO") if newest else ""
        return int(digits) + 1 if digits.isdigit() else 1

    async def _demo_loop(self) -> None:
        runner = self.runners[DEMO_DEVICE]
        await runner.listening.wait()
        try:
            index = await asyncio.get_running_loop().run_in_executor(None, self._next_demo_index)
        except Exception as exc:  # noqa: BLE001 - a demo that starts over still demonstrates
            log.warning("demo analyzer starts at sample 1", error_type=type(exc).__name__)
            index = 1
        while True:
            try:
                await simulate_tcp("127.0.0.1", runner.port, count=1, start=index, prefix="DEMO", seed=index)
            except (OSError, TimeoutError) as exc:
                log.warning("demo analyzer could not send", error=str(exc))
            index += 1
            await asyncio.sleep(self.demo_interval)

    async def _status_loop(self) -> None:
        while True:
            self._write_status()
            await asyncio.sleep(1.0)

    def commit_latency_ms(self) -> dict[str, float]:
        """p50/p99 from a message's last byte to its commit, over the last 10,000 messages: the
        part of an analyzer's wait for its ACK that this process is responsible for."""
        recent = sorted(self.ingestor.latencies)
        if not recent:
            return {}
        return {"p50": round(recent[len(recent) // 2] * 1000, 2),
                "p99": round(recent[int(len(recent) * 0.99)] * 1000, 2), "count": float(len(recent))}

    def _write_status(self) -> None:
        path = self.settings.state_file
        payload = {
            "pid": os.getpid(),
            "updated": time.time(),
            "running": self._started,
            "event_loop": running_loop_name(),
            "commit_latency_ms": self.commit_latency_ms(),
            "devices": [s.as_json() for s in self.snapshots()],
            "not_started": list(self.not_started),
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            # No indent: json's C encoder only runs without one (4x faster for 200 devices).
            tmp.write_text(json.dumps(payload), encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("status file not written", error=str(exc))


def _device_audit(config: DeviceConfig | None) -> dict[str, object] | None:
    if config is None:
        return None
    return json.loads(json.dumps(asdict(config), default=str))


def make_writer(settings: Settings, store: Store) -> GroupCommitWriter:
    """The process writer when the database can be opened a second time by URL (a file or a
    server); an in-memory database only exists inside this process, so it keeps the thread."""
    if settings.writer == "process":
        from benchlink.storage.writer_process import ProcessStoreWriter, writer_target

        target = writer_target(store.engine)
        if target is not None:
            return ProcessStoreWriter(target, max_batch=256)
    return StoreWriter(store)


def read_status(path: Path) -> dict[str, object] | None:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None
