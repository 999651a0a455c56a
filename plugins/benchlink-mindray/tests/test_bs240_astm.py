"""Mindray BS-240 over ASTM: the real serial log and fixtures written from the LIS manual."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from benchlink_mindray.bs240_astm import Bs240AstmDriver

from benchlink.core.model import ResultKind
from benchlink.protocols.astm.capture import read_capture
from benchlink.runtime.plugins import PluginManager
from benchlink.testing.replay import replay_capture

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = Path(os.environ.get("BENCHLINK_CORPUS", Path(__file__).resolve().parents[4] / "shared" / "corpus"))
CAPTURE = "astm-framed/mindray-bs240__serial-log-tokenized-single-frame-per-sample.log"


def _corpus(relative: str) -> Path:
    path = CORPUS / relative
    if not path.exists():
        pytest.skip(f"corpus capture absent: {path} (set BENCHLINK_CORPUS)")
    return path


def test_the_real_log_decodes_every_message() -> None:
    path = _corpus(CAPTURE)
    capture = read_capture(path.read_bytes())
    assert len(capture.messages) == 157
    assert capture.frames == len(capture.messages)  # one (big) frame per message
    report = replay_capture(Bs240AstmDriver(), path)
    assert not report.failures
    records = sum(m.count(b"\rR|") for m in capture.messages)
    assert records > 500 and len(report.results) == records
    assert all(r.kind is ResultKind.PATIENT for r in report.results)  # H.12 PR


def test_barcode_wins_and_sequence_numbers_that_keep_counting_do_not_matter() -> None:
    report = replay_capture(Bs240AstmDriver(), _corpus(CAPTURE))
    first = report.decoded[0].results
    assert {r.sample_id for r in first} == {"25059239"}  # O.4 barcode, not O.3 "7^1^7"
    assert first[0].instrument_code == "P" and first[0].test_name == "Phosphorus"
    assert first[0].value == "2.837141" and first[0].numeric_value == 2.837141
    assert first[0].units == "mg/dL" and first[0].status == "F"
    assert first[0].observed_at is not None and first[0].observed_at.isoformat() == "2025-07-01T17:20:02"
    assert first[0].birth_date == "" and first[0].patient_name == ""  # empty "^^" components


def test_calculated_tests_without_a_number_use_their_name() -> None:
    report = replay_capture(Bs240AstmDriver(), _corpus(CAPTURE))
    codes = {r.instrument_code: r for r in report.decoded[0].results}
    assert {"Glo", "A/G", "AST/ALT"} <= set(codes)
    assert codes["Glo"].test_name == "Glo" and codes["Glo"].numeric_value == 26.597371


def test_detection_picks_the_bs240_from_the_misspelt_sender() -> None:
    found = PluginManager().detect(_corpus(CAPTURE).read_bytes())
    assert found is not None and found[0].info.name == "mindray-bs240" and "Mindry" in found[1]


def test_qc_and_calibration_messages_are_kept_apart() -> None:
    driver = Bs240AstmDriver()
    qc = driver.decode((FIXTURES / "bs240-qc.astm").read_bytes(), encoding="latin-1")
    cal = driver.decode((FIXTURES / "bs240-calibration.astm").read_bytes(), encoding="latin-1")
    assert [(r.kind, r.sample_id, r.instrument_code) for r in qc.results] == [(ResultKind.QC, "LOT4471", "ALT")]
    assert [(r.kind, r.sample_id) for r in cal.results] == [(ResultKind.CALIBRATION, "CAL1")]


def test_the_driver_asks_for_big_frames() -> None:
    assert "oversize_frames" in Bs240AstmDriver.info.tolerances
