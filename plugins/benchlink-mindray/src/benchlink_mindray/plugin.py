"""Entry point of the ``benchlink-mindray`` distribution (group ``benchlink``)."""

from __future__ import annotations

from benchlink.core.driver import Driver
from benchlink.core.hookspecs import hookimpl
from benchlink.core.plugin_api import SimulatorProfile
from benchlink_mindray.bc5380 import Bc5380Driver
from benchlink_mindray.bs240_astm import Bs240AstmDriver
from benchlink_mindray.bs240_hl7 import Bs240Hl7Driver
from benchlink_mindray.simulate import PROFILES


@hookimpl
def benchlink_api_version() -> str:
    return ">=1.0,<2"


@hookimpl
def benchlink_register_drivers() -> list[Driver]:
    return [Bs240AstmDriver(), Bs240Hl7Driver(), Bc5380Driver()]


@hookimpl
def benchlink_simulator_profiles() -> list[SimulatorProfile]:
    return list(PROFILES)
