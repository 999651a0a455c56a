"""Mindray BC-5380 over HL7: UNICODE, 99MRC beside LOINC, ED attachments, ``***.**`` invalid."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from benchlink_mindray.bc5380 import Bc5380Driver

from benchlink.runtime.plugins import PluginManager
from benchlink.testing.replay import replay_capture

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = Path(os.environ.get("BENCHLINK_CORPUS", Path(__file__).resolve().parents[4] / "shared" / "corpus"))


def _corpus(relative: str) -> Path:
    path = CORPUS / relative
    if not path.exists():
        pytest.skip(f"corpus capture absent: {path} (set BENCHLINK_CORPUS)")
    return path


def test_spec_example_decodes_with_loinc_and_99mrc_codes() -> None:
    report = replay_capture(Bc5380Driver(), _corpus("hl7/mindray-bc5380__spec-example-c33-oru-cbc-manual-diff.hl7"))
    assert not report.failures
    results = report.results
    codes = {r.instrument_code: r for r in results}
    assert codes["6690-2"].test_name == "WBC" and codes["6690-2"].numeric_value == 9.81
    assert codes["10002"].test_name == "PCT" and codes["10002"].units == "mL/L"  # 99MRC local code
    assert codes["718-7"].flags == "L"
    assert {r.sample_id for r in results} == {"20071207011"}
    assert not any(code in codes for code in ("15008", "15056", "15116", "15200"))  # ED: not results
    assert "4 encapsulated attachment(s)" in report.decoded[0].warnings[0]


def test_histograms_are_attachments() -> None:
    data = (FIXTURES / "bc5380-invalid-and-histogram.hl7").read_bytes()
    attached = Bc5380Driver().attachments(data)
    assert [(a.code, a.mime_type) for a in attached] == [("15008", "image/bmp")]
    assert attached[0].payload().startswith(b"BM")


def test_invalid_values_are_kept_without_a_number() -> None:
    decoded = Bc5380Driver().decode((FIXTURES / "bc5380-invalid-and-histogram.hl7").read_bytes(), encoding="")
    wbc = next(r for r in decoded.results if r.instrument_code == "6690-2")
    assert (wbc.value, wbc.numeric_value, wbc.status) == ("***.**", None, "X")
    assert [r.instrument_code for r in decoded.results] == ["6690-2", "10002", "718-7"]
    assert decoded.results[0].patient_name == "Müller^Jürgen"  # UNICODE is UTF-8


def test_erba_elite_speaks_the_same_dialect() -> None:
    path = _corpus("hl7/erba-elite580__mllp-log-tokenized-oru-r01.log")
    found = PluginManager().detect(path.read_bytes())
    assert found is not None and found[0].info.name == "mindray-bc5380"
    report = replay_capture(found[0], path)
    assert report.results and not report.failures
    neu = next(r for r in report.results if r.instrument_code == "770-8")
    assert neu.flags == "L~A" and neu.numeric_value == 43.2


def test_detection_picks_the_bc5380() -> None:
    found = PluginManager().detect(_corpus("hl7/mindray-bc5380__spec-example-c33-oru-cbc-manual-diff.hl7").read_bytes())
    assert found is not None and found[0].info.name == "mindray-bc5380" and "BC-5380" in found[1]
