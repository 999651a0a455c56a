"""Built-in drivers, codecs and simulator profiles, registered through the same hooks a
vendor plugin uses (exporters are registered from ``benchlink.runtime.builtin_exporters``,
because drivers may not import the exporters package)."""

from __future__ import annotations

from benchlink.core.driver import Driver
from benchlink.core.hookspecs import PLUGIN_API_VERSION, hookimpl
from benchlink.core.plugin_api import CodecInfo, SimulatorProfile
from benchlink.drivers.astm_generic import GenericAstmDriver
from benchlink.drivers.codecs import ASTM_CODEC, HL7_CODEC
from benchlink.drivers.hl7_generic import GenericHl7Driver
from benchlink.drivers.simulation import GENERIC_PROFILES


@hookimpl
def benchlink_api_version() -> str:
    return f"=={PLUGIN_API_VERSION}"


@hookimpl
def benchlink_register_drivers() -> list[Driver]:
    return [GenericAstmDriver(), GenericHl7Driver()]


@hookimpl
def benchlink_codecs() -> list[CodecInfo]:
    return [HL7_CODEC, ASTM_CODEC]


@hookimpl
def benchlink_simulator_profiles() -> list[SimulatorProfile]:
    return list(GENERIC_PROFILES)
