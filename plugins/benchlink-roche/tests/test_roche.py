"""Roche cobas c311 and c111: real captures, a fixture from the host manual, the unit processor."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from benchlink_roche.cobas import CobasC111Driver, CobasC311Driver
from benchlink_roche.simulate import PROFILES
from benchlink_roche.units import CobasUnitSpelling

from benchlink.core.driver import Driver
from benchlink.core.model import Result
from benchlink.runtime.plugins import PluginManager
from benchlink.testing import DriverConformance
from benchlink.testing.replay import replay_capture

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = Path(os.environ.get("BENCHLINK_CORPUS", Path(__file__).resolve().parents[4] / "shared" / "corpus"))
C311 = "astm-framed/roche-cobas-c311__multi-test-order-comments.astm"
C111 = "astm-framed/roche-cobas-c111__control-etb-per-record.astm"


def _corpus(relative: str) -> Path:
    path = CORPUS / relative
    if not path.exists():
        pytest.skip(f"corpus capture absent: {path} (set BENCHLINK_CORPUS)")
    return path


def test_c311_capture() -> None:
    report = replay_capture(CobasC311Driver(), _corpus(C311))
    assert not report.failures
    got = [(r.sample_id, r.instrument_code, r.value, r.flags) for r in report.results]
    assert got[0] == ("CL-PL-24-0370", "685", "22.4", "A")
    assert [code for _, code, _, _ in got] == ["685", "687", "712", "158", "735", "717", "690"]


def test_c111_capture_skips_the_curve_record() -> None:
    report = replay_capture(CobasC111Driver(), _corpus(C111))
    assert not report.failures
    assert [(r.sample_id, r.instrument_code, r.value, r.units) for r in report.results] == [
        ("T20 10134GA D28", "413", "40.13", "g/L")]


def test_application_code_without_dilution() -> None:
    decoded = CobasC311Driver().decode((FIXTURES / "c311-diluted.astm").read_bytes(), encoding="latin-1")
    assert [(r.sample_id, r.instrument_code, r.flags) for r in decoded.results] == [("S-2026-000042", "690", "H")]


@pytest.mark.parametrize(("capture", "name"), [(C311, "roche-c311"), (C111, "roche-c111")])
def test_detection(capture: str, name: str) -> None:
    found = PluginManager().detect(_corpus(capture).read_bytes())
    assert found is not None and found[0].info.name == name


def test_unit_spelling_processor_runs_through_the_manager() -> None:
    pm = PluginManager()
    assert "roche-unit-spelling" in [p.name for p in pm.processors()]
    out = pm.process("c311-bench", Result("S1", "685", "22.4", units="U/l", instrument="c311"))
    assert out.units == "U/L"
    assert pm.process("c311-bench", Result("S1", "712", "4", units="umol/l", instrument="c311")).units == "µmol/L"
    other = Result("S1", "X", "1", units="mmol/l", instrument="XN-550")
    assert CobasUnitSpelling().process("xn", other) is other


DRIVERS = {"roche-c311": CobasC311Driver, "roche-c111": CobasC111Driver}


@pytest.fixture(params=sorted(DRIVERS))
def driver_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def driver(driver_name: str) -> Driver:
    return DRIVERS[driver_name]()


@pytest.fixture
def conformance_samples(driver_name: str) -> list[bytes]:
    profile = next(p for p in PROFILES if p.name == driver_name)
    return [profile.message(i, 9)[1] for i in range(2)] + [(FIXTURES / "c311-diluted.astm").read_bytes()]


class TestRocheConformance(DriverConformance):
    pass
