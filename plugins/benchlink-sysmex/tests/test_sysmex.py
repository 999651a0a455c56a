"""Sysmex XN (Python driver) and XP (TOML profile): real captures and fixtures from the manual."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from benchlink_sysmex.plugin import PROFILE_DIR
from benchlink_sysmex.simulate import PROFILES
from benchlink_sysmex.xn import SysmexXnDriver

from benchlink.core.driver import Driver
from benchlink.core.model import ResultKind
from benchlink.drivers.profile import load_profile
from benchlink.protocols.astm.records import decode_message
from benchlink.runtime.plugins import PluginManager
from benchlink.testing import DriverConformance
from benchlink.testing.replay import replay_capture

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = Path(os.environ.get("BENCHLINK_CORPUS", Path(__file__).resolve().parents[4] / "shared" / "corpus"))


def _corpus(relative: str) -> Path:
    path = CORPUS / relative
    if not path.exists():
        pytest.skip(f"corpus capture absent: {path} (set BENCHLINK_CORPUS)")
    return path


def test_xn550_capture_padded_sample_id_and_parameter_codes() -> None:
    report = replay_capture(SysmexXnDriver(), _corpus("astm-framed/sysmex-xn550__cbc-patient.astm"))
    assert not report.failures
    results = report.results
    assert {r.sample_id for r in results} == {"27"}
    codes = {r.instrument_code: r for r in results}
    assert {"WBC", "RBC", "HGB", "PLT", "NEUT%", "IG#", "RDW-SD"} <= set(codes)
    assert (codes["HCT"].flags, codes["EO%"].flags, codes["WBC"].numeric_value) == ("L", "H", 8.13)
    assert all(r.kind is ResultKind.PATIENT for r in results)


def test_xp100_capture_through_the_toml_profile() -> None:
    driver = load_profile(PROFILE_DIR / "sysmex-xp.toml")
    report = replay_capture(driver, _corpus("astm-framed/sysmex-xp100__cbc-padded-values.astm"))
    assert not report.failures
    wbc = next(r for r in report.results if r.instrument_code == "WBC")
    assert (wbc.sample_id, wbc.value, wbc.numeric_value) == ("113", "5.5", 5.5)


def test_qc_sample_ids_are_qc() -> None:
    decoded = SysmexXnDriver().decode((FIXTURES / "xn-qc.astm").read_bytes(), encoding="latin-1")
    assert {(r.sample_id, r.kind) for r in decoded.results} == {("QC-L1-2301", ResultKind.QC)}
    assert decoded.results[0].value == "6.90"


def test_flags_and_patient_fields() -> None:
    decoded = SysmexXnDriver().decode((FIXTURES / "xn-flags.astm").read_bytes(), encoding="latin-1")
    assert [(r.sample_id, r.instrument_code, r.flags) for r in decoded.results] == [
        ("4711", "WBC", "L"), ("4711", "HGB", "H")]
    assert decoded.results[0].patient_id == "PX1" and decoded.results[0].birth_date == "19900101"


def test_orders_use_the_sysmex_test_id_shape() -> None:
    from benchlink.core.model import HostQuery, OrderRequest

    text = SysmexXnDriver().answer_query(HostQuery(("4711",)), [OrderRequest("4711", ("WBC", "PLT"))],
                                         encoding="latin-1")
    order = decode_message(text).patients[0].orders[0].view
    assert order.sample_id == "4711" and order.record.field(5) == "^^^^WBC^1\\^^^^PLT^1"


@pytest.mark.parametrize(("capture", "name"), [("astm-framed/sysmex-xn550__cbc-patient.astm", "sysmex-xn"),
                                               ("astm-framed/sysmex-xp100__cbc-padded-values.astm", "sysmex-xp")])
def test_detection(capture: str, name: str) -> None:
    found = PluginManager().detect(_corpus(capture).read_bytes())
    assert found is not None and found[0].info.name == name


DRIVERS = {"sysmex-xn": SysmexXnDriver, "sysmex-xp": lambda: load_profile(PROFILE_DIR / "sysmex-xp.toml")}


@pytest.fixture(params=sorted(DRIVERS))
def driver_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def driver(driver_name: str) -> Driver:
    return DRIVERS[driver_name]()  # type: ignore[no-any-return]


@pytest.fixture
def conformance_samples() -> list[bytes]:
    simulated = [PROFILES[0].message(i, 5)[1] for i in range(2)]
    return simulated + [(FIXTURES / n).read_bytes() for n in ("xn-qc.astm", "xn-flags.astm")]


class TestSysmexConformance(DriverConformance):
    pass
