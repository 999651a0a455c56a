"""The GUI's two uses of replay: retry a quarantined message, and re-derive results after a
mapping change. Both run on the query thread (blocking) and return a sentence for the operator.

Drivers come from the engine's plugin manager, mappings from the mapping store, so a retry sees
exactly what live ingest would see now (guarantee 2: everything derived can be derived again).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchlink.core.model import Result
from benchlink.storage.mappings import MappingStore
from benchlink.storage.replay import Replayer, ReplayFilter, ReplayReport


def make_decoder(engine: Any) -> Callable[[str, bytes], tuple[Result, ...]]:
    """decode(device, data) with the device's configured driver and encoding."""
    configs = {c.name: c for c in engine.settings.devices}

    def decode(device: str, data: bytes) -> tuple[Result, ...]:
        config = configs.get(device)
        if config is None:
            raise LookupError(f"device {device!r} is no longer configured; add it back to decode its messages")
        driver = engine.plugins.driver(config.driver)
        return tuple(driver.decode(data, encoding=config.encoding or driver.info.encoding or "latin-1").results)

    return decode


def replay(engine: Any, flt: ReplayFilter, actor: str) -> ReplayReport:
    store = engine.store
    mapping = MappingStore(store.engine, store.audit()).to_table()
    return Replayer(store.engine, store.audit()).run(make_decoder(engine), flt, mapping=mapping, actor=actor)


def make_retry(engine: Any) -> Callable[[Any, str], str]:
    def retry(row: Any, actor: str) -> str:
        """Replays this device's messages from the quarantined one on; unchanged ones are left alone."""
        report = replay(engine, ReplayFilter(device=row.device, since=row.received_at, include_quarantined=True),
                        actor)
        still_open = [q for q in engine.store.quarantine_list("open") if q.id == row.id]
        if not still_open:
            return (f"Quarantined message #{row.id} decoded: {report.results_after} result(s) stored "
                    f"from {report.replaced} message(s)")
        first = report.errors[0] if report.errors else "the driver still cannot decode it"
        return f"Message #{row.id} is still undecodable ({first}); fix the device's driver settings and retry"

    return retry


def replay_after_mapping(engine: Any, device: str, actor: str) -> str:
    """After a mapping change for `device` ("*" = every device)."""
    report = replay(engine, ReplayFilter(device=None if device == "*" else device), actor)
    return (f"Replay done: {report.messages} message(s) read, {report.replaced} updated, "
            f"{report.unchanged} unchanged, {report.failed} could not be decoded")
