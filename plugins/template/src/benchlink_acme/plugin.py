"""Entry point (group ``benchlink``): what this plugin gives Benchlink."""

from __future__ import annotations

from benchlink.core.driver import Driver
from benchlink.core.hookspecs import hookimpl
from benchlink.core.plugin_api import SimulatorProfile
from benchlink_acme.driver import AcmeDriver
from benchlink_acme.simulate import PROFILES


@hookimpl
def benchlink_api_version() -> str:
    return ">=1.0,<2"


@hookimpl
def benchlink_register_drivers() -> list[Driver]:
    return [AcmeDriver()]


@hookimpl
def benchlink_simulator_profiles() -> list[SimulatorProfile]:
    return list(PROFILES)
