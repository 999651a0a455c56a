from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message as hl7apy_parse

from benchlink.exporters.errors import ExportCancelled, ExportError
from benchlink.exporters.hl7_export import build_oru, hl7_timestamp, write_hl7
from benchlink.protocols.hl7.capture import read_hl7_capture
from benchlink.protocols.hl7.message import parse_message
from benchlink.protocols.hl7.observations import read_observations

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def strict(data: bytes) -> Any:
    msg = hl7apy_parse(data.decode("utf-8"), validation_level=VALIDATION_LEVEL.STRICT)
    assert msg.validate() is True
    return msg


def oru(rows: list[Any]) -> bytes:
    return build_oru(rows, control_id="C000001", timestamp="20240301120000+0000")


@pytest.fixture
def sample(make_row: Callable[..., Any]) -> list[Any]:
    return [
        make_row(),
        make_row(instrument_code="CRP", lis_code="", test_name="CRP", value="<5", numeric_value=5.0,
                 comparator="<", units="mg/L", flags="L~H"),
        make_row(instrument_code="PLT", lis_code="777-3", test_name="Platelets", value="250",
                 numeric_value=250.0, units="10^9/L", flags="~N"),
        make_row(instrument_code="NOTE", value="a|b^c&d~e\\f", numeric_value=None, units="", flags=""),
        make_row(instrument_code="CULT", value="LA6576-8^Positive^LN", numeric_value=None),
        make_row(instrument_code="BAD", value="***.**", numeric_value=None, flags="XYZ~H"),
        make_row(instrument_code="EMPTY", value="", numeric_value=None, status=""),
        make_row(instrument_code="LONG", value="word " * 60, numeric_value=None, status="weird"),
        make_row(instrument_code="EUR", value="7,41", numeric_value=7.41),
    ]


def test_every_message_passes_hl7apy_strict(sample: list[Any]) -> None:
    data = oru(sample)
    strict(data)
    assert data.count(b"\rOBX|") == len(sample)
    assert data.startswith(b"MSH|^~\\&|") and b"|ORU^R01^ORU_R01|" in data


def test_value_types_match_values(sample: list[Any]) -> None:
    msg = parse_message(oru(sample))
    obx = msg.segments_named("OBX")
    types = [msg.value(s, 2) for s in obx]
    assert types == ["NM", "SN", "NM", "ST", "CWE", "ST", "", "TX", "NM"]
    assert msg.raw(obx[0], 5) == "5.50"  # precision kept
    assert msg.raw(obx[1], 5) == "<^5"
    assert msg.raw(obx[8], 5) == "7.41"  # decimal comma normalised for NM


def test_codes_units_flags_status_equipment(sample: list[Any]) -> None:
    msg = parse_message(oru(sample))
    obx = msg.segments_named("OBX")
    assert msg.components(obx[0], 3) == ["2345-7", "Glucose", "L", "GLU", "Glucose", "99INS"]
    assert msg.components(obx[1], 3) == ["CRP", "CRP", "99INS"]  # unmapped: instrument code primary
    assert msg.raw(obx[2], 6) == "10\\S\\9/L" and msg.value(obx[2], 6) == "10^9/L"
    assert msg.raw(obx[1], 8) == "L~H" and msg.raw(obx[2], 8) == "N"
    assert msg.raw(obx[5], 8) == "H" and msg.value(obx[5], 11) == "X"
    assert msg.value(obx[6], 11) == "F" and msg.value(obx[7], 11) == "F"
    assert msg.value(obx[0], 14) == "20240301093000+0100"
    assert msg.value(obx[0], 18) == "BS-200"
    notes = [msg.value(s, 3) for s in msg.segments_named("NTE")]
    assert notes == ["Instrument reported an invalid result (***.**)", "Instrument flags: XYZ"]


def test_header_patient_order(sample: list[Any]) -> None:
    msg = parse_message(oru(sample))
    assert msg.message_type == "ORU^R01" and msg.version == "2.5.1" and msg.control_id == "C000001"
    assert msg.charset == "UNICODE UTF-8" and msg.sending_application == "BENCHLINK"
    assert [s[0] for s in msg.segments[:4]] == ["MSH", "PID", "ORC", "OBR"]
    pid = msg.segment("PID")
    assert msg.value(pid, 3) == "P1" and msg.components(pid, 5) == ["Doe", "Jane"]
    obr = msg.segment("OBR")
    assert msg.value(obr, 2) == msg.value(obr, 3) == "S1"
    assert msg.value(obr, 25) == "F"


def test_escaping_round_trip(make_row: Callable[..., Any]) -> None:
    nasty = "a|b^c&d~e\\f \\E\\R\\ \nline"
    rows = [make_row(value=nasty, numeric_value=None, test_name="T|^&~\\", units="10^9/L",
                     reference_range="<5|>1", sample_id="S|1^x", patient_name="O'Brien^Zoë")]
    data = oru(rows)
    strict(data)
    (obs,) = read_observations(parse_message(data))
    assert obs.value == nasty and obs.test_name == "T|^&~\\" and obs.units == "10^9/L"
    assert obs.reference_range == "<5|>1" and obs.sample_id == "S|1^x" and obs.patient_name == "O'Brien^Zoë"


def test_no_patient_data_means_no_pid(make_row: Callable[..., Any]) -> None:
    data = oru([make_row(patient_id="", patient_name="")])
    strict(data)
    assert parse_message(data).segment("PID") is None


def test_patient_id_without_name_is_still_valid(make_row: Callable[..., Any]) -> None:
    row = make_row(patient_name="")
    data = oru([row])
    strict(data)
    pid = parse_message(data).segment("PID")
    assert pid is not None and parse_message(data).value(pid, 3) == row.patient_id


def test_two_patients_under_one_sample_id_get_one_message_each(make_row: Callable[..., Any], tmp_path: Path) -> None:
    rows = [make_row(sample_id="", patient_id="PATA", patient_name="Alpha^Ann", instrument_code="GLU"),
            make_row(sample_id="", patient_id="PATB", patient_name="Beta^Bob", instrument_code="GLU", value="2.0"),
            make_row(sample_id="", patient_id="PATB", patient_name="Beta^Bob", instrument_code="NA", value="140")]
    out = tmp_path / "two.hl7"
    assert write_hl7(rows, out) == 2
    messages = [m for m in out.read_bytes().decode().split("MSH|") if m]
    pids = [next(s for s in m.split("\r") if s.startswith("PID")).split("|")[3] for m in messages]
    assert pids == ["PATA", "PATB"]
    assert [m.count("\rOBX|") for m in messages] == [1, 2]  # each result under its own patient


def test_only_values_naming_a_coding_system_are_coded(make_row: Callable[..., Any]) -> None:
    values = ["LA6576-8^Positive^LN", "P^Positive^99LAB", "0^0^8.8", "3+^3+^45", "A^NEG^NEG^ccee^K-^NEG"]
    msg = parse_message(oru([make_row(instrument_code=f"T{i}", value=v, numeric_value=None)
                             for i, v in enumerate(values)]))
    obx = msg.segments_named("OBX")
    assert [msg.value(s, 2) for s in obx] == ["CWE", "CWE", "ST", "ST", "ST"]
    assert msg.raw(obx[2], 5) == "0\\S\\0\\S\\8.8"  # the reaction grades as text, separators escaped


def test_exports_a_millisecond_apart_never_share_a_control_id(make_row: Callable[..., Any], tmp_path: Path) -> None:
    moments = [datetime(2026, 3, 14, 9, 26, 53, micro, tzinfo=UTC) for micro in (1000, 2000)]
    ids = []
    for n, moment in enumerate(moments):
        out = tmp_path / f"{n}.hl7"
        write_hl7([make_row()], out, now=moment)
        ids.append(out.read_bytes().split(b"|")[9].decode())
    assert ids == ["26073092653001000001", "26073092653002000001"] and all(len(i) == 20 for i in ids)


def test_repeated_codes_in_one_message_get_obx4_sub_ids(make_row: Callable[..., Any]) -> None:
    rows = [make_row(instrument_code="580", value="0.15", numeric_value=0.15),
            make_row(instrument_code="580", value="Nonreactive", numeric_value=None),
            make_row(instrument_code="GLU", value="5.1", numeric_value=5.1),
            make_row(instrument_code="580", value="1277", numeric_value=1277.0)]
    msg = parse_message(oru(rows))
    strict(oru(rows))
    assert [msg.value(s, 4) for s in msg.segments_named("OBX")] == ["1", "2", "", "3"]


def test_mixed_samples_refused(make_row: Callable[..., Any]) -> None:
    with pytest.raises(ExportError, match="group rows by sample_id"):
        oru([make_row(), make_row(sample_id="OTHER")])
    with pytest.raises(ExportError):
        oru([])


def test_hl7_timestamp() -> None:
    assert hl7_timestamp(datetime(2024, 1, 2, 3, 4, 5)) == "20240102030405"
    assert hl7_timestamp(NOW) == "20240301120000+0000"


def _rows(make_row: Callable[..., Any], samples: int) -> list[Any]:
    return [make_row(sample_id=f"S{i}", instrument_code=c) for i in range(samples) for c in ("GLU", "ALT")]


def test_write_hl7_one_message_per_sample(make_row: Callable[..., Any], tmp_path: Path) -> None:
    path = tmp_path / "out.hl7"
    assert write_hl7(_rows(make_row, 3), path, now=NOW) == 3
    messages = read_hl7_capture(path.read_bytes())
    assert len(messages) == 3
    ids = []
    for data in messages:
        strict(data)
        msg = parse_message(data)
        ids.append(msg.control_id)
        assert len(msg.segments_named("OBX")) == 2
    assert ids == ["24061120000000000001", "24061120000000000002", "24061120000000000003"]  # yyDDDHHMMSSmmm + n


def test_write_hl7_batch_structure(make_row: Callable[..., Any], tmp_path: Path) -> None:
    path = tmp_path / "batch.hl7"
    assert write_hl7(_rows(make_row, 4), path, batch=True, now=NOW, control_id_prefix="B") == 4
    segments = path.read_bytes().decode().split("\r")[:-1]
    names = [s[:3] for s in segments]
    assert names[:2] == ["FHS", "BHS"] and names[-2:] == ["BTS", "FTS"]
    assert names.count("MSH") == 4
    assert segments[-2] == "BTS|4" and segments[-1] == "FTS|1"
    assert segments[0].startswith("FHS|^~\\&|BENCHLINK|")
    assert segments[0].split("|")[10] == "BF"  # FHS-11 file control id
    assert len(read_hl7_capture(path.read_bytes())) == 4


def test_write_hl7_cancel_leaves_no_file(make_row: Callable[..., Any], tmp_path: Path) -> None:
    path = tmp_path / "out.hl7"
    with pytest.raises(ExportCancelled):
        write_hl7(_rows(make_row, 600), path, now=NOW, cancel=lambda: True)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_long_text_becomes_tx_lines_within_st_limit(make_row: Callable[..., Any]) -> None:
    text = "first line\n" + "x|y " * 120 + "\n" + "z" * 450
    data = oru([make_row(value=text, numeric_value=None)])
    strict(data)
    msg = parse_message(data)
    obx = msg.segment("OBX")
    assert msg.value(obx, 2) == "TX"
    assert all(len(rep) <= 199 for rep in msg.raw(obx, 5).split("~"))
    (obs,) = read_observations(msg)
    # Lines survive; long lines come back wrapped (a space or nothing became a line break).
    assert obs.value.split("\n")[0] == "first line"
    assert obs.value.replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")
