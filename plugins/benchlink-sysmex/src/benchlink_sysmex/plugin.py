"""Entry point of the ``benchlink-sysmex`` distribution (group ``benchlink``)."""

from __future__ import annotations

from pathlib import Path

from benchlink.core.driver import Driver
from benchlink.core.hookspecs import hookimpl
from benchlink.core.plugin_api import SimulatorProfile
from benchlink_sysmex.simulate import PROFILES
from benchlink_sysmex.xn import SysmexXnDriver

PROFILE_DIR = Path(__file__).parent / "profiles"


@hookimpl
def benchlink_api_version() -> str:
    return ">=1.0,<2"


@hookimpl
def benchlink_register_drivers() -> list[Driver]:
    return [SysmexXnDriver()]


@hookimpl
def benchlink_device_profiles() -> list[Path]:
    return sorted(PROFILE_DIR.glob("*.toml"))


@hookimpl
def benchlink_simulator_profiles() -> list[SimulatorProfile]:
    return list(PROFILES)
