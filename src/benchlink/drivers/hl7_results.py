"""Wire-level observations -> domain :class:`~benchlink.core.model.Result` objects.

It lives in ``benchlink.drivers`` because the result shape is the domain's: the HL7 protocol
package stays free of ``benchlink.core``, as the layer contract requires.
"""

from __future__ import annotations

from benchlink.core.model import Result, ResultKind
from benchlink.core.values import parse_numeric
from benchlink.protocols.hl7.message import Hl7Message
from benchlink.protocols.hl7.observations import Hl7Observation, read_observations

_KINDS = {kind.value: kind for kind in ResultKind}


def structured_numeric(text: str) -> tuple[str, float | None, str]:
    """An SN value (comparator^num1^separator^num2) as (text, number, comparator).

    Read as plain text, ``>^8`` and ``^1.5`` had no number (and were sent on as text with escaped
    separators). A single number keeps its comparator; a ratio or range (``^1^:^128``) is text only.
    """
    comparator, num1, separator, num2 = ([*text.split("^"), "", "", ""])[:4]
    if separator or num2:
        return f"{comparator}{num1}{separator}{num2}", None, ""
    number, parsed = parse_numeric(f"{comparator}{num1}")
    return f"{comparator}{num1}", number, parsed


def to_result(obs: Hl7Observation) -> Result:
    """One observation as a domain result; invalid (``***.**``) values never get a number."""
    value = obs.value
    if obs.invalid or not obs.value:
        number, comparator = None, ""
    elif obs.value_type == "SN" and "^" in obs.value:
        value, number, comparator = structured_numeric(obs.value)
    else:
        number, comparator = parse_numeric(obs.value)
    return Result(
        sample_id=obs.sample_id,
        instrument_code=obs.code,
        value=value,
        patient_id=obs.patient_id,
        patient_name=obs.patient_name,
        birth_date=obs.birth_date,
        test_name=obs.test_name,
        numeric_value=number,
        comparator=comparator,
        units=obs.units,
        reference_range=obs.reference_range,
        flags=obs.flags,
        status=obs.status,
        observed_at=obs.observed_at,
        instrument=obs.instrument,
        kind=_KINDS.get(obs.kind, ResultKind.PATIENT),
    )


def observations(msg: Hl7Message) -> list[Result]:
    """Every result of an ORU^R01 / OUL^R22 message (ED attachments excluded)."""
    return [to_result(obs) for obs in read_observations(msg)]
