"""Own fixtures, written from HL7 v2.3.1 / v2.5.1 and the Mindray BS/BC interface layouts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from benchlink.core.model import ResultKind
from benchlink.drivers.hl7_results import observations
from benchlink.protocols.hl7.errors import Hl7DecodeError
from benchlink.protocols.hl7.message import parse_message
from benchlink.protocols.hl7.observations import (
    attachments,
    is_result_message,
    parse_timestamp,
    read_observations,
)


def seg(*lines: str) -> bytes:
    return ("\r".join(lines) + "\r").encode("utf-8")


ORU_231 = seg(
    "MSH|^~\\&|BC-5380|Mindray|||20240301101500||ORU^R01|77|P|2.3.1||||||UNICODE",
    "PID|1||PAT001^^^^MR||Muster^Hans||19800101000000|M",
    "PV1|1",
    "OBR|1||S-1001|00001^Automated Count^99MRC||20240301101000|20240301101200",
    "OBX|1|NM|6690-2^WBC^LN||7.25|10*9/L|4.00-10.00|N|||F",
    "OBX|2|NM|718-7^HGB^LN||  9.1|g/dL|11.0-16.0|L~A|||F|||20240301101100",
    "OBX|3|NM|10000^*LIC#^99MRC||***.**|10*9/L|||||F",
    "OBX|4|ED|15008^WBC Histogram. BMP^99MRC||^Image^BMP^Base64^Qk0=||||||F",
    "OBX|5|NM|777-3^PLT^LN||<5|10\\S\\9/L|150-400|~LL|||F",
)

ORU_251 = seg(
    "MSH|^~\\&|LAB|FAC|LIS|HOSP|20240301101500+0100||ORU^R01^ORU_R01|C1|P|2.5.1|||||||UNICODE UTF-8",
    "PID|1||P77^^^HOSP^MR||Müller^Anna^^^Dr.",
    "ORC|RE|PL-9|FI-9",
    "OBR|1|PL-9|FI-9|PANEL^Panel^L|||20240301090000+0100",
    "OBX|1|NM|2345-7^Glucose^LN^GLU^Glucose^99LAB|1|5.5|mmol/L|3.9-6.1|N|||F|||20240301093000+0100||||INST-7^Roche",
    "NTE|1|L|fasting",
    "OBX|2|CWE|600-7^Culture^LN||LA6576-8^Positive^LN||||||F",
    "OBX|3|TX|NARR^Narrative^L||line1\\.br\\line2 \\E\\R\\ kept||||||F",
    "OBX|4|SN|1988-5^CRP^LN||>^8|mg/L||H|||P",
)

OUL_R22 = seg(
    "MSH|^~\\&|MW|LAB|||20240301101500||OUL^R22^OUL_R22|U1|P|2.5.1||||NE||8859/1",
    "PID|1||P5",
    "SPM|1|PLACER1&LIS^FILLER1&ANALYZER||BLD^Blood^HL70487",
    "OBR|1",
    "OBX|1|NM|HBA1C^HbA1c||6.1|%|<6.5||||F|||20240301100000",
)

MINDRAY_BS_QC = seg(
    "MSH|^~\\&|Mindray|BS-200|||20240105103000||ORU^R01|7|P|2.3.1||||2||ASCII|||",
    "PID|1||||||||||||||||||||||||||||||",
    "OBR|1|QC-LOT-123|5|^|N||20240105102500||||||||||||||||||||||||||||||||||||||||||",
    "OBX|1|NM|3|ALT|38.2|U/L|30.0-45.0|N|||F||38.2|20240105102500|||0|",
    "OBX|2|NM|7|GLU|***.**|mmol/L|3.9-6.1||||F||***.**|20240105102500|||0|",
)

MINDRAY_BS_CAL = MINDRAY_BS_QC.replace(b"||||2||ASCII", b"||||1||ASCII")
MINDRAY_BS_SAMPLE = MINDRAY_BS_QC.replace(b"||||2||ASCII", b"||||0||ASCII")


def test_oru_231_mindray_bc() -> None:
    msg = parse_message(ORU_231)
    results = observations(msg)
    assert [r.instrument_code for r in results] == ["6690-2", "718-7", "10000", "777-3"]
    wbc, hgb, lic, plt = results
    assert wbc.sample_id == "S-1001" and wbc.patient_id == "PAT001"
    assert wbc.patient_name == "Muster^Hans" and wbc.birth_date == "19800101000000"
    assert wbc.numeric_value == 7.25 and wbc.units == "10*9/L" and wbc.flags == "N"
    assert wbc.observed_at == datetime(2024, 3, 1, 10, 12)  # OBR-7 when OBX-14 is empty
    assert hgb.value == "  9.1" and hgb.numeric_value == 9.1
    assert hgb.flags == "L~A" and hgb.observed_at == datetime(2024, 3, 1, 10, 11)
    assert lic.value == "***.**" and lic.numeric_value is None and lic.status == "X"
    assert plt.comparator == "<" and plt.numeric_value == 5.0
    assert plt.units == "10^9/L" and plt.flags == "LL"
    assert all(r.kind is ResultKind.PATIENT for r in results)


def test_ed_histogram_is_an_attachment_not_a_result() -> None:
    msg = parse_message(ORU_231)
    (histogram,) = attachments(msg)
    assert histogram.code == "15008" and histogram.mime_type == "image/bmp"
    assert histogram.payload() == b"BM"
    assert histogram.sample_id == "S-1001"
    assert "15008" not in [o.code for o in read_observations(msg)]


def test_corrupt_base64_attachment_raises_documented_error() -> None:
    msg = parse_message(ORU_231.replace(b"Qk0=", b"not base64!"))
    with pytest.raises(Hl7DecodeError, match="Base64"):
        attachments(msg)[0].payload()


def test_oru_251_types_codes_and_time_zone() -> None:
    msg = parse_message(ORU_251)
    obs = read_observations(msg)
    glu, culture, narrative, crp = obs
    assert (glu.code, glu.coding_system) == ("2345-7", "LN")
    assert (glu.alt_code, glu.alt_coding_system) == ("GLU", "99LAB")
    assert glu.instrument == "INST-7^Roche"
    assert glu.observed_at == datetime(2024, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    assert glu.sample_id == "FI-9" and glu.patient_name == "Müller^Anna^^^Dr."
    assert culture.value == "LA6576-8^Positive^LN" and culture.value_type == "CWE"
    assert narrative.value == "line1\\.br\\line2 \\R\\ kept"
    assert crp.value == ">^8" and crp.status == "P"


def test_oul_r22_takes_sample_id_from_spm_filler() -> None:
    msg = parse_message(OUL_R22)
    assert is_result_message(msg)
    (result,) = observations(msg)
    assert result.sample_id == "FILLER1" and result.patient_id == "P5"
    assert result.reference_range == "<6.5"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (MINDRAY_BS_QC, ResultKind.QC),
        (MINDRAY_BS_CAL, ResultKind.CALIBRATION),
        (MINDRAY_BS_SAMPLE, ResultKind.PATIENT),
    ],
)
def test_mindray_bs_msh16_kind_obr2_barcode_obx4_name(data: bytes, kind: ResultKind) -> None:
    msg = parse_message(data)
    alt, glu = observations(msg)
    assert alt.kind is kind and glu.kind is kind
    assert alt.sample_id == "QC-LOT-123"  # OBR-2 (barcode), not the tray position in OBR-3
    assert (alt.instrument_code, alt.test_name, alt.numeric_value) == ("3", "ALT", 38.2)
    assert glu.value == "***.**" and glu.numeric_value is None and glu.status == "X"


def test_latin1_declared_message_decodes_umlauts() -> None:
    data = OUL_R22.replace(b"HBA1C^HbA1c", "HGB^Hämoglobin".encode("latin-1"))
    (result,) = observations(parse_message(data))
    assert result.test_name == "Hämoglobin"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024", datetime(2024, 1, 1)),
        ("202403011015", datetime(2024, 3, 1, 10, 15)),
        ("20240301101530.25", datetime(2024, 3, 1, 10, 15, 30, 250000)),
        ("20240301101530-0500", datetime(2024, 3, 1, 10, 15, 30, tzinfo=timezone(timedelta(hours=-5)))),
        ("DOB", None),
        ("20241301", None),
        ("", None),
    ],
)
def test_parse_timestamp(text: str, expected: datetime | None) -> None:
    assert parse_timestamp(text) == expected
