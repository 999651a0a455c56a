"""Tests for the ACME driver: your own fixtures, the conformance suite, a replay."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from benchlink_acme.driver import AcmeDriver
from benchlink_acme.simulate import PROFILES

from benchlink.testing import DriverConformance

FIXTURES = Path(__file__).parent / "fixtures"


def test_patient_message_from_the_interface_manual() -> None:
    decoded = AcmeDriver().decode((FIXTURES / "ac100-patient.astm").read_bytes(), encoding="latin-1")
    (glu,) = decoded.results
    assert (glu.sample_id, glu.instrument_code, glu.numeric_value, glu.flags) == ("AC000017", "GLU", 7.2, "H")


def test_replay_of_simulated_traffic(replay: Callable[..., Any]) -> None:
    capture = b"".join(PROFILES[0].message(i, 1)[1] for i in range(5))
    report = replay(AcmeDriver(), capture)
    assert not report.failures and len(report.by_sample()) == 5


@pytest.fixture
def driver() -> AcmeDriver:
    return AcmeDriver()


@pytest.fixture
def conformance_samples() -> list[bytes]:
    return [(FIXTURES / "ac100-patient.astm").read_bytes(), PROFILES[0].message(1, 1)[1]]


class TestAcmeConformance(DriverConformance):
    pass
