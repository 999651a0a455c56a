"""Turn a value exactly as sent into a number and a comparator, without ever losing the text.

Analyzers send ``<15``, ``>8``, ``7,41`` (decimal comma), ``  5.5`` (padded) or ``***.**``
(invalid). The original string is always kept; the number is a convenience for sorting,
aggregates and HL7 NM/SN typing.
"""

from __future__ import annotations

import re

_NUMERIC = re.compile(r"^\s*(<=|>=|<|>|=)?\s*([+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?)\s*$")


def parse_numeric(value: str) -> tuple[float | None, str]:
    """Return ``(number, comparator)``; ``(None, "")`` when the text is not a plain number."""
    # Most values are bare ASCII decimals (``7.7``, ``305``, ``7,41``): digits around at most
    # one separator is exactly what the pattern accepts without comparator, sign, padding or
    # exponent, so those skip the regex. Everything else, including non-ASCII digits, takes it.
    if value.isascii():
        text = value.replace(",", ".")
        if text.replace(".", "", 1).isdigit():
            return float(text), ""
    match = _NUMERIC.match(value)
    if match is None:
        return None, ""
    comparator = match.group(1) or ""
    text = match.group(2).replace(",", ".")
    try:
        return float(text), comparator
    except ValueError:
        return None, ""
