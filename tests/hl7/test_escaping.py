from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import hl7
from benchlink.protocols.hl7.escaping import Separators, escape, unescape


@pytest.mark.parametrize(
    ("escaped", "plain"),
    [
        (r"a\F\b", "a|b"),
        (r"a\S\b", "a^b"),
        (r"a\T\b", "a&b"),
        (r"a\R\b", "a~b"),
        (r"a\E\b", "a\\b"),
        (r"10\S\9/L", "10^9/L"),
        ("\\X48656C6C6F\\", "Hello"),
        ("caf\\XC3A9\\", "café"),
        (r"line1\.br\line2", r"line1\.br\line2"),  # formatting commands are left as sent
        ("\\H\\bold\\N\\", "\\H\\bold\\N\\"),
        ("no escapes at all", "no escapes at all"),
        ("dangling \\ backslash", "dangling \\ backslash"),
    ],
)
def test_unescape(escaped: str, plain: str) -> None:
    assert unescape(escaped) == plain


def test_escaped_escape_followed_by_letter_is_not_rescanned() -> None:
    # \E\R\ is a literal backslash followed by "R\", never a repetition character.
    assert unescape(r"a\E\R\b") == "a\\R\\b"
    assert unescape(r"\E\F\E\ ") == "\\F\\ "


def test_python_hl7_gets_escaped_escape_wrong() -> None:
    """Documents why we do not use python-hl7's unescape (if it is ever fixed, this fails)."""
    msg = hl7.parse("MSH|^~\\&|A|B|||20200101||ORU^R01|1|P|2.5\rOBX|1|ST|X||x")
    assert msg.unescape(r"a\E\R\b") != "a\\R\\b"


def test_escape_every_delimiter_and_line_breaks() -> None:
    assert escape("a|b^c&d~e\\f") == r"a\F\b\S\c\T\d\R\e\E\f"
    assert escape("x\ry\nz") == r"x\X0D\y\X0A\z"
    assert escape("plain") == "plain"


def test_custom_separators() -> None:
    seps = Separators(field="#", component="$", repetition="*", escape="!", subcomponent="%")
    assert escape("a#b$c", seps) == "a!F!b!S!c"
    assert unescape("a!F!b!S!c!E!", seps) == "a#b$c!"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_round_trip(text: str) -> None:
    assert unescape(escape(text)) == text
