"""The typed wrapper around pluggy: load, isolate, and list plugins.

A plugin that fails to import, register, or answer a hook is recorded as failed and left
out; the application carries on (DESIGN: plugins cannot take the house down).
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from types import ModuleType

import pluggy

from benchlink.core import hookspecs
from benchlink.core.driver import Driver
from benchlink.runtime.logging_setup import get_logger

log = get_logger("benchlink.plugins")


@dataclass(frozen=True, slots=True)
class PluginRecord:
    name: str
    version: str
    state: str  # "loaded" | "failed" | "disabled"
    error: str = ""
    builtin: bool = False


class PluginManager:
    def __init__(self, *, load_entry_points: bool = True) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self.records: list[PluginRecord] = []
        from benchlink.drivers import builtin

        self._register(builtin, "benchlink-builtin", _version(), builtin=True)
        if load_entry_points:
            self._load_entry_points()
        self._pm.check_pending()
        self._drivers: dict[str, Driver] | None = None

    def _register(self, module: ModuleType | object, name: str, version: str, *, builtin: bool = False) -> None:
        try:
            self._pm.register(module, name=name)
        except Exception as exc:  # noqa: BLE001 - isolate the plugin, keep the app
            self.records.append(PluginRecord(name, version, "failed", f"{type(exc).__name__}: {exc}", builtin))
            log.warning("plugin failed to register", plugin=name, error=str(exc))
            return
        self.records.append(PluginRecord(name, version, "loaded", "", builtin))

    def _load_entry_points(self) -> None:
        for ep in importlib.metadata.entry_points(group=hookspecs.PROJECT_NAME):
            dist = ep.dist.name if ep.dist is not None else ep.name
            version = ep.dist.version if ep.dist is not None else ""
            try:
                module = ep.load()
            except Exception as exc:  # noqa: BLE001 - isolate the plugin, keep the app
                self.records.append(PluginRecord(dist, version, "failed", f"import: {type(exc).__name__}: {exc}"))
                log.warning("plugin failed to import", plugin=dist, error=str(exc))
                continue
            self._register(module, dist, version)

    def drivers(self) -> dict[str, Driver]:
        if self._drivers is not None:
            return self._drivers
        found: dict[str, Driver] = {}
        for impl in self._pm.hook.benchlink_register_drivers.get_hookimpls():
            try:
                provided = impl.function()
            except Exception as exc:  # noqa: BLE001 - isolate the plugin, keep the app
                self._mark_failed(impl.plugin_name, f"benchlink_register_drivers: {type(exc).__name__}: {exc}")
                continue
            for driver in provided or []:
                found.setdefault(driver.info.name, driver)
        self._drivers = found
        return found

    def _mark_failed(self, name: str, error: str) -> None:
        self.records = [
            PluginRecord(r.name, r.version, "failed", error, r.builtin) if r.name == name else r for r in self.records
        ]
        log.warning("plugin disabled after a hook failed", plugin=name, error=error)

    def driver(self, name: str) -> Driver:
        drivers = self.drivers()
        if name not in drivers:
            raise KeyError(f"no driver named {name!r}; installed drivers: {', '.join(sorted(drivers)) or 'none'}")
        return drivers[name]


def _version() -> str:
    from benchlink import __version__

    return __version__
