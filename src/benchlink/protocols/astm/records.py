"""ASTM E1394-97 / CLSI LIS2-A2 records: decode, typed views, encode.

Design choices, and why:

* A :class:`Record` keeps the raw field strings exactly as sent (escapes not decoded). Raw
  bytes are the source of truth (design guarantee 2), encoding back is a join, and most
  fields are never read, so decoding is two ``str.split`` calls per record and nothing else.
  Components, repeats and escapes are resolved only when a view asks for them.
* Text is decoded with ``errors="surrogateescape"``: no byte can make decoding fail, and
  :func:`encode_message` gives back the very bytes that came in. The typed views replace such
  undecodable bytes by U+FFFD, so what reaches storage or the GUI is always valid text.
* The tree (patients -> orders -> results, with comments and manufacturer records attached)
  is built on first access and cached; a driver that only wants the flat record list pays
  nothing for it.
* Field numbers follow the standard (1-based, ``R.1`` is the record type), so code reads like
  the vendor's interface manual.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property, lru_cache
from itertools import pairwise
from typing import TypeAlias

from benchlink.protocols.astm.errors import AstmDecodeError, AstmEncodeError
from benchlink.protocols.astm.escaping import escape, unescape

__all__ = [
    "MAX_LEADING_JUNK",
    "AstmMessage",
    "Delimiters",
    "FieldValue",
    "HeaderView",
    "OrderBlock",
    "OrderView",
    "PatientBlock",
    "PatientView",
    "QueryView",
    "Record",
    "ResultBlock",
    "ResultView",
    "decode_message",
    "encode_message",
    "encode_records",
    "parse_timestamp",
    "split_messages",
]

#: How many bytes of noise (line ends, a stray frame number, logger prefixes) may precede the
#: H record before the input is judged not to be one ASTM message.
MAX_LEADING_JUNK = 1024

#: Record types of E1394 / LIS2-A2 the tree builder knows.
RECORD_TYPES = frozenset("HPORCQMSL")

#: Type tokens taken as they are: one capital letter, as nearly every record is sent.
_RECORD_TOKENS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")

_ALNUM_OR_SPACE = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ \t\r\n")


# --------------------------------------------------------------------------- delimiters


@dataclass(frozen=True, slots=True)
class Delimiters:
    """The four delimiters an H record declares (``H|\\^&`` is the default set)."""

    field: str = "|"
    repeat: str = "\\"
    component: str = "^"
    escape: str = "&"

    def __post_init__(self) -> None:
        chars = (self.field, self.repeat, self.component, self.escape)
        if any(len(c) != 1 for c in chars):
            raise AstmDecodeError("each ASTM delimiter must be exactly one character")
        if len(set(chars)) != 4:
            raise AstmDecodeError(
                "the H record declares the same character for two delimiters; "
                "fix the instrument's LIS delimiter settings"
            )
        if any(c in _ALNUM_OR_SPACE or ord(c) < 0x20 or ord(c) == 0x7F for c in chars):
            raise AstmDecodeError(
                "an ASTM delimiter is a letter, digit, space or control character; "
                "fix the instrument's LIS delimiter settings"
            )

    @property
    def definition(self) -> str:
        """The H.2 text that declares this set (without the leading field delimiter)."""
        return self.repeat + self.component + self.escape

    @classmethod
    def from_header(cls, header_line: str) -> Delimiters:
        """Read the delimiters from an H record line (``H|\\^&...``, ``H|@^\\``, ``H|`^&``).

        A doubled first delimiter (``H|\\\\^&``, written by software that escaped the
        backslash twice) is read as one. Missing trailing delimiters take their defaults
        unless those collide with a declared one.
        """
        line = header_line.lstrip(" \t\r\n")
        if len(line) < 2 or line[0] not in "Hh":
            raise AstmDecodeError(
                "the message does not start with an H (header) record; "
                "pass one message's record text, beginning at its H record"
            )
        fd = line[1]
        end = line.find(fd, 2)
        definition = line[2:] if end < 0 else line[2:end]
        for stop in "\r\n":
            cut = definition.find(stop)
            if cut >= 0:
                definition = definition[:cut]
        if len(definition) == 4 and definition[0] == definition[1]:
            definition = definition[1:]
        if len(definition) > 3:
            raise AstmDecodeError(
                "the H record's delimiter definition (H.2) is longer than three characters; "
                "check the instrument's LIS delimiter settings"
            )
        declared = _declared_delimiters(fd, definition)
        if cls is Delimiters:
            return declared
        return cls(field=declared.field, repeat=declared.repeat, component=declared.component, escape=declared.escape)


@lru_cache(maxsize=64)
def _declared_delimiters(fd: str, definition: str) -> Delimiters:
    """Build (and validate) the set an H record declares.

    Cached because every message repeats its instrument's few declarations and validating
    a set costs more than reading the rest of the header; sets are frozen, so sharing one
    is safe. Invalid declarations raise and are therefore not cached.
    """
    defaults = ["\\", "^", "&"]
    chosen = list(definition)
    for default in defaults[len(chosen):]:
        if default in chosen or default == fd:
            spare = next(c for c in "\\^&~`@#!" if c not in chosen and c != fd)
            chosen.append(spare)
        else:
            chosen.append(default)
    return Delimiters(field=fd, repeat=chosen[0], component=chosen[1], escape=chosen[2])


DEFAULT_DELIMITERS = Delimiters()


# --------------------------------------------------------------------------- records


def _clean(text: str) -> str:
    """Replace bytes that did not decode (lone surrogates) by U+FFFD for consumers."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


@dataclass(frozen=True, slots=True, init=False)
class Record:
    """One E1394 record with its raw fields.

    ``fields[0]`` is the type token as sent; ``field(n)`` uses the standard's 1-based numbering
    (``R.3`` is ``field(3)``).
    """

    type: str
    fields: tuple[str, ...]

    def __init__(self, type: str, fields: tuple[str, ...]) -> None:
        # The generated frozen __init__ assigns through object.__setattr__; the slot
        # descriptors do the same a third faster, and this runs for every record received.
        _set_record_type(self, type)
        _set_record_fields(self, fields)

    def field(self, n: int) -> str:
        """Raw text of field ``n`` (1-based, as the standard numbers them); ``""`` if absent."""
        if n < 1:
            raise ValueError(f"ASTM fields are numbered from 1, got {n}")
        fields = self.fields
        return fields[n - 1] if n <= len(fields) else ""

    # The accessors below return the raw split directly when the text is ASCII and holds no
    # escape character: then ``unescape`` and ``_clean`` are both identities, and that is what
    # nearly every field of every real message looks like. Anything else takes the full path.

    def text(self, n: int, delims: Delimiters) -> str:
        """Field ``n`` with escape sequences decoded (components and repeats left joined)."""
        fields = self.fields
        raw = fields[n - 1] if 0 < n <= len(fields) else self.field(n)
        if raw.isascii() and delims.escape not in raw:
            return raw
        if self.type == "H" and n == 2:
            return _clean(raw)
        return _clean(unescape(raw, delims))

    def repeats(self, n: int, delims: Delimiters) -> list[str]:
        """The repeats of field ``n``, each unescaped (components inside stay joined)."""
        fields = self.fields
        raw = fields[n - 1] if 0 < n <= len(fields) else self.field(n)
        if not raw:
            return []
        if raw.isascii() and delims.escape not in raw:
            return raw.split(delims.repeat)
        return [_clean(unescape(r, delims)) for r in raw.split(delims.repeat)]

    def components(self, n: int, delims: Delimiters) -> list[str]:
        """Unescaped components of the first repeat of field ``n``."""
        fields = self.fields
        raw = fields[n - 1] if 0 < n <= len(fields) else self.field(n)
        if not raw:
            return []
        cut = raw.find(delims.repeat)
        first = raw if cut < 0 else raw[:cut]
        if first.isascii() and delims.escape not in first:
            return first.split(delims.component)
        return [_clean(unescape(c, delims)) for c in first.split(delims.component)]

    def repeat_components(self, n: int, delims: Delimiters) -> list[list[str]]:
        """Every repeat of field ``n`` split into unescaped components."""
        fields = self.fields
        raw = fields[n - 1] if 0 < n <= len(fields) else self.field(n)
        if not raw:
            return []
        comp = delims.component
        if raw.isascii() and delims.escape not in raw:
            return [rep.split(comp) for rep in raw.split(delims.repeat)]
        return [[_clean(unescape(c, delims)) for c in rep.split(comp)] for rep in raw.split(delims.repeat)]

    def raw_line(self, delims: Delimiters) -> str:
        """The record as it would be written (fields joined by the field delimiter)."""
        return delims.field.join(self.fields)


_set_record_type = vars(Record)["type"].__set__
_set_record_fields = vars(Record)["fields"].__set__


def first_nonempty(values: Sequence[str]) -> str:
    """The first value that is not blank, trimmed; ``""`` when there is none."""
    for v in values:
        s = v.strip()
        if s:
            return s
    return ""


#: What ``str.strip()`` removes from ASCII text (it includes the separators 0x1C-0x1F).
_ASCII_SPACE = "".join(c for c in map(chr, range(128)) if c.isspace())


def _first_component(record: Record, n: int, delims: Delimiters) -> str:
    """``first_nonempty(record.components(n, delims))`` without building the component list.

    Ids, codes and instrument names are read this way for every record; in plain text the
    first non-blank component, trimmed, is what is left before the next component delimiter
    once leading blanks and delimiters are dropped.
    """
    raw = record.field(n)
    if raw.isascii() and delims.escape not in raw:
        comp = delims.component
        return raw.split(delims.repeat, 1)[0].lstrip(comp + _ASCII_SPACE).split(comp, 1)[0].rstrip()
    return first_nonempty(record.components(n, delims))


def parse_timestamp(value: str) -> datetime | None:
    """Read an E1394 ``YYYYMMDD[HH[MM[SS]]]`` date-time; ``None`` when absent or invalid.

    Instruments append time zones or fractions now and then; anything after the seconds is
    ignored rather than failing the whole result.
    """
    return _timestamp(value)


@lru_cache(maxsize=256)
def _timestamp(value: str) -> datetime | None:
    # Cached: an analyzer stamps every result of a message (and often of a whole run) with
    # the same few strings, and datetimes are immutable, so one parse serves them all.
    s = value.strip()
    if len(s) < 8 or not s[:8].isdigit():
        return None
    head = s[:14]
    digits = head if head.isdigit() else _leading_digits(head)
    try:
        year, month, day = int(digits[0:4]), int(digits[4:6]), int(digits[6:8])
        hour = int(digits[8:10]) if len(digits) >= 10 else 0
        minute = int(digits[10:12]) if len(digits) >= 12 else 0
        second = int(digits[12:14]) if len(digits) >= 14 else 0
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def _leading_digits(s: str) -> str:
    n = 0
    for ch in s:
        if not ch.isdigit():
            break
        n += 1
    return s[:n]


def _parse_date(value: str) -> date | None:
    stamp = _timestamp(value)
    return stamp.date() if stamp is not None else None


# --------------------------------------------------------------------------- typed views


@dataclass(frozen=True)
class _View:
    record: Record
    delimiters: Delimiters = DEFAULT_DELIMITERS

    def text(self, n: int) -> str:
        return self.record.text(n, self.delimiters)

    def stripped(self, n: int) -> str:
        return self.record.text(n, self.delimiters).strip()

    def components(self, n: int) -> list[str]:
        return self.record.components(n, self.delimiters)

    @property
    def sequence(self) -> int | None:
        """Field 2, the sequence number (``None`` when missing or not a number)."""
        s = self.record.field(2).strip()
        return int(s) if s.isdigit() else None


@dataclass(frozen=True)
class HeaderView(_View):
    """Accessors over the H record (LIS2-A2 section 7)."""

    @property
    def message_control_id(self) -> str:
        return self.stripped(3)

    @property
    def sender_components(self) -> list[str]:
        """H.5 split into components, each trimmed (instruments pad it)."""
        return [c.strip() for c in self.components(5)]

    @property
    def sender_name(self) -> str:
        """First component of H.5 (the instrument or system name)."""
        comps = self.components(5)
        return comps[0].strip() if comps else ""

    @property
    def sender_version(self) -> str:
        """Second component of H.5, where most instruments put a model or software version."""
        comps = self.sender_components
        return comps[1] if len(comps) > 1 else ""

    @property
    def receiver_id(self) -> str:
        return self.stripped(10)

    @property
    def comment(self) -> str:
        return self.stripped(11)

    @property
    def processing_id(self) -> str:
        """H.12: P production, T training, D debugging, Q quality control."""
        return self.stripped(12)

    @property
    def version(self) -> str:
        """H.13, e.g. ``LIS2-A2`` or ``1394-97``."""
        return self.stripped(13)

    @property
    def timestamp(self) -> datetime | None:
        return _timestamp(self.record.field(14))


@dataclass(frozen=True)
class PatientView(_View):
    """Accessors over a P record (LIS2-A2 section 8). These fields are PHI: never log them."""

    @property
    def practice_id(self) -> str:
        return self.stripped(3)

    @property
    def lab_id(self) -> str:
        return self.stripped(4)

    @property
    def patient_id_3(self) -> str:
        return self.stripped(5)

    @property
    def name(self) -> list[str]:
        """P.6 components: last^first^middle^suffix^title."""
        return [c.strip() for c in self.components(6)]

    @property
    def last_name(self) -> str:
        comps = self.name
        return comps[0] if comps else ""

    @property
    def first_name(self) -> str:
        comps = self.name
        return comps[1] if len(comps) > 1 else ""

    @property
    def birth_date_raw(self) -> str:
        return self.stripped(8)

    @property
    def birth_date(self) -> date | None:
        return _parse_date(self.record.field(8))

    @property
    def sex(self) -> str:
        """P.9: M, F or U as sent."""
        return self.stripped(9)


@dataclass(frozen=True)
class OrderView(_View):
    """Accessors over an O record (LIS2-A2 section 9)."""

    @property
    def sample_id_components(self) -> list[str]:
        return self.components(3)

    @property
    def sample_id(self) -> str:
        """O.3, the specimen id: first non-empty component, padding trimmed.

        When O.3 is empty the instrument specimen id (O.4) is used: Sysmex, Afinion and DCA
        leave O.3 empty and send ``^^ 27^M`` (rack^position^padded id^mode) there -> ``27``.
        """
        return _first_component(self.record, 3, self.delimiters) or _first_component(self.record, 4, self.delimiters)

    @property
    def instrument_specimen_id(self) -> str:
        return _first_component(self.record, 4, self.delimiters)

    @property
    def tests(self) -> list[list[str]]:
        """O.5 universal test ids: one component list per repeat."""
        return self.record.repeat_components(5, self.delimiters)

    @property
    def test_codes(self) -> list[str]:
        """The instrument's code of each ordered test (see :attr:`ResultView.code`)."""
        return [code for code in (_test_code(c)[0] for c in self.tests) if code]

    @property
    def priority(self) -> str:
        """O.6: S stat, A ASAP, R routine, C callback, P preoperative."""
        return self.stripped(6)

    @property
    def requested_at(self) -> datetime | None:
        return _timestamp(self.record.field(7))

    @property
    def collected_at(self) -> datetime | None:
        return _timestamp(self.record.field(8))

    @property
    def action_code(self) -> str:
        """O.12: C cancel, A add, N new, P pending, L reserved, X in process, Q treat as QC specimen."""
        return self.stripped(12)

    @property
    def specimen_descriptor(self) -> str:
        return _first_component(self.record, 16, self.delimiters)

    @property
    def report_type(self) -> str:
        """O.26: O order, F final, P preliminary, X cannot be done, Q response to query..."""
        return self.stripped(26)


_LOINC = re.compile(r"^\d{1,7}-\d$")


def _test_code(comps: Sequence[str]) -> tuple[str, list[str]]:
    """Pick the instrument's test code from universal test id components.

    LIS2-A2 reserves components 1-3 (universal id, name, type) and puts the manufacturer's
    local code in component 4 (``^^^GLU``). Instruments that fill the first components use
    them for their code (Ortho ``ABO``, Mindray ``P^Phosphorus^^F``, ``^Glo^^F``), so the first
    non-empty of components 1-3 wins; when those are empty the first non-empty component
    from the fourth on is the code (``^^^GLU``, Sysmex ``^^^^WBC^1``). Drivers that know
    better read :attr:`ResultView.test_components`. Returns the code and the components after it.
    """
    # Components 1-3 first, then 4 on: that is simply every component in order.
    for i, comp in enumerate(comps):
        s = comp.strip()
        if s:
            return s, [c.strip() for c in comps[i + 1:]]
    return "", []


def _value_text(record: Record, n: int, delims: Delimiters) -> str:
    raw = record.field(n)
    if raw.isascii() and delims.escape not in raw:
        return _plain_value_text(raw, delims.component, delims.repeat)
    if not raw:
        return ""
    if delims.component not in raw and delims.repeat not in raw:
        return record.text(n, delims).strip()
    comps = [c.strip() for c in record.components(n, delims)]
    nonempty = [c for c in comps if c]
    if len(nonempty) <= 1 and delims.repeat not in raw:
        return nonempty[0] if nonempty else ""
    return record.text(n, delims).strip().rstrip(delims.component).strip()


def _plain_value_text(raw: str, comp: str, rep: str) -> str:
    """``_value_text`` of a field with no escapes and no undecodable bytes (so no unescaping)."""
    if not raw:
        return ""
    if rep not in raw:
        if comp not in raw:
            return raw.strip()
        nonempty = [c for c in raw.split(comp) if not c.isspace() and c]
        if len(nonempty) <= 1:
            return nonempty[0].strip() if nonempty else ""
    return raw.strip().rstrip(comp).strip()


# --------------------------------------------------------------------------- one-pass readers
# What the generic driver reads of every P, O and R record, without a view. Reading eight
# properties through a view costs several times the string work itself, and a busy
# workstation does it for every result. They only take plain records (all ASCII, no escape
# character), where unescaping and byte cleaning are identities, and return ``None`` for
# anything else so the caller reads the views. Each must give exactly what the views give:
# tests/protocols/test_decode_equivalence.py holds them to it.


def _plain_fields(record: Record, delims: Delimiters, width: int) -> tuple[str, ...] | None:
    """The record's fields padded to ``width`` when it is plain, else ``None``."""
    fields = record.fields
    line = delims.field.join(fields)
    if not line.isascii() or delims.escape in line:
        return None
    return fields if len(fields) >= width else fields + ("",) * (width - len(fields))


def _lead(field: str, rep: str, comp: str, blank: str) -> str:
    """First non-blank component of the first repeat of a plain field, trimmed (what the views'
    ``first_nonempty(components(n))`` gives): what remains before the next component delimiter
    once leading blanks and delimiters are dropped."""
    return field.split(rep, 1)[0].lstrip(blank).split(comp, 1)[0].rstrip()


def result_essentials(
    record: Record, delims: Delimiters
) -> tuple[str, str, str, str, str, str, datetime | None, str] | None:
    """:class:`ResultView`'s code, value, units, reference_range, abnormal_flag, status,
    completed_at and instrument of a plain R record."""
    fields = _plain_fields(record, delims, 14)
    if fields is None:
        return None
    comp = delims.component
    rep = delims.repeat
    blank = comp + _ASCII_SPACE
    code = _lead(fields[2], rep, comp, blank)
    value = _plain_value_text(fields[3], comp, rep)
    units = _plain_value_text(fields[4], comp, rep)
    reference_range = fields[5].strip().rstrip(comp).strip()
    # First non-blank repeat of R.7, then its first non-blank component.
    flag = _lead(fields[6].lstrip(rep + _ASCII_SPACE), rep, comp, blank)
    status = fields[8].strip()
    completed_at = _timestamp(fields[12])
    instrument = _lead(fields[13], rep, comp, blank)
    return code, value, units, reference_range, flag, status, completed_at, instrument


def order_essentials(record: Record, delims: Delimiters) -> tuple[str, str] | None:
    """:class:`OrderView`'s sample_id and action_code of a plain O record.

    The action code (O.12) is what marks a QC specimen (``Q``); the report type (O.26) is not
    read: its ``Q`` means "response to query", which patient results are too.
    """
    fields = _plain_fields(record, delims, 12)
    if fields is None:
        return None
    comp = delims.component
    rep = delims.repeat
    blank = comp + _ASCII_SPACE
    sample_id = _lead(fields[2], rep, comp, blank) or _lead(fields[3], rep, comp, blank)
    return sample_id, fields[11].strip()


def patient_essentials(record: Record, delims: Delimiters) -> tuple[str, str, str, list[str], list[str]] | None:
    """:class:`PatientView`'s practice_id, lab_id, patient_id_3 and name, and the components of
    P.8 (birth date), of a plain P record."""
    fields = _plain_fields(record, delims, 8)
    if fields is None:
        return None
    rep = delims.repeat
    comp = delims.component
    name = fields[5]
    birth = fields[7]
    return (
        fields[2].strip(),
        fields[3].strip(),
        fields[4].strip(),
        [c.strip() for c in name.split(rep, 1)[0].split(comp)] if name else [],
        birth.split(rep, 1)[0].split(comp) if birth else [],
    )


@dataclass(frozen=True)
class ResultView(_View):
    """Accessors over an R record (LIS2-A2 section 10)."""

    @property
    def test_components(self) -> list[str]:
        """R.3 (universal test id) split into components, as sent."""
        return self.components(3)

    @property
    def code(self) -> str:
        """The instrument's test code: ``^^^GLU`` -> GLU, ``^^^^WBC^1`` -> WBC, ``ABO`` -> ABO.

        See ``_test_code`` for the rule; vendor drivers may read :attr:`test_components`.
        """
        # _test_code's code is the first non-empty component; skip building the qualifiers.
        return _first_component(self.record, 3, self.delimiters)

    @property
    def code_qualifiers(self) -> list[str]:
        """Components after the code (Horiba ``^^^WBC^804-5^1`` -> ``["804-5", "1"]``)."""
        return _test_code(self.components(3))[1]

    @property
    def loinc(self) -> str:
        """A LOINC-shaped qualifier of the code (Horiba sends ``804-5``), or ``""``."""
        for q in self.code_qualifiers:
            if _LOINC.match(q):
                return q
        return ""

    @property
    def value(self) -> str:
        """R.4 trimmed of padding.

        A value sent as one non-empty component among empty ones (``2.83^^^^``,
        ``^0.0``) is that component; a value with several (blood-bank ``3+^3+^45``) is the
        whole text, see :attr:`value_components`.
        """
        return _value_text(self.record, 4, self.delimiters)

    @property
    def value_components(self) -> list[str]:
        return [c.strip() for c in self.components(4)]

    @property
    def units(self) -> str:
        return _value_text(self.record, 5, self.delimiters)

    @property
    def reference_range(self) -> str:
        """R.6 as sent (vendors disagree on its shape: ``3.5 to 5.1``, ``20^1000``)."""
        return self.text(6).strip().rstrip(self.delimiters.component).strip()

    @property
    def abnormal_flags(self) -> list[str]:
        """R.7, one entry per repeat (trimmed, empty repeats dropped)."""
        return [r.strip() for r in self.record.repeats(7, self.delimiters) if r.strip()]

    @property
    def abnormal_flag(self) -> str:
        """First abnormal flag: L, H, LL, HH, <, >, N, A, U, D, B, W or a vendor code."""
        delims = self.delimiters
        for repeat in self.record.repeats(7, delims):
            flag = repeat.strip()
            if flag:
                return first_nonempty(flag.split(delims.component))
        return ""

    @property
    def abnormality_nature(self) -> str:
        return self.stripped(8)

    @property
    def status(self) -> str:
        """R.9: F final, P preliminary, C correction, X cannot be done, W, R, ..."""
        return self.stripped(9)

    @property
    def operator(self) -> str:
        return _first_component(self.record, 11, self.delimiters)

    @property
    def started_at(self) -> datetime | None:
        return _timestamp(self.record.field(12))

    @property
    def completed_at(self) -> datetime | None:
        return _timestamp(self.record.field(13))

    @property
    def instrument(self) -> str:
        return _first_component(self.record, 14, self.delimiters)


@dataclass(frozen=True)
class QueryView(_View):
    """Accessors over a Q (request information) record (LIS2-A2 section 12)."""

    @property
    def starting_range(self) -> list[str]:
        """Q.3 components of the first repeat: patient id^specimen id^..."""
        return self.components(3)

    @property
    def sample_ids(self) -> list[str]:
        """Specimen id of each Q.3 repeat (component 2, else the first non-empty one)."""
        ids = []
        for comps in self.record.repeat_components(3, self.delimiters):
            sid = comps[1].strip() if len(comps) > 1 else ""
            ids.append(sid or first_nonempty(comps))
        return [i for i in ids if i]

    @property
    def sample_id(self) -> str:
        ids = self.sample_ids
        return ids[0] if ids else ""

    @property
    def ending_range(self) -> list[str]:
        return self.components(4)

    @property
    def tests(self) -> list[list[str]]:
        """Q.5 repeats, each split into components (``ALL`` means every test)."""
        return self.record.repeat_components(5, self.delimiters)

    @property
    def test_codes(self) -> list[str]:
        return [code for code in (_test_code(c)[0] for c in self.tests) if code]

    @property
    def status_code(self) -> str:
        """Q.13 request information status: O order, C cancel, A abort, ..."""
        return self.stripped(13)


# --------------------------------------------------------------------------- tree

_IMPLICIT_PATIENT = Record("P", ("P",))
_IMPLICIT_ORDER = Record("O", ("O",))

#: Patients, each with its orders, each with its result records.
_ResultGroups: TypeAlias = list[tuple[Record, list[tuple[Record, list[Record]]]]]


def result_groups(records: Sequence[Record]) -> _ResultGroups:
    """P, O and R records grouped as :attr:`AstmMessage.patients` groups them, without blocks.

    For the generic driver, which reads every result of every message and needs none of the
    comments and manufacturer records that building the blocks costs. A missing P or O is
    stood in for by an empty record, as in the tree. Keep in step with ``AstmMessage._tree``:
    tests/protocols/test_decode_equivalence.py compares the two.
    """
    patients: _ResultGroups = []
    orders: list[tuple[Record, list[Record]]] | None = None
    results: list[Record] | None = None
    for rec in records:
        kind = rec.type
        if kind == "R":
            if results is None:
                results = []
                if orders is None:
                    orders = []
                    patients.append((_IMPLICIT_PATIENT, orders))
                orders.append((_IMPLICIT_ORDER, results))
            results.append(rec)
        elif kind == "O":
            results = []
            if orders is None:
                orders = []
                patients.append((_IMPLICIT_PATIENT, orders))
            orders.append((rec, results))
        elif kind == "P":
            orders = []
            patients.append((rec, orders))
            results = None
    return patients


@dataclass
class ResultBlock:
    record: Record
    comments: list[Record] = field(default_factory=list)
    manufacturer: list[Record] = field(default_factory=list)
    delimiters: Delimiters = DEFAULT_DELIMITERS

    @property
    def view(self) -> ResultView:
        return ResultView(self.record, self.delimiters)


@dataclass
class OrderBlock:
    record: Record
    comments: list[Record] = field(default_factory=list)
    results: list[ResultBlock] = field(default_factory=list)
    manufacturer: list[Record] = field(default_factory=list)
    delimiters: Delimiters = DEFAULT_DELIMITERS
    #: True when the message had results without an O record and this block stands in for it.
    implicit: bool = False

    @property
    def view(self) -> OrderView:
        return OrderView(self.record, self.delimiters)


@dataclass
class PatientBlock:
    record: Record
    comments: list[Record] = field(default_factory=list)
    orders: list[OrderBlock] = field(default_factory=list)
    manufacturer: list[Record] = field(default_factory=list)
    delimiters: Delimiters = DEFAULT_DELIMITERS
    #: True when the message had orders without a P record and this block stands in for it.
    implicit: bool = False

    @property
    def view(self) -> PatientView:
        return PatientView(self.record, self.delimiters)


@dataclass
class _Tree:
    patients: list[PatientBlock]
    queries: list[QueryView]
    comments: list[Record]
    manufacturer: list[Record]


_EMPTY_HEADER = Record("H", ("H", "\\^&"))


@dataclass(frozen=True)
class AstmMessage:
    """One decoded message: its delimiters and its records, in order, raw."""

    delimiters: Delimiters
    records: tuple[Record, ...]
    encoding: str = "latin-1"
    #: Whether the last record was followed by a record separator in the input.
    trailing_separator: bool = True
    #: What tolerant decoding had to forgive (no patient data in these texts).
    warnings: tuple[str, ...] = ()

    @property
    def has_header(self) -> bool:
        return bool(self.records) and self.records[0].type == "H"

    @property
    def header(self) -> HeaderView:
        """The H record; an empty one with default delimiters when the input had none."""
        if self.has_header:
            return HeaderView(self.records[0], self.delimiters)
        return HeaderView(_EMPTY_HEADER, self.delimiters)

    @property
    def terminator(self) -> Record | None:
        for rec in reversed(self.records):
            if rec.type == "L":
                return rec
        return None

    @property
    def patients(self) -> list[PatientBlock]:
        return self._tree.patients

    @property
    def queries(self) -> list[QueryView]:
        return self._tree.queries

    @property
    def comments(self) -> list[Record]:
        """C records that follow the H or a Q record (message-level comments)."""
        return self._tree.comments

    @property
    def manufacturer(self) -> list[Record]:
        """M records that precede any P record."""
        return self._tree.manufacturer

    def iter_results(self) -> Iterator[tuple[PatientBlock, OrderBlock, ResultBlock]]:
        for patient in self.patients:
            for order in patient.orders:
                for result in order.results:
                    yield patient, order, result

    @property
    def results(self) -> list[ResultView]:
        return [r.view for _, _, r in self.iter_results()]

    def by_type(self, record_type: str) -> list[Record]:
        return [r for r in self.records if r.type == record_type]

    @cached_property
    def _tree(self) -> _Tree:
        delims = self.delimiters
        patients: list[PatientBlock] = []
        queries: list[QueryView] = []
        top_comments: list[Record] = []
        top_manufacturer: list[Record] = []
        patient: PatientBlock | None = None
        order: OrderBlock | None = None
        # Where a C or M record goes: the block of the record it follows.
        comment_target: list[Record] = top_comments
        manufacturer_target: list[Record] = top_manufacturer

        def ensure_patient() -> PatientBlock:
            nonlocal patient
            if patient is None:
                patient = PatientBlock(Record("P", ("P",)), delimiters=delims, implicit=True)
                patients.append(patient)
            return patient

        for rec in self.records:
            kind = rec.type
            if kind == "R":
                if order is None:
                    order = OrderBlock(Record("O", ("O",)), delimiters=delims, implicit=True)
                    ensure_patient().orders.append(order)
                result = ResultBlock(rec, delimiters=delims)
                order.results.append(result)
                comment_target, manufacturer_target = result.comments, result.manufacturer
            elif kind == "C":
                comment_target.append(rec)
            elif kind == "M":
                manufacturer_target.append(rec)
            elif kind == "O":
                order = OrderBlock(rec, delimiters=delims)
                ensure_patient().orders.append(order)
                comment_target, manufacturer_target = order.comments, order.manufacturer
            elif kind == "P":
                patient = PatientBlock(rec, delimiters=delims)
                patients.append(patient)
                order = None
                comment_target, manufacturer_target = patient.comments, patient.manufacturer
            elif kind == "Q":
                queries.append(QueryView(rec, delims))
                comment_target = top_comments
            elif kind == "H" or kind == "L":
                comment_target, manufacturer_target = top_comments, top_manufacturer
        return _Tree(patients, queries, top_comments, top_manufacturer)


# --------------------------------------------------------------------------- decode


def _looks_like_record(line: str, fd: str) -> bool:
    return len(line) >= 2 and line[1] == fd and line[0].isalpha()


_HEADER_START = re.compile(r"(?:^|(?<=[\r\n]))[ \t]*H[^0-9A-Za-z\s]")


def decode_message(data: bytes, *, encoding: str = "latin-1", tolerant: bool = True) -> AstmMessage:
    """Decode one message's record text (records separated by CR; CRLF and LF tolerated).

    ``tolerant`` (the default) accepts what real instruments send: up to
    :data:`MAX_LEADING_JUNK` bytes of noise before H, a message without an H record (default
    delimiters), records after L. With ``tolerant=False`` those raise
    :class:`AstmDecodeError`. Undecodable bytes never raise (see the module notes).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decode_message expects bytes, got {type(data).__name__}")
    text = bytes(data).decode(encoding, "surrogateescape")
    if not text or text.isspace():
        raise AstmDecodeError("the message is empty; nothing to decode")
    start = 0
    if text[0] != "H":
        match = _HEADER_START.search(text, 0, MAX_LEADING_JUNK + 2)
        if match is not None and match.start() <= MAX_LEADING_JUNK:
            start = match.end() - 2
            if start and not tolerant:
                raise AstmDecodeError(
                    f"{start} bytes precede the H record; pass the message text from its H record",
                    offset=0,
                )
        else:
            first = text.lstrip()
            if not tolerant or not _looks_like_record(first, "|"):
                raise AstmDecodeError(
                    f"no H (header) record within the first {MAX_LEADING_JUNK} bytes and the text "
                    "does not start with a record; this is not one ASTM E1394 message "
                    "(quarantine it, or read it with read_capture if it is a capture file)",
                    offset=0,
                )
            start = len(text) - len(first)
        text = text[start:]
    warnings: list[str] = []
    if text[0] == "H":
        try:
            delims = Delimiters.from_header(text[:512])
        except AstmDecodeError:
            if not tolerant or text[1:2] != "|":
                raise
            delims = DEFAULT_DELIMITERS
            warnings.append("the H record's delimiter definition is unreadable; default delimiters used")
    else:
        delims = DEFAULT_DELIMITERS
        warnings.append("no H record; default delimiters used")
    if start:
        warnings.append(f"{start} bytes before the H record were skipped")

    if "\n" in text:
        text = text.replace("\r\n", "\r").replace("\n", "\r")
    trailing = text.endswith("\r")
    fd = delims.field
    records: list[Record] = []
    append = records.append
    seen_terminator = False
    for line in text.split("\r"):
        if not line:
            continue
        fields = tuple(line.split(fd))
        token = fields[0]
        if token in _RECORD_TOKENS:
            kind = token
        else:
            stripped = token.strip()
            if not stripped:
                if not line.strip():
                    continue
                kind = "?"
            else:
                kind = stripped[0].upper()
        if not tolerant:
            if seen_terminator:
                raise AstmDecodeError("records follow the L (terminator) record; split the stream "
                                      "with split_messages first")
            if kind not in RECORD_TYPES:
                raise AstmDecodeError(f"record {len(records) + 1} has unknown type {kind!r}")
            if kind == "H" and records:
                raise AstmDecodeError("a second H record inside one message; split the stream "
                                      "with split_messages first")
            seen_terminator = kind == "L"
        append(Record(kind, fields))
    if not records:
        raise AstmDecodeError("the message holds no records")
    return AstmMessage(delims, tuple(records), encoding, trailing, tuple(warnings))


_NOT_DELIMITER = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ \t\r\n\x0b\x0c")


def _header_starts(data: bytes) -> list[int]:
    """Offsets of every ``H<delimiter>`` at the start of a line (found with bytes.find)."""
    starts = []
    n = len(data)
    if n >= 2 and data[0] == 0x48 and data[1] not in _NOT_DELIMITER:
        starts.append(0)
    for sep in (b"\rH", b"\nH"):
        pos = data.find(sep)
        while pos >= 0:
            at = pos + 1
            if at + 1 < n and data[at + 1] not in _NOT_DELIMITER:
                starts.append(at)
            pos = data.find(sep, at)
    starts.sort()
    return starts


def split_messages(data: bytes) -> list[bytes]:
    """Cut a record stream holding several H..L messages into one ``bytes`` per message.

    A message starts at every H record at the start of a line. Text before the first H is
    returned as a message of its own when it is not blank, so it can be decoded or
    quarantined, never dropped.
    """
    data = bytes(data)
    starts = _header_starts(data)
    if not starts:
        return [data] if data.strip() else []
    out: list[bytes] = []
    if starts[0] > 0 and data[: starts[0]].strip():
        out.append(data[: starts[0]])
    bounds = [*starts, len(data)]
    for a, b in pairwise(bounds):
        out.append(data[a:b])
    return out


# --------------------------------------------------------------------------- encode


def encode_message(message: AstmMessage) -> bytes:
    """Write a message back: records joined by CR, trailing CR as in the input.

    Raw fields are written as they are, so canonical input comes back byte for byte.
    """
    fd = message.delimiters.field
    text = "\r".join([fd.join(rec.fields) for rec in message.records])
    if message.trailing_separator:
        text += "\r"
    try:
        return text.encode(message.encoding, "surrogateescape")
    except UnicodeEncodeError as exc:
        raise AstmEncodeError(
            f"a field holds a character that {message.encoding} cannot represent; "
            "choose an encoding the instrument accepts"
        ) from exc


FieldValue: TypeAlias = str | Sequence[str | None] | Sequence[Sequence[str | None]] | None


def _encode_field(value: object, delims: Delimiters, depth: int) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return escape(value, delims)
    if isinstance(value, (bytes, bytearray)):
        raise AstmEncodeError("encode_records takes text (str), not bytes, for field values")
    if isinstance(value, Sequence):
        if depth == 0:
            if any(not isinstance(v, (str, type(None))) for v in value):
                return delims.repeat.join(_encode_field(v, delims, 1) for v in value)
            return delims.component.join(_encode_field(v, delims, 2) for v in value)
        if depth == 1:
            return delims.component.join(_encode_field(v, delims, 2) for v in value)
    raise AstmEncodeError(
        f"cannot encode a {type(value).__name__} as an ASTM field; use str, None, a list of "
        "components, or a list of repeats (lists of components)"
    )


def encode_records(
    records: Sequence[Sequence[FieldValue]],
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    encoding: str = "latin-1",
) -> bytes:
    """Build record text from Python values (orders, query answers).

    Each record is a sequence of fields starting with the type (``"O"``). A field is a ``str``
    (escaped as needed), ``None`` (empty), a list of components, or a list of repeats each
    being a list of components. The H record's second field is the delimiter definition:
    pass ``None`` (or the definition itself) and it is written from ``delimiters``.
    """
    fd = delimiters.field
    lines: list[str] = []
    for rec in records:
        if isinstance(rec, (str, bytes)) or not rec:
            raise AstmEncodeError("each record must be a non-empty sequence of fields")
        kind = rec[0]
        if not isinstance(kind, str) or len(kind) != 1 or not kind.isalpha():
            raise AstmEncodeError("the first field of a record is its one-letter type, e.g. 'R'")
        parts = [kind]
        rest = list(rec[1:])
        if kind == "H":
            if rest and rest[0] not in (None, "", delimiters.definition):
                raise AstmEncodeError(
                    "the H record's second field is the delimiter definition; pass None"
                )
            parts.append(delimiters.definition)
            rest = rest[1:]
        parts.extend(_encode_field(v, delimiters, 0) for v in rest)
        lines.append(fd.join(parts))
    text = "\r".join(lines) + "\r" if lines else ""
    try:
        return text.encode(encoding, "surrogateescape")
    except UnicodeEncodeError as exc:
        raise AstmEncodeError(
            f"a field holds a character that {encoding} cannot represent; "
            "choose an encoding the instrument accepts"
        ) from exc
