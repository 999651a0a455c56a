"""The one hookspec module of the Benchlink plugin API.

Hooks *register* things (drivers, exporters); they never reach into internals. Built-in
drivers are registered through these same hooks, so a vendor plugin is a peer of the
generic driver, not a special case.
"""

from __future__ import annotations

import pluggy

from benchlink.core.driver import Driver

PLUGIN_API_VERSION = "1.0"
PROJECT_NAME = "benchlink"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def benchlink_register_drivers() -> list[Driver]:  # type: ignore[empty-body]
    """Return device drivers this plugin provides; each needs a unique ``info.name``."""


@hookspec
def benchlink_api_version() -> str:  # type: ignore[empty-body]
    """Return the plugin API version range this plugin supports, e.g. ``">=1.0,<2"``."""
