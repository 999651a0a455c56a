"""The typed wrapper around pluggy: load, check, isolate and list plugins.

Loading follows tox's manager: register the built-ins and every ``benchlink`` entry point,
then ``check_pending()`` so a hook the API does not know is rejected instead of silently
never called. Unlike tox, a bad plugin never stops the application: a plugin that fails to
import, to register, declares an API range we do not provide, or raises in a hook is
unregistered and *recorded* (``benchlink plugins`` and the GUI's Plugins view show the
records); everything else goes on (DESIGN guarantee 7).

All registration hooks are called once, eagerly, at construction, so a failure surfaces at
start-up in the plugin list rather than when the first message of some device arrives.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pluggy

from benchlink.core import hookspecs
from benchlink.core.driver import Driver, DriverInfo
from benchlink.core.model import Result
from benchlink.core.plugin_api import CodecInfo, ExporterInfo, ResultProcessor, SimulatorProfile, describe
from benchlink.runtime.logging_setup import get_logger

log = get_logger("benchlink.plugins")

#: Extra TOML device profiles: a path list separated like PATH (files or directories).
PROFILES_ENV = "BENCHLINK_PROFILES"

LOADED = "loaded"
FAILED = "failed"
INCOMPATIBLE = "incompatible"


@dataclass(frozen=True, slots=True)
class PluginRecord:
    """One row of ``benchlink plugins``: what was found and whether it runs."""

    name: str
    version: str
    state: str  # "loaded" | "failed" | "incompatible"
    error: str = ""
    builtin: bool = False
    provides: tuple[str, ...] = ()
    api: str = ""


# --------------------------------------------------------------------------- API versions

_CLAUSE = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(\d+(?:\.\d+)*)\s*$")


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = [int(p) for p in text.split(".")]
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts)


def api_compatible(spec: str, version: str = hookspecs.PLUGIN_API_VERSION) -> bool:
    """Whether ``version`` satisfies a range like ``">=1.0,<2"``; ValueError if unreadable."""
    if not spec.strip():
        raise ValueError("the plugin declared an empty API range")
    have = _version_tuple(version)
    for clause in spec.split(","):
        match = _CLAUSE.match(clause)
        if match is None:
            raise ValueError(f"cannot read API range clause {clause.strip()!r} (write e.g. '>=1.0,<2')")
        op, text = match.groups()
        want = _version_tuple(text)
        ok = {
            ">=": have >= want, "<=": have <= want, ">": have > want, "<": have < want,
            "==": have[: len(text.split("."))] == want[: len(text.split("."))],
            "!=": have[: len(text.split("."))] != want[: len(text.split("."))],
        }[op]
        if not ok:
            return False
    return True


# --------------------------------------------------------------------------- validation


def _is_driver(obj: object) -> bool:
    info = getattr(obj, "info", None)
    return (isinstance(info, DriverInfo) and bool(info.name) and info.protocol in ("astm", "hl7")
            and callable(getattr(obj, "decode", None)) and callable(getattr(obj, "answer_query", None)))


def _is_profile(obj: object) -> bool:
    return (isinstance(getattr(obj, "name", None), str) and getattr(obj, "protocol", None) in ("astm", "hl7")
            and callable(getattr(obj, "message", None)))


_CHECKS: dict[str, tuple[str, Callable[[object], bool]]] = {
    "benchlink_register_drivers": ("driver", _is_driver),
    "benchlink_codecs": ("codec", lambda o: isinstance(o, CodecInfo)),
    "benchlink_exporters": ("exporter", lambda o: isinstance(o, ExporterInfo) and callable(o.write)),
    "benchlink_result_processors": ("processor", lambda o: isinstance(o, ResultProcessor)),
    "benchlink_simulator_profiles": ("simulator profile", _is_profile),
    "benchlink_device_profiles": ("device profile", lambda o: isinstance(o, (str, Path))),
}


class PluginError(RuntimeError):
    """A plugin misbehaved; the message names the plugin and the hook."""


@dataclass
class _Provided:
    drivers: list[Driver]
    codecs: list[CodecInfo]
    exporters: list[ExporterInfo]
    processors: list[ResultProcessor]
    profiles: list[SimulatorProfile]


class PluginManager:
    """Everything plugins provide, by name, with a record of every plugin's state."""

    def __init__(
        self,
        *,
        load_entry_points: bool = True,
        plugins: Sequence[tuple[str, object]] = (),
        profile_paths: Sequence[Path | str] = (),
    ) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self.records: list[PluginRecord] = []
        self._drivers: dict[str, Driver] = {}
        self._codecs: dict[str, CodecInfo] = {}
        self._exporters: dict[str, ExporterInfo] = {}
        self._processors: list[tuple[str, ResultProcessor]] = []
        self._profiles: dict[str, SimulatorProfile] = {}
        self._owner: dict[str, str] = {}

        from benchlink.drivers import builtin
        from benchlink.runtime import builtin_exporters

        order: list[str] = []
        for name, module in (("benchlink-builtin", builtin), ("benchlink-exporters", builtin_exporters)):
            if self._register(module, name, _version(), builtin=True):
                order.append(name)
        if load_entry_points:
            order += self._load_entry_points()
        for name, plugin in plugins:
            if self._register(plugin, name, str(getattr(plugin, "__version__", ""))):
                order.append(name)
        self._check_pending()
        for name in order:
            if self._pm.get_plugin(name) is not None:
                self._admit(name)
        env_paths = [p for p in os.environ.get(PROFILES_ENV, "").split(os.pathsep) if p]
        for path in [*profile_paths, *env_paths]:
            self._load_profile_path(Path(path))

    # -- loading ---------------------------------------------------------------------------
    def _record(self, record: PluginRecord) -> None:
        self.records = [r for r in self.records if r.name != record.name] + [record]

    def _find(self, name: str) -> PluginRecord | None:
        return next((r for r in self.records if r.name == name), None)

    def _fail(self, name: str, error: str, *, state: str = FAILED) -> None:
        """Disable a plugin: unregister it, forget what it provided, record why."""
        plugin = self._pm.get_plugin(name)
        if plugin is not None:
            self._pm.unregister(plugin, name=name)
        previous = self._find(name)
        base = previous or PluginRecord(name, "", state)
        self._record(replace(base, state=state, error=error, provides=()))
        for kind in (self._drivers, self._codecs, self._exporters, self._profiles):
            for key in [k for k in kind if self._owner.get(f"{id(kind)}:{k}") == name]:
                del kind[key]
        self._processors = [(owner, p) for owner, p in self._processors if owner != name]
        log.warning("plugin disabled", plugin=name, state=state, error=error)

    def _register(self, plugin: object, name: str, version: str, *, builtin: bool = False) -> bool:
        try:
            self._pm.register(plugin, name=name)
        except Exception as exc:  # noqa: BLE001 - isolate the plugin, keep the app
            self._record(PluginRecord(name, version, FAILED, f"register: {type(exc).__name__}: {exc}", builtin))
            log.warning("plugin failed to register", plugin=name, error=str(exc))
            return False
        self._record(PluginRecord(name, version, LOADED, "", builtin))
        return True

    def _load_entry_points(self) -> list[str]:
        loaded: list[str] = []
        eps = importlib.metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP)
        for ep in sorted(eps, key=lambda e: e.name):
            dist = ep.dist.name if ep.dist is not None else ep.name
            version = ep.dist.version if ep.dist is not None else ""
            try:
                module = ep.load()
            except Exception as exc:  # noqa: BLE001 - isolate the plugin, keep the app
                self._record(PluginRecord(dist, version, FAILED, f"import: {type(exc).__name__}: {exc}"))
                log.warning("plugin failed to import", plugin=dist, error=str(exc))
                continue
            if self._register(module, dist, version):
                loaded.append(dist)
        return loaded

    def _check_pending(self) -> None:
        """tox's ``check_pending``, except that the offending plugin is disabled, not fatal."""
        for _ in range(len(self.records) + 1):
            try:
                self._pm.check_pending()
                return
            except pluggy.PluginValidationError as exc:
                name = self._pm.get_name(exc.plugin) or describe(exc.plugin)
                self._fail(name, f"unknown hook: {exc} (this Benchlink provides plugin API "
                                 f"{hookspecs.PLUGIN_API_VERSION}; see docs/plugins.md for the hooks)")

    def _impl(self, hook: str, name: str) -> Any:
        caller = getattr(self._pm.hook, hook)
        for impl in caller.get_hookimpls():
            if impl.plugin_name == name:
                return impl
        return None

    def _admit(self, name: str) -> None:
        """Check the API range, then call every registration hook of one plugin."""
        record = self._find(name)
        assert record is not None
        api = ""
        impl = self._impl("benchlink_api_version", name)
        if impl is not None:
            try:
                api = str(impl.function())
                compatible = api_compatible(api)
            except Exception as exc:  # noqa: BLE001 - a broken version hook disables the plugin
                self._fail(name, f"benchlink_api_version: {type(exc).__name__}: {exc}", state=INCOMPATIBLE)
                return
            if not compatible:
                self._fail(name, f"plugin supports API {api}; this Benchlink provides "
                                 f"{hookspecs.PLUGIN_API_VERSION}; upgrade the plugin or Benchlink",
                           state=INCOMPATIBLE)
                return
        collected: dict[str, list[object]] = {}
        for hook, (label, check) in _CHECKS.items():
            impl = self._impl(hook, name)
            if impl is None:
                continue
            try:
                returned = impl.function()
            except Exception as exc:  # noqa: BLE001 - isolate the plugin, keep the app
                self._fail(name, f"{hook}: {type(exc).__name__}: {exc}")
                return
            items = list(returned or [])
            bad = [item for item in items if not check(item)]
            if bad:
                self._fail(name, f"{hook} returned {describe(bad[0])!r}, which is not a {label}")
                return
            collected[hook] = items
        drivers: list[Driver] = [d for d in collected.get("benchlink_register_drivers", [])]  # type: ignore[misc]
        for path in collected.get("benchlink_device_profiles", []):
            from benchlink.drivers.profile import ProfileError, load_profile

            try:
                drivers.append(load_profile(Path(str(path))))
            except ProfileError as exc:
                self._fail(name, f"benchlink_device_profiles: {exc}")
                return
        provides: list[str] = []
        notes: list[str] = []
        self._add(name, self._drivers, [(d.info.name, d) for d in drivers], "driver", provides, notes)
        self._add(name, self._codecs, [(c.name, c) for c in collected.get("benchlink_codecs", [])],  # type: ignore[attr-defined]
                  "codec", provides, notes)
        self._add(name, self._exporters, [(e.name, e) for e in collected.get("benchlink_exporters", [])],  # type: ignore[attr-defined]
                  "exporter", provides, notes)
        self._add(name, self._profiles, [(p.name, p) for p in collected.get("benchlink_simulator_profiles", [])],  # type: ignore[attr-defined]
                  "simulator", provides, notes)
        for processor in collected.get("benchlink_result_processors", []):
            self._processors.append((name, processor))  # type: ignore[arg-type]
            provides.append(f"processor:{describe(processor)}")
        self._record(replace(record, provides=tuple(provides), api=api,
                             error="; ".join(notes) or ("" if api else "declares no API range (assumed compatible)")))

    def _add(self, owner: str, table: dict[str, Any], items: Iterable[tuple[str, object]], label: str,
             provides: list[str], notes: list[str]) -> None:
        for key, item in items:
            if key in table:
                notes.append(f"{label} {key!r} already provided by {self._owner[f'{id(table)}:{key}']}; ignored")
                continue
            table[key] = item
            self._owner[f"{id(table)}:{key}"] = owner
            provides.append(f"{label}:{key}")

    def _load_profile_path(self, path: Path) -> None:
        from benchlink.drivers.profile import ProfileError, load_profile

        files = sorted(path.glob("*.toml")) if path.is_dir() else [path]
        for file in files:
            name = f"profile:{file.name}"
            try:
                driver = load_profile(file)
            except ProfileError as exc:
                self._record(PluginRecord(name, "", FAILED, str(exc)))
                log.warning("device profile rejected", profile=str(file), error=str(exc))
                continue
            notes: list[str] = []
            provides: list[str] = []
            self._add(name, self._drivers, [(driver.info.name, driver)], "driver", provides, notes)
            self._record(PluginRecord(name, "", LOADED, "; ".join(notes), provides=tuple(provides)))

    # -- what plugins provide ----------------------------------------------------------------
    def drivers(self) -> dict[str, Driver]:
        return dict(self._drivers)

    def driver(self, name: str) -> Driver:
        """A driver by name; a path ending in ``.toml`` loads that profile (ProfileError if bad)."""
        if name in self._drivers:
            return self._drivers[name]
        if name.endswith(".toml"):
            from benchlink.drivers.profile import load_profile

            return load_profile(Path(name))
        raise KeyError(f"no driver named {name!r}; installed drivers: {', '.join(sorted(self._drivers)) or 'none'}")

    def codecs(self) -> dict[str, CodecInfo]:
        return dict(self._codecs)

    def exporters(self) -> dict[str, ExporterInfo]:
        return dict(self._exporters)

    def simulator_profiles(self) -> dict[str, SimulatorProfile]:
        return dict(self._profiles)

    def processors(self) -> list[ResultProcessor]:
        return [p for _, p in self._processors]

    def process(self, device: str, result: Result) -> Result:
        """Run every result processor; one that raises (or returns no Result) is disabled,
        its plugin reported as failed, and the result passes on unchanged."""
        for owner, processor in list(self._processors):
            try:
                out = processor.process(device, result)
                if not isinstance(out, Result):
                    raise PluginError(f"returned {type(out).__name__}, not a Result")
            except Exception as exc:  # noqa: BLE001 - isolate the plugin, keep the result
                self._fail(owner, f"result processor {describe(processor)!r}: {type(exc).__name__}: {exc}")
                continue
            result = out
        return result

    def detect(self, capture: bytes) -> tuple[Driver, str] | None:
        """Pick a driver for a capture from its header; None when no codec recognises it.

        The first codec whose ``sniff`` accepts the capture splits it; the sender text of its
        first messages is matched against every driver's ``sender_patterns``. Without a match
        the generic driver of that protocol is returned, and the reason says so.
        """
        for codec in self._codecs.values():
            try:
                if not codec.sniff(capture):
                    continue
                messages = codec.split_capture(capture)
            except Exception as exc:  # noqa: BLE001 - a broken codec must not stop detection
                log.warning("codec failed while sniffing", codec=codec.name, error=str(exc))
                continue
            senders = [s for s in (self._sender(codec, m) for m in messages[:5]) if s]
            for sender in senders:
                for driver in self._drivers.values():
                    if driver.info.protocol != codec.protocol:
                        continue
                    for pattern in driver.info.sender_patterns:
                        if re.search(pattern, sender, re.IGNORECASE):
                            return driver, (f"{codec.protocol} capture; sender {sender!r} matches "
                                            f"{pattern!r} of driver {driver.info.name!r}")
            generic = self._drivers.get(codec.protocol)
            if generic is None:
                continue
            seen = repr(senders[0]) if senders else "no sender"
            return generic, (f"{codec.protocol} capture; {seen} matches no driver's sender patterns, "
                             f"so the generic {codec.protocol!r} driver is used")
        return None

    @staticmethod
    def _sender(codec: CodecInfo, message: bytes) -> str:
        try:
            return codec.sender(message)
        except Exception:  # noqa: BLE001 - a header we cannot read is simply not matched
            return ""


def _version() -> str:
    from benchlink import __version__

    return __version__

