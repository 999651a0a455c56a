"""What marks an ASTM result as QC, and how its R.9 status reaches ``Result.status`` and OBX-11.

Messages are written here from CLSI LIS02-A2 field positions (H.12 processing id, O.12 action
code, O.26 report type, R.9 result status), not taken from captures. Each builder fills only
the field under test so a failing assertion points at that field.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from benchlink.core.model import Result, ResultKind
from benchlink.drivers.astm_generic import GenericAstmDriver
from benchlink.exporters.hl7_export import RESULT_STATUSES, build_oru
from benchlink.protocols.astm.records import OrderView, ResultView
from benchlink.storage.store import ResultRow


def astm(*, processing_id: str = "P", sample_id: str = "S100", action_code: str = "N", report_type: str = "F",
         status: str = "F", escaped_order: bool = False) -> bytes:
    """One patient, one order, one result; the named fields at their LIS02-A2 positions."""
    header = ["H", "\\^&", "", "", "Analyzer", "", "", "", "", "", "", processing_id, "LIS2-A2", "20260105101500"]
    order = ["O", "1", sample_id, "", "^^^GLU", "R", *[""] * 5, action_code, *[""] * 13, report_type]
    assert order[11] == action_code and order[25] == report_type  # O.12 and O.26 (O.1 is index 0)
    if escaped_order:  # an escape sequence in O: the driver reads the view, not the one-pass reader
        order[15] = "Serum\\S\\Plasma"
    result = ["R", "1", "^^^GLU", "5.5", "mmol/L", "3.9 to 6.1", "N", "", status, "", "", "", "20260105101400"]
    assert header[11] == processing_id and result[8] == status  # H.12 and R.9
    lines = ["|".join(header), "P|1||PAT1||Doe^Jane", "|".join(order), "|".join(result), "L|1|N"]
    return ("\r".join(lines) + "\r").encode("ascii")


def decode_one(data: bytes, driver: GenericAstmDriver | None = None) -> Result:
    (result,) = (driver or GenericAstmDriver()).decode(data).results
    return result


class ViewOnlyDriver(GenericAstmDriver):
    """Overrides the per-record hooks (with the same behaviour) so every record goes through the views."""

    def order_kind(self, order: OrderView) -> ResultKind:
        return super().order_kind(order)

    def result_details(self, result: ResultView) -> dict[str, str | datetime | None]:
        return super().result_details(result)


DRIVERS = [pytest.param(GenericAstmDriver, id="one-pass"), pytest.param(ViewOnlyDriver, id="views")]


# --------------------------------------------------------------------------- QC


@pytest.mark.parametrize("driver_type", DRIVERS)
def test_a_patient_result_answering_a_query_stays_a_patient_result(driver_type: type[GenericAstmDriver]) -> None:
    """O.26 ``Q`` is "response to query", not QC: stored as QC it would leave the patient's report."""
    result = decode_one(astm(report_type="Q"), driver_type())
    assert result.kind is ResultKind.PATIENT


@pytest.mark.parametrize("escaped", [False, True], ids=["plain", "escaped"])
@pytest.mark.parametrize("driver_type", DRIVERS)
def test_action_code_q_marks_the_specimen_as_qc(driver_type: type[GenericAstmDriver], escaped: bool) -> None:
    """O.12 ``Q``: "treat specimen as a Q.C. test specimen", whatever the sample is called."""
    data = astm(sample_id="LOT4711", action_code="Q", escaped_order=escaped)
    assert decode_one(data, driver_type()).kind is ResultKind.QC
    assert decode_one(astm(sample_id="LOT4711", action_code="q"), driver_type()).kind is ResultKind.QC


@pytest.mark.parametrize("driver_type", DRIVERS)
def test_processing_id_q_makes_the_whole_message_qc(driver_type: type[GenericAstmDriver]) -> None:
    """H.12 ``Q``: the message carries quality-control data, every order in it included."""
    data = astm(processing_id="Q", sample_id="LOT4711", action_code="N")
    assert decode_one(data, driver_type()).kind is ResultKind.QC
    assert decode_one(astm(processing_id="P", sample_id="LOT4711"), driver_type()).kind is ResultKind.PATIENT


@pytest.mark.parametrize("driver_type", DRIVERS)
def test_each_qc_marker_alone_and_none_of_the_others(driver_type: type[GenericAstmDriver]) -> None:
    """The sample-name heuristic stays; O.12 and H.12 join it; O.26 leaves."""
    cases = {
        "QC-named sample": (astm(sample_id="QC-LOW-7"), ResultKind.QC),
        "CONTROL-named sample": (astm(sample_id="control 2"), ResultKind.QC),
        "O.12 Q": (astm(sample_id="LOT1", action_code="Q"), ResultKind.QC),
        "H.12 Q": (astm(sample_id="LOT1", processing_id="Q"), ResultKind.QC),
        "O.26 Q": (astm(sample_id="S100", report_type="Q"), ResultKind.PATIENT),
        "nothing": (astm(sample_id="S100"), ResultKind.PATIENT),
    }
    kinds = {what: decode_one(data, driver_type()).kind for what, (data, _) in cases.items()}
    assert kinds == {what: kind for what, (_, kind) in cases.items()}


def test_qc_order_and_patient_order_in_one_message_keep_their_own_kinds() -> None:
    data = astm(action_code="Q", sample_id="LOT1").replace(
        b"L|1|N\r", b"P|2||PAT2||Roe^Rick\rO|1|S200||^^^GLU|R||||||N\rR|1|^^^GLU|6.1|mmol/L||||F\rL|1|N\r")
    kinds = [(r.sample_id, r.kind) for r in GenericAstmDriver().decode(data).results]
    assert kinds == [("LOT1", ResultKind.QC), ("S200", ResultKind.PATIENT)]


# --------------------------------------------------------------------------- R.9 -> HL7 0085

#: LIS02-A2 R.9 meaning -> the 0085 code expected, restated independently of the driver's table.
EXPECTED = {
    "F": "F",  # final
    "P": "P",  # preliminary
    "C": "C",  # correction of previously transmitted results
    "X": "X",  # order cannot be done
    "I": "I",  # in instrument, results pending
    "S": "S",  # partial results
    "V": "F",  # operator verified / approved
    "W": "P",  # warning: validity questionable -- never HL7 W (post original as wrong)
    "R": "P",  # previously transmitted -- never HL7 R (entered, not verified)
    "N": "P",  # information to run a new order -- never HL7 N (not asked)
    "Q": "P",  # response to an outstanding query
    "M": "P",  # result is an MIC level
}


@pytest.mark.parametrize("driver_type", DRIVERS)
def test_every_lis02_status_becomes_its_0085_counterpart(driver_type: type[GenericAstmDriver]) -> None:
    """All twelve at once: the ones spelled alike in both tables (F, P, C, X, I, S) must stay as they are."""
    decoded = {code: decode_one(astm(status=code), driver_type()).status for code in EXPECTED}
    assert decoded == EXPECTED


@pytest.mark.parametrize("driver_type", DRIVERS)
def test_same_letter_different_meaning_is_never_copied(driver_type: type[GenericAstmDriver]) -> None:
    """The review's three cases: W (wrong patient), R (not verified), N (not asked) mean other things in 0085."""
    for letter in "WRN":
        assert decode_one(astm(status=letter), driver_type()).status not in ("W", "R", "N", "F")


@pytest.mark.parametrize("unknown", ["D", "U", "O", "Z", "FF", "F^X", "?"])
@pytest.mark.parametrize("driver_type", DRIVERS)
def test_unknown_status_codes_are_dropped(driver_type: type[GenericAstmDriver], unknown: str) -> None:
    """D (delete), U (made final), O (order only) are 0085 orders no ASTM sender can be assumed to give."""
    assert decode_one(astm(status=unknown), driver_type()).status == ""


@pytest.mark.parametrize("driver_type", DRIVERS)
def test_status_is_read_case_and_padding_insensitively(driver_type: type[GenericAstmDriver]) -> None:
    assert decode_one(astm(status=" w "), driver_type()).status == "P"
    assert decode_one(astm(status="f"), driver_type()).status == "F"
    assert decode_one(astm(status=""), driver_type()).status == ""


def test_the_table_covers_lis02_and_only_yields_0085_codes() -> None:
    from benchlink.drivers.astm_generic import ASTM_RESULT_STATUS  # here, so the other tests run without it

    assert dict(ASTM_RESULT_STATUS) == EXPECTED
    assert set(ASTM_RESULT_STATUS.values()) <= RESULT_STATUSES


# --------------------------------------------------------------------------- to OBX-11


def obx_11(result: Result) -> str:
    shared = {name: getattr(result, name) for name in ResultRow.__dataclass_fields__ if hasattr(result, name)}
    row = ResultRow(**{**shared, "kind": str(result.kind), "id": 1, "device": "chem", "message_id": 1,
                       "received_at": datetime(2026, 1, 5, tzinfo=UTC), "exported_at": None})
    segments = build_oru([row], control_id="1", timestamp="20260105101500").decode().split("\r")
    (obx,) = (s for s in segments if s.startswith("OBX"))
    return obx.split("|")[11]


@pytest.mark.parametrize("driver_type", DRIVERS)
def test_astm_warning_never_reaches_obx_11_as_post_as_wrong(driver_type: type[GenericAstmDriver]) -> None:
    """ASTM W (validity questionable) must not be exported as HL7 W (post original as wrong, e.g. wrong patient)."""
    assert obx_11(decode_one(astm(status="W"), driver_type())) == "P"


def test_astm_previously_transmitted_and_new_order_reach_obx_11_as_preliminary() -> None:
    assert obx_11(decode_one(astm(status="R"))) == "P"
    assert obx_11(decode_one(astm(status="N"))) == "P"
    assert obx_11(decode_one(astm(status="C"))) == "C"
