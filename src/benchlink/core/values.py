"""Turn a value exactly as sent into a number and a comparator, without ever losing the text.

Analyzers send ``<15``, ``>8``, ``7,41`` (decimal comma), ``  5.5`` (padded) or ``***.**``
(invalid). The original string is always kept; the number is a convenience for sorting,
aggregates and HL7 NM/SN typing.
"""

from __future__ import annotations

import math
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


_RANGE = re.compile(r"^\s*([+-]?\d+(?:[.,]\d*)?)\s*(to|-|–|\^)\s*([+-]?\d+(?:[.,]\d*)?)\s*$", re.IGNORECASE)
_BOUND = re.compile(r"^\s*(<=|>=|<|>)\s*([+-]?\d+(?:[.,]\d*)?)\s*$")


def _decimals(text: str) -> int:
    digits = text.strip().replace(",", ".").lstrip("+-<>=").lower().split("e", 1)[0]
    return len(digits.split(".", 1)[1]) if "." in digits else 0


def scaled_decimals(text: str, factor: float) -> int:
    """Decimals for ``text`` times ``factor`` that keep the instrument's relative precision.

    A converted value must not claim more precision than the analyzer measured (6.4 mmol/L is not
    115.3024 mg/dL) nor throw away what it did measure: each power of ten the factor adds takes one
    decimal off, each it removes adds one (6.4 x 18.016 -> 115; 115 x 0.0555 -> 6.4; 3.9 x 2 -> 7.8).
    """
    if factor <= 0:
        return _decimals(text)
    return max(0, _decimals(text) - round(math.log10(factor)))


def format_scaled(number: float, decimals: int) -> str:
    return f"{number:.{decimals}f}"


def scale_value(value: str, factor: float) -> tuple[str, float] | None:
    """``value`` (as sent, comparator kept) multiplied by ``factor``, as (text, number); None when
    the text is not a plain number (``POS``, ``***.**``), which then cannot be converted."""
    number, comparator = parse_numeric(value)
    if number is None:
        return None
    decimals = scaled_decimals(value, factor)
    text = format_scaled(number * factor, decimals)
    return comparator + text, float(text)


def scale_range(reference_range: str, factor: float) -> str | None:
    """A numeric reference range (``3.5 to 5.1``, ``3.5-5.1``, ``<5.2``) in the converted unit; None
    when its form is not one of those, so the caller can drop a range that would mislead."""
    match = _RANGE.match(reference_range)
    if match is not None:
        low, separator, high = match.groups()
        scaled = [format_scaled(float(v.replace(",", ".")) * factor, scaled_decimals(v, factor)) for v in (low, high)]
        joiner = " to " if separator.lower() == "to" else separator
        return f"{scaled[0]}{joiner}{scaled[1]}"
    match = _BOUND.match(reference_range)
    if match is not None:
        comparator, bound = match.groups()
        return comparator + format_scaled(float(bound.replace(",", ".")) * factor, scaled_decimals(bound, factor))
    return None
