"""The one hookspec module of the Benchlink plugin API.

Hooks *register* things (drivers, codecs, exporters, result processors, simulator and
device profiles); they never reach into internals. Built-in drivers, codecs and exporters
are registered through these same hooks, so a vendor plugin is a peer of the generic
driver, not a special case. Every hook here is documented in ``docs/plugins.md``; a test
fails when one is not.

Versioning: :data:`PLUGIN_API_VERSION` is bumped in its minor part when a hook is added and
in its major part when a hook changes or goes away. A plugin states the range it was written
for with :func:`benchlink_api_version`; outside that range it is reported as incompatible and
not loaded.
"""

from __future__ import annotations

from pathlib import Path

import pluggy

from benchlink.core.driver import Driver
from benchlink.core.plugin_api import CodecInfo, ExporterInfo, ResultProcessor, SimulatorProfile

PLUGIN_API_VERSION = "1.0"
PROJECT_NAME = "benchlink"
ENTRY_POINT_GROUP = "benchlink"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def benchlink_api_version() -> str:  # type: ignore[empty-body]
    """Return the plugin API version range this plugin supports, e.g. ``">=1.0,<2"``.

    Clauses are separated by commas and use ``>=``, ``>``, ``<=``, ``<``, ``==`` or ``!=``.
    A plugin that does not implement this hook is loaded with a warning in its record.
    """


@hookspec
def benchlink_register_drivers() -> list[Driver]:  # type: ignore[empty-body]
    """Return device drivers this plugin provides; each needs a unique ``info.name``.

    A driver decodes one complete message (``decode``) and answers host queries
    (``answer_query``). Its ``info`` declares protocol, link tolerances and timers, transport
    defaults, models, and the ``sender_patterns`` used by auto-detection.
    """


@hookspec
def benchlink_codecs() -> list[CodecInfo]:  # type: ignore[empty-body]
    """Return wire codecs (:class:`~benchlink.core.plugin_api.CodecInfo`) this plugin provides.

    A codec recognises a capture of its protocol and splits it into messages; auto-detection
    uses it to find the header a driver's ``sender_patterns`` are matched against.
    """


@hookspec
def benchlink_exporters() -> list[ExporterInfo]:  # type: ignore[empty-body]
    """Return offline export formats (:class:`~benchlink.core.plugin_api.ExporterInfo`)."""


@hookspec
def benchlink_result_processors() -> list[ResultProcessor]:  # type: ignore[empty-body]
    """Return result processors run on every decoded result (unit conversion, derived flags).

    ``process(device, result)`` returns a result; a processor that raises is disabled and
    reported, and the result passes through unchanged.
    """


@hookspec
def benchlink_simulator_profiles() -> list[SimulatorProfile]:  # type: ignore[empty-body]
    """Return simulator profiles, so ``benchlink simulate --profile NAME`` behaves like a device."""


@hookspec
def benchlink_device_profiles() -> list[Path]:  # type: ignore[empty-body]
    """Return paths of declarative TOML device profiles this plugin ships.

    Each file becomes a driver (named by its ``[device] name``) with no Python code; the
    format is described in ``docs/plugins.md``.
    """
