"""Every Mindray driver passes the Benchlink conformance suite (class form, as vendors use it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchlink_mindray.bc5380 import Bc5380Driver
from benchlink_mindray.bs240_astm import Bs240AstmDriver
from benchlink_mindray.bs240_hl7 import Bs240Hl7Driver
from benchlink_mindray.simulate import PROFILES

from benchlink.core.driver import Driver
from benchlink.testing import DriverConformance

FIXTURES = Path(__file__).parent / "fixtures"
DRIVERS = {"mindray-bs240": Bs240AstmDriver, "mindray-bs240-hl7": Bs240Hl7Driver, "mindray-bc5380": Bc5380Driver}
OWN = {"mindray-bs240": ["bs240-qc.astm", "bs240-calibration.astm"],
       "mindray-bs240-hl7": ["bs240-hl7-sample-part1.hl7", "bs240-hl7-qc.hl7"],
       "mindray-bc5380": ["bc5380-invalid-and-histogram.hl7"]}


@pytest.fixture(params=sorted(DRIVERS))
def driver_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def driver(driver_name: str) -> Driver:
    return DRIVERS[driver_name]()


@pytest.fixture
def conformance_samples(driver_name: str) -> list[bytes]:
    profile = next(p for p in PROFILES if p.name == driver_name)
    simulated = [profile.message(i, 3)[1] for i in range(2)]
    return simulated + [(FIXTURES / name).read_bytes() for name in OWN[driver_name]]


class TestMindrayConformance(DriverConformance):
    pass
