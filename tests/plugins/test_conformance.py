"""The conformance suite: applied to every built-in and first-party driver, and able to fail."""

from __future__ import annotations

import random

import pytest

from benchlink.core.driver import DecodeError, DriverInfo
from benchlink.core.model import Decoded, HostQuery, OrderRequest, Result
from benchlink.drivers.astm_generic import GenericAstmDriver
from benchlink.drivers.simulation import generic_astm
from benchlink.runtime.plugins import PluginManager
from benchlink.testing.conformance import (
    DriverConformance,
    check_bad_input,
    check_decodes_samples,
    check_driver,
    check_info,
    check_no_phi_in_warnings,
    check_query_answers,
)

PM = PluginManager()
#: driver name -> simulator profile whose messages are its samples
SAMPLES_FROM = {"astm": "generic-astm", "hl7": "generic-hl7", "mindray-bs240": "mindray-bs240",
                "mindray-bs240-hl7": "mindray-bs240-hl7", "mindray-bc5380": "mindray-bc5380",
                "sysmex-xn": "sysmex-xn", "roche-c311": "roche-c311", "roche-c111": "roche-c111"}
FIRST_PARTY = ["astm", "hl7", "mindray-bs240", "mindray-bs240-hl7", "mindray-bc5380", "sysmex-xn", "sysmex-xp",
               "roche-c311", "roche-c111"]
XP_SAMPLE = (b"H|\\^&|||XP-100^00-13|||||||E1394-97\rP|1\rO|1||^^            113^A|^^^^WBC|||||||N\r"
             b"R|1|^^^^WBC^1|  5.5|10*3/uL||N||||               ||20240723172452\rL|1|N\r")


def _samples(name: str) -> list[bytes]:
    if name == "sysmex-xp":
        return [XP_SAMPLE]
    profile = PM.simulator_profiles()[SAMPLES_FROM[name]]
    return [profile.message(i, 7)[1] for i in range(3)]


@pytest.mark.parametrize("name", FIRST_PARTY)
def test_first_party_driver_is_conformant(name: str) -> None:
    if name not in PM.drivers():
        pytest.fail(f"driver {name!r} is not installed: pip install -e plugins/benchlink-* (make does it)")
    assert check_driver(PM.driver(name), _samples(name)) == []


class _Leaky(GenericAstmDriver):
    info = DriverInfo(name="leaky", protocol="astm", tolerances=("turbo",), sender_patterns=("(",), orders=True)

    def decode(self, data: bytes, *, encoding: str = "latin-1") -> Decoded:
        if not data.startswith(b"H"):
            raise IndexError("list index out of range")
        decoded = super().decode(data, encoding=encoding)
        names = ",".join(r.patient_name for r in decoded.results)
        return Decoded(results=decoded.results, warnings=(f"odd patient {names}",))

    def answer_query(self, query: HostQuery, orders: list[OrderRequest], *, encoding: str = "latin-1") -> bytes:
        return b"not a message"


def _sample_with_name() -> bytes:
    return b"H|\\^&\rP|1||PID9||Doe^Jane||19800101|F\rO|1|S1||^^^GLU\rR|1|^^^GLU|5.0|mmol/L\rL|1|N\r"


def test_the_suite_catches_a_bad_info() -> None:
    problems = check_info(_Leaky(), [])
    assert any("turbo" in p for p in problems) and any("regular expression" in p for p in problems)


def test_the_suite_catches_exceptions_other_than_decode_error() -> None:
    problems = check_bad_input(_Leaky(), [_sample_with_name()])
    assert any("IndexError" in p for p in problems)


def test_the_suite_catches_phi_in_warnings() -> None:
    assert check_no_phi_in_warnings(_Leaky(), [_sample_with_name()])


def test_the_suite_catches_an_invalid_query_answer() -> None:
    assert any("not a valid astm message" in p for p in check_query_answers(_Leaky(), []))


def test_the_suite_catches_untrimmed_or_empty_codes() -> None:
    class Padded(GenericAstmDriver):
        info = DriverInfo(name="padded", protocol="astm")

        def decode(self, data: bytes, *, encoding: str = "latin-1") -> Decoded:
            return Decoded(results=(Result(" S1", "", "x"),))

    problems = check_decodes_samples(Padded(), [b"H|\\^&\rL|1\r"])
    assert any("empty instrument_code" in p for p in problems) and any("padding" in p for p in problems)


def test_the_suite_requires_samples_with_results() -> None:
    assert check_decodes_samples(GenericAstmDriver(), []) != []
    assert any("no sample produced a result" in p
               for p in check_decodes_samples(GenericAstmDriver(), [b"H|\\^&\rL|1\r"]))


def test_the_suite_catches_nondeterminism() -> None:
    class Jittery(GenericAstmDriver):
        info = DriverInfo(name="jittery", protocol="astm")
        rng = random.Random(3)

        def decode(self, data: bytes, *, encoding: str = "latin-1") -> Decoded:
            if not data.startswith(b"H|"):
                raise DecodeError("no header")
            return Decoded(results=(Result("S1", "GLU", str(self.rng.random())),))

    problems = check_driver(Jittery(), [generic_astm(1, random.Random(1))[1].encode()])
    assert any(p.startswith("[deterministic]") for p in problems)


class TestGenericAstmWithTheClassSuite(DriverConformance):
    """The pytest-class form vendors subclass (see docs/plugins.md)."""

    @pytest.fixture
    def driver(self) -> GenericAstmDriver:
        return GenericAstmDriver()

    @pytest.fixture
    def conformance_samples(self) -> list[bytes]:
        return [generic_astm(i, random.Random(i))[1].encode() for i in range(2)]
