"""HL7 SN values keep their number and comparator, in and out."""

from __future__ import annotations

from datetime import UTC, datetime

from benchlink.drivers.hl7_generic import GenericHl7Driver
from benchlink.exporters.hl7_export import build_oru
from benchlink.storage.store import ResultRow

ORU = (
    b"MSH|^~\\&|AN|LAB|LIS|LAB|20240101120000||ORU^R01|1|P|2.5.1\r"
    b"PID|1||P1\r"
    b"OBR|1|S1||PANEL\r"
    b"OBX|1|SN|CRP^CRP||>^8|mg/L|||||F\r"
    b"OBX|2|SN|GLU^GLU||^5.5|mmol/L|||||F\r"
    b"OBX|3|SN|TIT^Titre||^1^:^128||||||F\r"
)


def _row(result: object, n: int) -> ResultRow:
    shared = {name: getattr(result, name) for name in ResultRow.__dataclass_fields__ if hasattr(result, name)}
    return ResultRow(**{**shared, "kind": "patient", "id": n, "device": "hl7", "message_id": 1,
                        "received_at": datetime(2024, 1, 1, tzinfo=UTC), "exported_at": None})


def test_sn_values_are_numbers_with_comparators_and_ratios_stay_text() -> None:
    results = GenericHl7Driver().decode(ORU).results
    assert [(r.value, r.numeric_value, r.comparator) for r in results] == [
        (">8", 8.0, ">"), ("5.5", 5.5, ""), ("1:128", None, "")]
    oru = build_oru([_row(r, n) for n, r in enumerate(results)], control_id="1", timestamp="20240101120000")
    obx = [s.split("|") for s in oru.decode().split("\r") if s.startswith("OBX")]
    assert [(o[2], o[5]) for o in obx] == [("SN", ">^8"), ("NM", "5.5"), ("ST", "1:128")]


def test_ft_line_breaks_become_lines_and_leave_as_tx_lines() -> None:
    message = (b"MSH|^~\\&|AN|LAB|LIS|LAB|20240101120000||ORU^R01|1|P|2.5.1\rPID|1||P1\rOBR|1|S1||PANEL\r"
               b"OBX|1|FT|NOTE^Comment||Line1\\.br\\Line2||||||F\r")
    (result,) = GenericHl7Driver().decode(message).results
    assert result.value == "Line1\nLine2"
    oru = build_oru([_row(result, 1)], control_id="1", timestamp="20240101120000")
    obx = next(s for s in oru.decode().split("\r") if s.startswith("OBX")).split("|")
    assert (obx[2], obx[5]) == ("TX", "Line1~Line2")
