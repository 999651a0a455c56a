"""HL7 v2 escape sequences (HL7 v2.5.1 chapter 2.7), written from the standard.

Why our own: python-hl7 0.4.5 turns ``\\E\\R\\`` into ``\\R`` (it re-scans the output of
``\\E\\``), which corrupts any text that contains a literal backslash followed by a letter.
Here the input is scanned exactly once, left to right, so the output of one sequence can never
start another.

Rules implemented:

* ``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\`` stand for the field, component, subcomponent, repetition and
  escape characters of *this* message (taken from MSH-1/MSH-2, not assumed).
* ``\\Xhh..\\`` is hexadecimal data; it is decoded with the message's character set.
* Formatting commands (``\\.br\\``, ``\\.sp\\``, ``\\H\\``, ``\\N\\`` ...), character-set switches
  (``\\C..\\``, ``\\M..\\``) and unknown sequences are left exactly as sent: they are
  presentation instructions, and dropping them would lose information.
* An escape character without a closing one is kept literally (lenient: instruments get this
  wrong, and refusing the whole message would lose a result).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Separators:
    """The delimiters a message declares in MSH-1 and MSH-2."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    @property
    def encoding_characters(self) -> str:
        """MSH-2 as it must be written."""
        return f"{self.component}{self.repetition}{self.escape}{self.subcomponent}"


DEFAULT_SEPARATORS = Separators()

_escape_tables: dict[Separators, dict[int, str]] = {}


def _escape_table(seps: Separators) -> dict[int, str]:
    table = _escape_tables.get(seps)
    if table is None:
        e = seps.escape
        table = {
            ord(e): f"{e}E{e}",
            ord(seps.field): f"{e}F{e}",
            ord(seps.component): f"{e}S{e}",
            ord(seps.subcomponent): f"{e}T{e}",
            ord(seps.repetition): f"{e}R{e}",
            # Segment terminators must never appear inside a field; hex keeps them exact.
            0x0D: f"{e}X0D{e}",
            0x0A: f"{e}X0A{e}",
        }
        _escape_tables[seps] = table
    return table


def escape(text: str, seps: Separators = DEFAULT_SEPARATORS) -> str:
    """Make ``text`` safe to place inside one HL7 component (or a field with no components)."""
    for ch in (seps.escape, seps.field, seps.component, seps.subcomponent, seps.repetition, "\r", "\n"):
        if ch in text:
            return text.translate(_escape_table(seps))
    return text


def unescape(text: str, seps: Separators = DEFAULT_SEPARATORS, *, hex_encoding: str = "utf-8") -> str:
    """Replace escape sequences in one already-split field, component or subcomponent.

    ``hex_encoding`` is the message's character set; ``\\X..\\`` bytes that do not decode in it
    are decoded as ISO-8859-1 so no byte is ever lost.
    """
    esc = seps.escape
    if not esc or esc not in text:
        return text
    simple = {
        "F": seps.field,
        "S": seps.component,
        "T": seps.subcomponent,
        "R": seps.repetition,
        "E": esc,
    }
    out: list[str] = []
    pos = 0
    length = len(text)
    while pos < length:
        start = text.find(esc, pos)
        if start < 0:
            out.append(text[pos:])
            break
        end = text.find(esc, start + 1)
        if end < 0:
            out.append(text[pos:])
            break
        out.append(text[pos:start])
        body = text[start + 1 : end]
        replacement = simple.get(body)
        if replacement is not None:
            out.append(replacement)
        elif body[:1] == "X" and len(body) > 1:
            out.append(_decode_hex(body[1:], hex_encoding) or text[start : end + 1])
        else:
            out.append(text[start : end + 1])
        pos = end + 1
    return "".join(out)


def _decode_hex(digits: str, encoding: str) -> str:
    """Decode ``\\X..\\`` content; empty string when it is not valid hexadecimal."""
    if len(digits) % 2:
        return ""
    try:
        data = bytes.fromhex(digits)
    except ValueError:
        return ""
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return data.decode("latin-1")
