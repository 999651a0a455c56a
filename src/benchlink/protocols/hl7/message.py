"""Decode one HL7 v2 message: segment ends, character set, separators, fields.

Our own split rather than python-hl7: a message here is a tuple of segments, each a tuple of
still-escaped field strings, so parsing is two ``str.split`` calls per segment and costs
nothing for fields nobody reads. Components, repetitions and escapes are resolved on access.

Field numbering follows the standard everywhere: ``segment[n]`` is field *n* for every
segment, MSH included (``msh[1]`` is the field separator itself, ``msh[2]`` the encoding
characters, ``msh[9]`` the message type).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Final

from benchlink.protocols.hl7.errors import Hl7DecodeError
from benchlink.protocols.hl7.escaping import Separators, unescape

__all__ = [
    "Hl7DecodeError",
    "Hl7Message",
    "Segment",
    "charset_to_codec",
    "decode_text",
    "normalise_segments",
    "parse_message",
]

Segment = tuple[str, ...]

#: HL7 table 0211 (alternate character sets) -> Python codec. "UNICODE" alone (v2.3.x)
#: names ISO 10646 without an encoding form; every analyzer seen sending it (Mindray BC,
#: Erba ELite) means UTF-8, so that is what it maps to.
_CHARSETS: Final[dict[str, str]] = {
    "ASCII": "ascii",
    "ISO IR6": "ascii",
    "8859/1": "iso-8859-1",
    "8859/2": "iso-8859-2",
    "8859/3": "iso-8859-3",
    "8859/4": "iso-8859-4",
    "8859/5": "iso-8859-5",
    "8859/6": "iso-8859-6",
    "8859/7": "iso-8859-7",
    "8859/8": "iso-8859-8",
    "8859/9": "iso-8859-9",
    "8859/15": "iso-8859-15",
    "ISO IR100": "iso-8859-1",
    "ISO IR101": "iso-8859-2",
    "ISO IR144": "iso-8859-5",
    "ISO IR127": "iso-8859-6",
    "ISO IR126": "iso-8859-7",
    "ISO IR138": "iso-8859-8",
    "ISO IR148": "iso-8859-9",
    "ISO IR14": "shift_jis",
    "ISO IR87": "iso2022_jp",
    "ISO IR159": "iso2022_jp_2",
    "GB 18030-2000": "gb18030",
    "KS X 1001": "euc_kr",
    "BIG-5": "big5",
    "UNICODE": "utf-8",
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "UNICODE UTF-16": "utf-16",
    "UNICODE UTF-32": "utf-32",
}

_SEGMENT_END = re.compile(rb"\r\n|\n|\r")


def charset_to_codec(charset: str) -> str | None:
    """Python codec for an MSH-18 value (or any Python codec name); ``None`` when unknown."""
    key = charset.strip().upper()
    if not key:
        return None
    known = _CHARSETS.get(key)
    if known is not None:
        return known
    try:
        return codecs.lookup(charset.strip()).name
    except LookupError:
        return None


def normalise_segments(data: bytes) -> bytes:
    """Make every segment end a single CR and drop blank lines (files use CRLF or LF too)."""
    if b"\n" not in data:
        if b"\r\r" not in data:
            return data
        return re.sub(rb"\r{2,}", b"\r", data)
    return re.sub(rb"(?:\r\n|\n|\r)+", b"\r", data)


def _msh18(data: bytes) -> str:
    """MSH-18 read from the raw bytes (the header itself is ASCII in every charset we accept)."""
    first = data.split(b"\r", 1)[0]
    if len(first) < 4 or not first.startswith(b"MSH"):
        return ""
    parts = first.split(first[3:4])
    # parts[0] = "MSH", parts[1] = MSH-2, so MSH-n is parts[n - 1].
    if len(parts) < 18:
        return ""
    fs = first[3:4]
    comp = parts[1][:1] or fs
    return parts[17].split(comp, 1)[0].decode("ascii", "replace")


_SINGLE_BYTE: Final = frozenset(
    {f"iso8859-{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 15)} | {f"cp125{n}" for n in range(9)}
)


def _is_multibyte_utf8(data: bytes) -> bool:
    if data.isascii():
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_text(data: bytes, *, profile_encoding: str | None = None) -> str:
    """Bytes -> text, per the device profile's encoding if set, else per MSH-18.

    The profile wins because it exists precisely for instruments whose MSH-18 lies. With
    neither, or with ASCII declared but 8-bit bytes present, UTF-8 is tried, then ISO-8859-1
    (which cannot fail: the raw bytes are kept anyway, so nothing is lost).
    """
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise Hl7DecodeError(
                "message starts with a UTF-16 byte-order mark but is not valid UTF-16; "
                "check the device's character-set setting"
            ) from exc
    if profile_encoding:
        codec = charset_to_codec(profile_encoding)
        if codec is None:
            raise Hl7DecodeError(
                f"device profile names an unknown character set {profile_encoding!r}; "
                "use an HL7 table 0211 value (e.g. '8859/1', 'UNICODE UTF-8') or a Python codec name"
            )
        try:
            return data.decode(codec)
        except UnicodeDecodeError as exc:
            raise Hl7DecodeError(
                f"message is not valid {profile_encoding} as the device profile says (byte {exc.start}); "
                "fix the profile's encoding or the analyzer's character-set setting"
            ) from exc
    declared = _msh18(data)
    codec = charset_to_codec(declared) if declared else None
    if declared and codec is None:
        raise Hl7DecodeError(
            f"MSH-18 names an unknown character set {declared!r}; "
            "set the encoding in the device profile to override it"
        )
    if codec is not None and codec not in ("ascii", "utf-8"):
        if codecs.lookup(codec).name in _SINGLE_BYTE and _is_multibyte_utf8(data):
            # Declared 8-bit, but the bytes are valid UTF-8 with multi-byte sequences: real
            # ISO-8859 text almost never is, while middleware that re-saves files as UTF-8
            # without fixing MSH-18 is common (the elexis LabCube samples are like that).
            return data.decode("utf-8")
        try:
            return data.decode(codec)
        except UnicodeDecodeError as exc:
            raise Hl7DecodeError(
                f"message is not valid {declared} as MSH-18 declares (byte {exc.start}); "
                "set the real encoding in the device profile"
            ) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if codec == "utf-8":
            raise Hl7DecodeError(
                f"message is not valid UTF-8 although MSH-18 declares {declared!r}; "
                "set the real encoding in the device profile"
            ) from None
        return data.decode("iso-8859-1")


@dataclass(frozen=True, slots=True)
class Hl7Message:
    """A parsed message: segments of still-escaped fields plus the separators to read them."""

    segments: tuple[Segment, ...]
    separators: Separators
    encoding: str = "utf-8"

    # -- generic access ---------------------------------------------------------------------
    def segment(self, name: str) -> Segment | None:
        """First segment called ``name``."""
        for seg in self.segments:
            if seg[0] == name:
                return seg
        return None

    def segments_named(self, name: str) -> list[Segment]:
        """Every segment called ``name``, in order."""
        return [seg for seg in self.segments if seg[0] == name]

    def raw(self, seg: Segment | None, field: int) -> str:
        """Field ``field`` exactly as sent (escaped, all repetitions and components)."""
        if seg is None or field >= len(seg):
            return ""
        return seg[field]

    def value(self, seg: Segment | None, field: int, component: int = 1, repetition: int = 1) -> str:
        """One component of one repetition, unescaped; ``""`` when absent."""
        raw = self.raw(seg, field)
        if not raw:
            return raw
        s = self.separators
        if repetition != 1 or s.repetition in raw:
            reps = raw.split(s.repetition)
            if repetition > len(reps):
                return ""
            raw = reps[repetition - 1]
        if component != 1 or s.component in raw:
            comps = raw.split(s.component)
            if component > len(comps):
                return ""
            raw = comps[component - 1]
        return unescape(raw, s, hex_encoding=self.encoding)

    def components(self, seg: Segment | None, field: int, repetition: int = 1) -> list[str]:
        """All components of one repetition, unescaped (subcomponents left joined)."""
        raw = self.raw(seg, field)
        s = self.separators
        if s.repetition in raw:
            reps = raw.split(s.repetition)
            raw = reps[repetition - 1] if repetition <= len(reps) else ""
        elif repetition != 1:
            raw = ""
        return [unescape(c, s, hex_encoding=self.encoding) for c in raw.split(s.component)]

    def text(self, seg: Segment | None, field: int) -> str:
        """A whole field unescaped, separators inside it kept (for OBX-5 and similar)."""
        raw = self.raw(seg, field)
        if not raw or self.separators.escape not in raw:
            return raw
        rep = self.separators.repetition
        return rep.join(self._rep_text(part) for part in raw.split(rep))

    def lines(self, seg: Segment | None, field: int) -> list[str]:
        """Each repetition of a field as unescaped text (TX/FT: one repetition per line)."""
        raw = self.raw(seg, field)
        return [self._rep_text(rep) for rep in raw.split(self.separators.repetition)]

    def _rep_text(self, rep: str) -> str:
        s = self.separators
        if s.escape not in rep:
            return rep
        comps = []
        for comp in rep.split(s.component):
            subs = comp.split(s.subcomponent) if s.subcomponent else [comp]
            comps.append(s.subcomponent.join(unescape(sub, s, hex_encoding=self.encoding) for sub in subs))
        return s.component.join(comps)

    # -- header -----------------------------------------------------------------------------
    @property
    def msh(self) -> Segment:
        """The header segment (always the first)."""
        return self.segments[0]

    @property
    def message_type(self) -> str:
        """MSH-9.1^MSH-9.2, e.g. ``ORU^R01`` (the structure in MSH-9.3 is left out)."""
        code = self.value(self.msh, 9, 1)
        event = self.value(self.msh, 9, 2)
        return f"{code}^{event}" if event else code

    @property
    def control_id(self) -> str:
        """MSH-10, which every acknowledgement must echo in MSA-2."""
        return self.value(self.msh, 10)

    @property
    def version(self) -> str:
        """MSH-12 version id (``2.3.1``, ``2.5.1`` ...)."""
        return self.value(self.msh, 12)

    @property
    def processing_id(self) -> str:
        """MSH-11 (``P`` production, ``D`` debugging, ``T`` training)."""
        return self.value(self.msh, 11)

    @property
    def sending_application(self) -> str:
        return self.value(self.msh, 3)

    @property
    def sending_facility(self) -> str:
        return self.value(self.msh, 4)

    @property
    def receiving_application(self) -> str:
        return self.value(self.msh, 5)

    @property
    def receiving_facility(self) -> str:
        return self.value(self.msh, 6)

    @property
    def timestamp(self) -> str:
        """MSH-7 as sent."""
        return self.value(self.msh, 7)

    @property
    def msh16(self) -> str:
        """MSH-16; Mindray BS/CL analyzers put the result type here (0 sample, 1 calibration, 2 QC)."""
        return self.value(self.msh, 16)

    @property
    def charset(self) -> str:
        """MSH-18 as declared (may be empty)."""
        return self.value(self.msh, 18)


def _separators(header: str) -> Separators:
    if len(header) < 5 or not header.startswith("MSH"):
        raise Hl7DecodeError(
            "message does not start with an MSH segment; check that the device speaks HL7 v2 "
            "and that the capture is not truncated"
        )
    fs = header[3]
    if fs.isalnum() or fs in " \r\n":
        raise Hl7DecodeError(f"MSH-1 field separator {fs!r} is not allowed; the message header is corrupt")
    enc_end = header.find(fs, 4)
    enc = header[4:] if enc_end < 0 else header[4:enc_end]
    if len(enc) < 2:
        raise Hl7DecodeError(
            "MSH-2 must hold at least the component and repetition characters (e.g. '^~\\&'); "
            "the message header is corrupt"
        )
    chars = enc[:4]
    if len(set(chars + fs)) != len(chars) + 1 or any(c.isalnum() for c in chars):
        raise Hl7DecodeError("MSH-2 encoding characters repeat or clash with MSH-1; the header is corrupt")
    return Separators(
        field=fs,
        component=chars[0],
        repetition=chars[1],
        escape=chars[2] if len(chars) > 2 else "",
        subcomponent=chars[3] if len(chars) > 3 else "",
    )


def parse_message(data: bytes, *, profile_encoding: str | None = None) -> Hl7Message:
    """Parse one message (MLLP framing, CR/LF/CRLF segment ends and blank lines tolerated)."""
    if data[:1] == b"\x0b":
        data = data[1:]
    data = data.rstrip(b"\x1c\r\n")
    data = normalise_segments(data.lstrip(b"\r\n"))
    if not data:
        raise Hl7DecodeError("message is empty; nothing to parse")
    text = decode_text(data, profile_encoding=profile_encoding)
    if text[:1] == "\ufeff":
        text = text[1:]
    seps = _separators(text[:64])
    fs = seps.field
    encoding = charset_to_codec(profile_encoding) if profile_encoding else None
    if encoding is None:
        declared = _msh18(data)
        encoding = (charset_to_codec(declared) if declared else None) or "utf-8"
    segments: list[Segment] = []
    for line in text.split("\r"):
        if not line:
            continue
        fields = line.split(fs)
        if fields[0] == "MSH":
            # Insert MSH-1 so that index n is MSH-n like every other segment.
            fields.insert(1, fs)
        segments.append(tuple(fields))
    return Hl7Message(segments=tuple(segments), separators=seps, encoding=encoding)
