"""A mapping's factor converts everything that carries the number, at the precision measured."""

from __future__ import annotations

import pytest

from benchlink.core.mapping import MappingEntry, MappingTable
from benchlink.core.model import Result
from benchlink.core.values import parse_numeric, scale_range, scale_value

TABLE = MappingTable([
    MappingEntry("chem", "K", "K-S", units="mEq/L", factor=2.0),
    MappingEntry("chem", "GLU", "GLU-S", name="Glucose", units="mg/dL", factor=18.016),
    MappingEntry("chem", "CHOL", "CHOL-S", units="mmol/L", factor=0.02586),
    MappingEntry("chem", "NA", "NA-S", units="mmol/L", factor=1.0),
])


def _result(code: str, value: str, reference_range: str = "", units: str = "mmol/L") -> Result:
    number, comparator = parse_numeric(value)
    return Result("S1", code, value, numeric_value=number, comparator=comparator, units=units,
                  reference_range=reference_range, flags="H")


@pytest.mark.parametrize(("code", "value", "rng", "expected"), [
    ("K", "3.9", "3.5 to 5.1", ("7.8", 7.8, "mEq/L", "7.0 to 10.2")),
    ("GLU", "6.4", "3.9-6.1", ("115", 115.0, "mg/dL", "70-110")),
    ("GLU", "<1.1", "<5.5", ("<20", 20.0, "mg/dL", "<99")),
    ("GLU", "7,41", "", ("133.5", 133.5, "mg/dL", "")),
    ("CHOL", "190", "", ("4.91", 4.91, "mmol/L", "")),
    ("CHOL", "190", "desirable <200", ("4.91", 4.91, "mmol/L", "")),  # digits it cannot convert: dropped
    ("K", "4.0", "negative", ("8.0", 8.0, "mEq/L", "negative")),  # no unit in it: kept
    ("NA", "140", "135-145", ("140", 140.0, "mmol/L", "135-145")),  # factor 1: renames the unit only
])
def test_value_text_number_unit_and_range_are_converted(code: str, value: str, rng: str,
                                                        expected: tuple[str, float, str, str]) -> None:
    out = TABLE.apply("chem", _result(code, value, rng, units="mg/dL" if code == "CHOL" else "mmol/L"))
    assert (out.value, out.numeric_value, out.units, out.reference_range) == expected
    assert out.flags == "H" and out.lis_code == f"{code}-S"  # the analyzer's flag still holds


def test_text_results_keep_their_text_and_unit() -> None:
    out = TABLE.apply("chem", _result("K", "HEMOLYSED", "3.5 to 5.1"))
    assert (out.value, out.numeric_value, out.units, out.reference_range) == ("HEMOLYSED", None, "mmol/L",
                                                                              "3.5 to 5.1")
    assert out.lis_code == "K-S"


def test_unmapped_results_are_untouched() -> None:
    result = _result("ALT", "41")
    assert TABLE.apply("chem", result) is result
    assert TABLE.apply("other-device", _result("K", "3.9")).value == "3.9"


def test_scaled_text_never_claims_more_precision_than_measured() -> None:
    assert scale_value("6.4", 18.016) == ("115", 115.0)
    assert scale_value("115", 0.0555) == ("6.4", 6.4)
    assert scale_value("0.05", 1000.0) == ("50", 50.0)
    assert scale_value(">8", 0.5) == (">4", 4.0)
    assert scale_value("***.**", 2.0) is None
    assert scale_range("3,5 to 5,1", 2.0) == "7.0 to 10.2"
    assert scale_range("ref 3.5", 2.0) is None
