"""Results and attachments out of ORU^R01 / OUL^R22 messages (v2.2 .. 2.6 seen in practice).

This module is wire-level and depends on nothing else of benchlink: it yields
:class:`Hl7Observation`, which keeps the HL7 facts the domain model has no slot for (coding
system, alternate code, value type). :mod:`benchlink.drivers.hl7_results` turns them into
domain :class:`~benchlink.core.model.Result` objects.

Decisions (documented here because drivers and tests rely on them):

* **Sample id**: ``SPM-2`` (filler part, else placer part) when present; an ``OBR`` overrides it
  only when it carries an id. In an ``OBR`` the filler number ``OBR-3`` is preferred (it is the
  analyzer's own id: Mindray BC, Erba), then the placer number ``OBR-2``. Mindray BS
  chemistry analyzers (recognised by a numeric ``MSH-16``) put the barcode in ``OBR-2`` and a
  tray position in ``OBR-3``, so there ``OBR-2`` wins.
* **Code**: ``OBX-3`` component 1 as sent, whatever the coding system (``99MRC`` local codes
  stay local; a LOINC in the alternate triplet is kept in ``alt_code``).
* **Code and test name** are stripped of padding (``  Albumin``); values are not.
* **Test name**: ``OBX-3`` component 2; Mindray BS sends a bare channel number in ``OBX-3``
  and the name in ``OBX-4``, so ``OBX-4`` is used when component 2 is empty and ``MSH-16`` is
  numeric.
* **Value**: ``OBX-5`` unescaped, repetitions and components kept with the message's
  separators (``LA12421-6^Initial screen^LN``), formatting escapes such as ``\\.br\\`` kept.
  Empty values are returned too: the instrument sent the row. In ``TX``/``FT`` values a
  repetition is a hard line break (HL7 v2.5.1 2.A), so repetitions become ``\n`` there.
* **Invalid results**: a value made only of ``*`` (and ``.``), e.g. ``***.**``, is kept as
  sent, flagged ``invalid`` and its status becomes ``X`` (HL7 table 0085: "results cannot be
  obtained for this observation").
* **Flags**: the non-empty repetitions of ``OBX-8`` (first component each), joined by ``~``:
  ``L~A`` stays ``L~A``, ``~N`` becomes ``N``. ``~`` is HL7's own repetition mark, so an
  exporter can split the flags back into repetitions.
* **Patient name**: ``PID-5`` components joined by ``^`` with trailing empty ones removed
  (``Family^Given``), so it can be written back into an XPN field unchanged.
* **Kind**: ``MSH-16`` ``1`` calibration, ``2`` QC (Mindray convention; standard values of
  MSH-16 are letters, so no other device is affected), else patient.
* **Observed at**: ``OBX-14``, else ``OBR-7``; naive when the message gives no UTC offset
  (the analyzer's local time), aware when it does.
* ``ED`` (encapsulated data: histograms, scattergrams) and ``RP`` (reference pointer) OBX are
  not results; :func:`attachments` returns the ``ED`` ones.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Final

from benchlink.protocols.hl7.errors import Hl7DecodeError
from benchlink.protocols.hl7.escaping import unescape
from benchlink.protocols.hl7.message import Hl7Message, Segment

KIND_PATIENT: Final = "patient"
KIND_QC: Final = "qc"
KIND_CALIBRATION: Final = "calibration"
INVALID_STATUS: Final = "X"

_RESULT_MESSAGES: Final = frozenset(
    {"ORU^R01", "OUL^R22", "OUL^R21", "OUL^R23", "OUL^R24", "ORU^R30", "ORU^W01"}
)
_NOT_RESULTS: Final = frozenset({"ED", "RP"})
_LINE_TYPES: Final = frozenset({"TX", "FT"})
_INVALID_VALUE = re.compile(r"^\s*\*+(?:\.\*+)?\s*$")
_TS = re.compile(
    r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,6}))?\s*(?:([+-])(\d{2})(\d{2}))?$"
)


@dataclass(frozen=True, slots=True)
class Hl7Observation:
    """One OBX with the patient and sample context it belongs to."""

    sample_id: str
    code: str
    value: str
    set_id: str = ""
    value_type: str = ""
    code_text: str = ""
    coding_system: str = ""
    alt_code: str = ""
    alt_text: str = ""
    alt_coding_system: str = ""
    sub_id: str = ""
    test_name: str = ""
    units: str = ""
    reference_range: str = ""
    flags: str = ""
    status: str = ""
    observed_at: datetime | None = None
    instrument: str = ""
    patient_id: str = ""
    patient_name: str = ""
    birth_date: str = ""
    kind: str = KIND_PATIENT
    invalid: bool = False


@dataclass(frozen=True, slots=True)
class Attachment:
    """An ``ED`` OBX: a histogram or scattergram image, not a result."""

    code: str
    name: str
    type_of_data: str
    subtype: str
    encoding: str
    data: str
    sample_id: str = ""

    @property
    def mime_type(self) -> str:
        """``Image^BMP`` -> ``image/bmp``; ``application/octet-stream`` when not stated."""
        if not self.type_of_data:
            return "application/octet-stream"
        sub = self.subtype.lower() or "octet-stream"
        return f"{self.type_of_data.lower()}/{sub}"

    def payload(self) -> bytes:
        """The attachment bytes, decoded per ED-4 (``Base64``, ``Hex`` or ``A`` for text)."""
        enc = self.encoding.upper()
        if enc in ("BASE64", "B64"):
            try:
                return base64.b64decode("".join(self.data.split()), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise Hl7DecodeError(
                    f"attachment {self.code!r} claims Base64 but its data is not valid Base64; "
                    "the raw message keeps the original text"
                ) from exc
        if enc == "HEX":
            try:
                return bytes.fromhex(self.data)
            except ValueError as exc:
                raise Hl7DecodeError(
                    f"attachment {self.code!r} claims Hex but its data is not hexadecimal"
                ) from exc
        return self.data.encode("utf-8")


def parse_timestamp(text: str) -> datetime | None:
    """HL7 TS/DTM (``YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+/-ZZZZ]``) -> datetime; ``None`` if not one."""
    match = _TS.match(text.strip()) if text else None
    if match is None:
        return None
    year, month, day, hour, minute, second, frac, sign, off_h, off_m = match.groups()
    try:
        tz = None
        if sign:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            tz = timezone(-offset if sign == "-" else offset)
        micro = int((frac or "0").ljust(6, "0")) if frac else 0
        return datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
            tzinfo=tz,
        )
    except ValueError:
        return None


def message_kind(msg: Hl7Message) -> str:
    """Patient, QC or calibration, from the Mindray use of MSH-16."""
    msh16 = msg.msh16.strip()
    if msh16 == "1":
        return KIND_CALIBRATION
    if msh16 == "2":
        return KIND_QC
    return KIND_PATIENT


def is_result_message(msg: Hl7Message) -> bool:
    """True for message types that carry observations (ORU^R01, OUL^R22 ...)."""
    return msg.message_type in _RESULT_MESSAGES


def _strip_trailing(parts: list[str], sep: str) -> str:
    while parts and not parts[-1]:
        parts.pop()
    return sep.join(parts)


def _first_nonempty(*values: str) -> str:
    for value in values:
        if value:
            return value
    return ""


class _Context:
    """The PID / SPM / OBR state that OBX segments inherit."""

    __slots__ = ("birth_date", "obr_time", "patient_id", "patient_name", "sample_id")

    def __init__(self) -> None:
        self.patient_id = ""
        self.patient_name = ""
        self.birth_date = ""
        self.sample_id = ""
        self.obr_time = ""


def _spm_sample_id(msg: Hl7Message, seg: Segment) -> str:
    raw = msg.raw(seg, 2)
    if not raw:
        return ""
    s = msg.separators
    placer, _, filler = raw.partition(s.component)
    filler_id = filler.split(s.subcomponent, 1)[0] if s.subcomponent else filler
    placer_id = placer.split(s.subcomponent, 1)[0] if s.subcomponent else placer
    return unescape(filler_id or placer_id, s, hex_encoding=msg.encoding)


def _walk(msg: Hl7Message, *, want_attachments: bool) -> tuple[list[Hl7Observation], list[Attachment]]:
    kind = message_kind(msg)
    mindray_bs = msg.msh16.strip().isdigit()
    ctx = _Context()
    results: list[Hl7Observation] = []
    attached: list[Attachment] = []
    comp = msg.separators.component
    value = msg.value
    for seg in msg.segments:
        name = seg[0]
        if name == "OBX":
            value_type = value(seg, 2)
            if value_type in _NOT_RESULTS:
                if want_attachments and value_type == "ED":
                    ed = msg.components(seg, 5)
                    ed += [""] * (5 - len(ed))
                    attached.append(
                        Attachment(
                            code=value(seg, 3, 1),
                            name=value(seg, 3, 2),
                            type_of_data=ed[1],
                            subtype=ed[2],
                            encoding=ed[3],
                            data=comp.join(ed[4:]),
                            sample_id=ctx.sample_id,
                        )
                    )
                continue
            if want_attachments:
                continue
            results.append(_observation(msg, seg, ctx, kind, mindray_bs, value_type))
        elif name == "PID":
            ctx.patient_id = _first_nonempty(value(seg, 3), value(seg, 2), value(seg, 4))
            ctx.patient_name = _strip_trailing(msg.components(seg, 5), comp) if msg.raw(seg, 5) else ""
            ctx.birth_date = value(seg, 7)
            ctx.sample_id = ""
        elif name == "OBR":
            placer = value(seg, 2)
            filler = value(seg, 3)
            sample = _first_nonempty(placer, filler) if mindray_bs else _first_nonempty(filler, placer)
            if sample:
                ctx.sample_id = sample
            ctx.obr_time = value(seg, 7)
        elif name == "SPM":
            spm_id = _spm_sample_id(msg, seg)
            if spm_id:
                ctx.sample_id = spm_id
    return results, attached


def _observation(
    msg: Hl7Message, seg: Segment, ctx: _Context, kind: str, mindray_bs: bool, value_type: str
) -> Hl7Observation:
    value = msg.value
    s = msg.separators
    code_parts = msg.components(seg, 3)
    code_parts += [""] * (6 - len(code_parts))
    sub_id = value(seg, 4)
    test_name = code_parts[1].strip()
    if not test_name and mindray_bs:
        test_name = sub_id.strip()
    if value_type in _LINE_TYPES and s.repetition in msg.raw(seg, 5):
        result_value = "\n".join(msg.lines(seg, 5))
    else:
        result_value = msg.text(seg, 5)
    if value_type == "FT":
        # FT's line break is a formatting command; kept as sent, the LIS showed a literal "\.br\".
        result_value = result_value.replace(f"{s.escape}.br{s.escape}", "\n")
    invalid = bool(result_value) and _INVALID_VALUE.match(result_value) is not None
    flag_raw = msg.raw(seg, 8)
    if flag_raw:
        reps = flag_raw.split(s.repetition)
        flags = s.repetition.join(
            f for f in (msg.value(seg, 8, 1, i + 1) for i in range(len(reps))) if f
        )
    else:
        flags = ""
    units = value(seg, 6, 1) or value(seg, 6, 2)
    time_text = value(seg, 14) or ctx.obr_time
    instrument = _strip_trailing(msg.components(seg, 18), s.component) if msg.raw(seg, 18) else ""
    return Hl7Observation(
        sample_id=ctx.sample_id,
        code=code_parts[0].strip(),
        value=result_value,
        set_id=value(seg, 1),
        value_type=value_type,
        code_text=code_parts[1],
        coding_system=code_parts[2],
        alt_code=code_parts[3],
        alt_text=code_parts[4],
        alt_coding_system=code_parts[5],
        sub_id=sub_id,
        test_name=test_name,
        units=units,
        reference_range=msg.text(seg, 7),
        flags=flags,
        status=INVALID_STATUS if invalid else value(seg, 11),
        observed_at=parse_timestamp(time_text),
        instrument=instrument,
        patient_id=ctx.patient_id,
        patient_name=ctx.patient_name,
        birth_date=ctx.birth_date,
        kind=kind,
        invalid=invalid,
    )


def read_observations(msg: Hl7Message) -> list[Hl7Observation]:
    """Every result OBX of the message, in order, with its patient/sample context."""
    return _walk(msg, want_attachments=False)[0]


def attachments(msg: Hl7Message) -> list[Attachment]:
    """Every ``ED`` OBX (histograms, scattergrams), which are deliberately not results."""
    return _walk(msg, want_attachments=True)[1]
