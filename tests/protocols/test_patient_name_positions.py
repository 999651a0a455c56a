"""A patient name keeps its component positions from the P record to PID-5."""

from __future__ import annotations

from datetime import UTC, datetime

from benchlink.drivers.astm_generic import GenericAstmDriver
from benchlink.exporters.hl7_export import build_oru
from benchlink.storage.store import ResultRow

MESSAGE = (b"H|\\^&|||X\rP|1||PID7||^John^Q^^\rO|1|S7||^^^GLU|R\rR|1|^^^GLU|5.1|mmol/L||N||F\rL|1|N\r")


def test_an_empty_family_name_stays_empty_instead_of_taking_the_given_name() -> None:
    (result,) = GenericAstmDriver().decode(MESSAGE).results
    assert result.patient_name == "^John^Q"  # trailing empty components dropped, leading ones kept


def test_pid_5_has_no_family_name_and_john_as_given_name() -> None:
    (result,) = GenericAstmDriver().decode(MESSAGE).results
    shared = {name: getattr(result, name) for name in ResultRow.__dataclass_fields__ if hasattr(result, name)}
    row = ResultRow(**{**shared, "kind": str(result.kind), "id": 1, "device": "chem", "message_id": 1,
                       "received_at": datetime(2026, 1, 1, tzinfo=UTC), "exported_at": None})
    pid = next(s for s in build_oru([row], control_id="1", timestamp="20260101000000").decode().split("\r")
               if s.startswith("PID"))
    assert pid.split("|")[5] == "^John^Q"
