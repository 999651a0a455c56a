"""Keep protected health information out of diagnostic logs (guarantee 5).

Two layers: keys that name PHI are masked outright, and free text is scrubbed of the
places PHI travels on the wire (ASTM P records, HL7 PID segments), because a raw frame
quoted in an error message would otherwise carry a patient's name into a log file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "[redacted]"

PHI_KEYS = frozenset(
    {
        "patient",
        "patient_name",
        "patient_id",
        "birth_date",
        "dob",
        "date_of_birth",
        "pid",
        "sample_patient",
        "first_name",
        "last_name",
    }
)

# An ASTM patient record or HL7 PID segment up to its terminator.
_ASTM_P = re.compile(r"((?<![A-Za-z0-9|^&\\])\d?P\|)[^\r\n\x03\x17\[<]*", re.MULTILINE)
_HL7_PID = re.compile(r"(PID\|)[^\r\n\x1c\[<]*", re.MULTILINE)


def scrub_text(text: str) -> str:
    if "P|" not in text and "PID|" not in text:
        return text
    text = _ASTM_P.sub(lambda m: m.group(1) + MASK, text)
    return _HL7_PID.sub(lambda m: m.group(1) + MASK, text)


def redact_value(key: str, value: Any) -> Any:
    if key.lower() in PHI_KEYS:
        return MASK
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, bytes):
        return scrub_text(value.decode("latin-1"))
    if isinstance(value, Mapping):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(key, v) for v in value]
    return value


def redact_mapping(event: Mapping[str, Any]) -> dict[str, Any]:
    return {key: redact_value(key, value) for key, value in event.items()}
