"""Built-in drivers, registered through the same hooks a vendor plugin uses."""

from __future__ import annotations

from benchlink.core.driver import Driver
from benchlink.core.hookspecs import PLUGIN_API_VERSION, hookimpl
from benchlink.drivers.astm_generic import GenericAstmDriver


@hookimpl
def benchlink_register_drivers() -> list[Driver]:
    return [GenericAstmDriver()]


@hookimpl
def benchlink_api_version() -> str:
    return f">={PLUGIN_API_VERSION}"
