from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchlink.core.logbuffer import LogRing
from benchlink.core.redaction import MASK, redact_mapping, scrub_text
from benchlink.core.values import parse_numeric
from benchlink.runtime.logging_setup import configure_logging, get_logger


def test_phi_keys_are_masked_and_wire_text_scrubbed() -> None:
    event = redact_mapping({
        "event": "x", "patient_name": "Doe^Jane", "birth_date": "19700101", "count": 3,
        "raw": "H|\\^&\rP|1||PID123||Doe^Jane||19700101|F\rO|1|S1\r",
        "hl7": "MSH|^~\\&|A\rPID|1||PID123||Doe^Jane\rOBX|1",
    })
    assert event["patient_name"] == MASK and event["birth_date"] == MASK and event["count"] == 3
    assert "Doe" not in event["raw"] and "O|1|S1" in event["raw"]
    assert "Doe" not in event["hl7"] and "OBX|1" in event["hl7"]
    assert scrub_text("no phi here") == "no phi here"


def test_logged_exceptions_show_no_locals_and_no_phi(tmp_path: Path) -> None:
    ring = LogRing(capacity=10)
    log_file = configure_logging(tmp_path, ring=ring)
    log = get_logger("benchlink.test")

    def failing(patient_name: str) -> None:
        secret_local = patient_name  # noqa: F841 - must not appear in the traceback
        raise ValueError("boom P|1||ID9||Secretname^Ann")

    try:
        failing("Secretname^Ann")
    except ValueError:
        log.exception("decode failed", device="d1", patient_name="Secretname^Ann")
    for handler in logging.getLogger("benchlink").handlers:
        handler.flush()
    text = log_file.read_text(encoding="utf-8")
    assert "decode failed" in text
    assert "Secretname" not in text
    assert "secret_local" not in text
    record = json.loads(text.splitlines()[-1])
    assert record["device"] == "d1"
    # Local time with its UTC offset, so support can place it whatever the lab's time zone.
    stamp = datetime.fromisoformat(record["timestamp"])
    assert stamp.utcoffset() is not None and abs(stamp - datetime.now(UTC)) < timedelta(minutes=5)
    assert ring.entries()[-1].event == "decode failed"
    assert "Secretname" not in repr(ring.entries()[-1])


def test_ring_is_bounded() -> None:
    ring = LogRing(capacity=3)
    from benchlink.core.logbuffer import LogEntry

    for i in range(10):
        ring.append(LogEntry("t", "info", f"e{i}"))
    assert [e.event for e in ring.entries()] == ["e7", "e8", "e9"]


def test_parse_numeric_keeps_comparators_and_decimal_comma() -> None:
    assert parse_numeric("<15") == (15.0, "<")
    assert parse_numeric(" 7,41") == (7.41, "")
    assert parse_numeric(">=8") == (8.0, ">=")
    assert parse_numeric("-1.5e2") == (-150.0, "")
    assert parse_numeric("Negative") == (None, "")
    assert parse_numeric("***.**") == (None, "")
