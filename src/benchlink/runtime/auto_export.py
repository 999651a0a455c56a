"""The usual offline hand-off to a LIS: every new result lands, shortly after arrival, in a file
in a watched folder. Files appear whole (written aside, then renamed) or not at all, and each
result goes out once: what was written is marked exported in the same step."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime
from pathlib import Path

from benchlink.core.events import EventBus, ResultsStored
from benchlink.exporters.errors import ExportError
from benchlink.runtime.export_job import ExportOutcome, ExportRequest, run_export
from benchlink.runtime.logging_setup import get_logger
from benchlink.storage.store import Store

log = get_logger("benchlink.export")
_sequence = itertools.count(1)


class FolderExporter:
    def __init__(self, store: Store, bus: EventBus, folder: Path, *, fmt: str = "csv", interval: float = 2.0) -> None:
        self.store = store
        self.folder = folder
        self.format = fmt
        self.interval = interval
        self._dirty = asyncio.Event()
        self._unsubscribe = bus.subscribe(self._on_event)
        self.files: list[Path] = []

    def _on_event(self, event: object) -> None:
        if isinstance(event, ResultsStored) and event.result_count:
            self._dirty.set()

    def _target(self) -> Path:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        return self.folder / f"benchlink-{stamp}-{next(_sequence):04d}.{self.format}"

    def export_now(self) -> ExportOutcome | None:
        self.folder.mkdir(parents=True, exist_ok=True)
        request = ExportRequest(format=self.format, out=self._target(), new_only=True, actor="auto-export")
        if self.store.count_results(request.filter.__class__(exported=False)) == 0:
            return None
        outcome = run_export(self.store, request)
        self.files.append(outcome.path)
        log.info("exported to watched folder", file=outcome.path.name, results=outcome.results)
        return outcome

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._dirty.set()  # pick up anything left unexported by an earlier run
        try:
            while True:
                await self._dirty.wait()
                self._dirty.clear()
                try:
                    await loop.run_in_executor(None, self.export_now)
                except (OSError, ExportError) as exc:
                    log.error("watched-folder export failed; will retry", folder=str(self.folder), error=str(exc))
                    self._dirty.set()
                await asyncio.sleep(self.interval)
        finally:
            self._unsubscribe()
