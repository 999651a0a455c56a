"""E1394 / LIS2-A2 escape sequences (section 6.6 of LIS2-A2).

Text that contains a delimiter is sent as ``&F&`` (field), ``&S&`` (component), ``&R&``
(repeat) or ``&E&`` (the escape character itself), written with the escape character the H
record declares. ``&Xhh..&`` carries raw character codes; we use it for control characters,
which may not appear in record text at all (a CR would end the record). ``&H&``/``&N&``
(highlighting on/off) carry no text and are dropped; any other sequence is kept verbatim,
because guessing would change data.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchlink.protocols.astm.records import Delimiters

__all__ = ["escape", "unescape"]

_HEX = frozenset("0123456789abcdefABCDEF")


@lru_cache(maxsize=64)
def _escape_table(field: str, repeat: str, component: str, escape: str) -> dict[int, str]:
    table: dict[int, str] = {c: f"{escape}X{c:02X}{escape}" for c in (*range(0x20), 0x7F)}
    table[ord(escape)] = f"{escape}E{escape}"
    table[ord(field)] = f"{escape}F{escape}"
    table[ord(component)] = f"{escape}S{escape}"
    table[ord(repeat)] = f"{escape}R{escape}"
    return table


@lru_cache(maxsize=64)
def _needs_escape(field: str, repeat: str, component: str, escape: str) -> frozenset[str]:
    return frozenset({field, repeat, component, escape, *map(chr, range(0x20)), "\x7f"})


def escape(text: str, delims: Delimiters) -> str:
    """Make ``text`` safe to place inside one component of a field."""
    specials = _needs_escape(delims.field, delims.repeat, delims.component, delims.escape)
    if specials.isdisjoint(text):
        return text
    return text.translate(_escape_table(delims.field, delims.repeat, delims.component, delims.escape))


def unescape(text: str, delims: Delimiters) -> str:
    """Turn escape sequences back into the characters they stand for.

    An escape character without a recognised sequence is kept as sent: instruments put stray
    ``&`` into free text (``Tom & Jerry``) and that must survive.
    """
    esc = delims.escape
    if esc not in text:
        return text
    parts = text.split(esc)
    out = [parts[0]]
    i = 1
    last = len(parts) - 1
    while i <= last:
        seq = parts[i]
        if i < last:
            replacement = _sequence(seq, delims)
            if replacement is not None:
                out.append(replacement)
                out.append(parts[i + 1])
                i += 2
                continue
        out.append(esc)
        out.append(seq)
        i += 1
    return "".join(out)


def _sequence(seq: str, delims: Delimiters) -> str | None:
    if len(seq) == 1:
        if seq == "F":
            return delims.field
        if seq == "S":
            return delims.component
        if seq == "R":
            return delims.repeat
        if seq == "E":
            return delims.escape
        if seq == "H" or seq == "N":
            return ""
        return None
    if seq[:1] == "X" and len(seq) % 2 == 1 and _HEX.issuperset(seq[1:]):
        return "".join(chr(int(seq[j:j + 2], 16)) for j in range(1, len(seq), 2))
    return None
