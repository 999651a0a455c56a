"""Crash reports and decode errors stay PHI-free.

A traceback is logged without locals (structlog's default would print them, and locals hold
patient records), and the error texts of the built-in drivers never quote patient fields, for
any truncation or corruption of a message that carries them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchlink.drivers.astm_generic import GenericAstmDriver
from benchlink.drivers.hl7_generic import GenericHl7Driver
from benchlink.runtime.logging_setup import configure_logging, get_logger

LAST, FIRST, PID, DOB = "Zzyzxsentinel", "Quentinsentinel", "PIDSENT98765", "19020304"
SENTINELS = (LAST, FIRST, PID, DOB)

HL7 = (
    "MSH|^~\\&|ANALYZER|LAB|BENCHLINK|LIS|20250501093000||ORU^R01|MSG0001|P|2.5.1\r"
    f"PID|1||{PID}^^^HOSP^MR||{LAST}^{FIRST}||{DOB}|F\r"
    "OBR|1|ORD1|S1|CBC^Complete blood count|||20250501092000\r"
    "OBX|1|NM|WBC^White cells||7.5|10*9/L|4.0-10.0|N|||F|||20250501092500\r"
).encode()
ASTM = (
    "H|\\^&|||ANALYZER^1.0|||||||P|LIS2-A2|20250501093000\r"
    f"P|1||{PID}||{LAST}^{FIRST}||{DOB}|F\r"
    "O|1|S1||^^^GLU|R\r"
    "R|1|^^^GLU|5.5|mmol/L|3.9 to 6.1|N||F||||20250501092500\r"
    "L|1|N\r"
).encode()


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    path = configure_logging(tmp_path / "logs", level="debug")
    assert path is not None
    try:
        yield path
    finally:
        configure_logging(None)


def _handle(record: dict[str, str]) -> None:
    patient_name = record["name"]  # noqa: F841 - a local the traceback must not show
    raise RuntimeError("driver state corrupt; see the quarantined message")


def test_logged_traceback_has_frames_but_no_locals(log_file: Path) -> None:
    try:
        _handle({"name": f"{LAST}^{FIRST}", "id": PID, "dob": DOB})
    except RuntimeError:
        get_logger("benchlink.test").exception("session failed", device="chem-1")
    text = log_file.read_text(encoding="utf-8")
    (event,) = [json.loads(line) for line in text.splitlines()]
    frames = event["exception"][0]["frames"]
    assert [f["name"] for f in frames][-1] == "_handle"
    assert all("locals" not in f for f in frames)
    for s in SENTINELS:
        assert s not in text


def test_exception_text_quoting_a_segment_is_scrubbed(log_file: Path) -> None:
    try:
        raise ValueError(f"cannot read segment PID|1||{PID}||{LAST}^{FIRST}||{DOB}|F")
    except ValueError:
        get_logger("benchlink.test").exception("session failed", device="hema")
    text = log_file.read_text(encoding="utf-8")
    assert "PID|" in text and "ValueError" in text
    for s in SENTINELS:
        assert s not in text


def _mutations(data: bytes) -> Iterator[bytes]:
    """Truncations at every byte, plus separator and structure corruptions."""
    for end in range(len(data)):
        yield data[:end]
    for old, new in ((b"|", b"!"), (b"^", b"|"), (b"\r", b"\n"), (b"\r", b""), (b"MSH", b"MSX"), (b"H|", b"X|")):
        yield data.replace(old, new)
        yield data.replace(old, new, 1)
    yield b"\xff\xfe" + data
    yield data + b"\x00" * 8
    yield data.replace(b"2.5.1", b"2.5.1|||||X-NO-SUCH-SET")


@pytest.mark.parametrize(("driver", "data"), [(GenericHl7Driver(), HL7), (GenericAstmDriver(), ASTM)],
                         ids=["hl7", "astm"])
def test_builtin_driver_errors_never_quote_patient_fields(driver: object, data: bytes) -> None:
    errors = 0
    decoded = 0
    for variant in _mutations(data):
        try:
            driver.decode(variant)  # type: ignore[attr-defined]
            decoded += 1
        except Exception as exc:
            errors += 1
            text = f"{type(exc).__name__}: {exc}"
            leaked = [s for s in SENTINELS if s in text]
            assert not leaked, f"error for a mutated message quotes PHI: {text!r}"
    assert errors > 0 and decoded > 0, (errors, decoded)
