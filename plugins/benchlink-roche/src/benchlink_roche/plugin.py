"""Entry point of the ``benchlink-roche`` distribution (group ``benchlink``)."""

from __future__ import annotations

from benchlink.core.driver import Driver
from benchlink.core.hookspecs import hookimpl
from benchlink.core.plugin_api import ResultProcessor, SimulatorProfile
from benchlink_roche.cobas import CobasC111Driver, CobasC311Driver
from benchlink_roche.simulate import PROFILES
from benchlink_roche.units import CobasUnitSpelling


@hookimpl
def benchlink_api_version() -> str:
    return ">=1.0,<2"


@hookimpl
def benchlink_register_drivers() -> list[Driver]:
    return [CobasC311Driver(), CobasC111Driver()]


@hookimpl
def benchlink_result_processors() -> list[ResultProcessor]:
    return [CobasUnitSpelling()]


@hookimpl
def benchlink_simulator_profiles() -> list[SimulatorProfile]:
    return list(PROFILES)
