"""HL7 v2.5.1 ORU^R01 export, assembled as text (hl7apy costs ~5 ms per message; this ~0.1 ms).

One message per sample: ``MSH``, ``PID`` (when patient data exist), ``ORC``, ``OBR``, then an
``OBX`` per result, each followed by ``NTE`` when something about it does not fit OBX fields.
Every message passes hl7apy STRICT validation in the tests.

Field decisions:

* ``OBX-2`` matches ``OBX-5``: ``SN`` (``<^5``) when a comparator came with a number, ``NM``
  for plain numbers (written as sent, so ``2.50`` keeps its precision; a decimal comma becomes
  a point), ``CWE`` when the value is already ``code^text^system``, ``TX`` for text longer
  than ST's 199 characters or with line breaks, ``ST`` otherwise; empty when there is no value.
* ``OBX-3`` is the mapped LIS code (coding system ``L``) with the instrument code as the
  alternate triplet (``99INS``); unmapped rows send the instrument code as the primary.
* ``OBX-6`` units are escaped, so ``10^9/L`` travels as ``10\\S\\9/L`` and reads back intact.
* ``OBX-8`` takes the row's flags (``~``-separated) that exist in HL7 table 0078; any other flag
  goes to an ``NTE`` so it is not lost. ``OBX-11`` uses table 0085 (``F`` when empty/unknown).
* ``OBX-18`` carries the device name (equipment instance).
* ``OBR-2``/``OBR-3`` and ``ORC-2``/``ORC-3`` carry the sample id: the barcode is usually the
  LIS's own placer number, and the analyzer's filler number at the same time.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import Final

from benchlink.exporters.atomic import atomic_write
from benchlink.exporters.errors import ExportCancelled, ExportError
from benchlink.exporters.rows import ResultRowLike
from benchlink.protocols.hl7.escaping import DEFAULT_SEPARATORS, escape

VERSION: Final = "2.5.1"
CHARSET: Final = "UNICODE UTF-8"
#: HL7 table 0078 (interpretation codes, v2.5.1).
ABNORMAL_FLAGS: Final = frozenset(
    {"L", "H", "LL", "HH", "<", ">", "N", "A", "AA", "U", "D", "B", "W", "S", "R", "I", "MS", "VS"}
)
#: HL7 table 0085 (observation result status).
RESULT_STATUSES: Final = frozenset({"C", "D", "F", "I", "N", "O", "P", "R", "S", "U", "W", "X"})
SN_COMPARATORS: Final = frozenset({">", "<", ">=", "<=", "=", "<>"})
ST_MAX: Final = 199

_NM = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
# A coded value names a real coding system (HL7 table 0396: LOINC, SNOMED CT, ICD, HL7 tables, or a
# local "L"/"99zzz" one) in its third component, and in its sixth when it has an alternate code.
# Any "a^b^c" was typed CWE before, so blood-bank reaction grades "0^0^8.8" and "3+^3+^45" went to
# the LIS as codes from coding systems "8.8" and "45".
_SYSTEM = r"(?:LN|SCT|SNM3?|L|I9C?|I10(?:-[A-Z]{2,3})?|HL7\d{4}|99[A-Z0-9]{1,5})"
_CODED = re.compile(rf"^[^^]*\^[^^]*\^{_SYSTEM}(?:\^[^^]*\^[^^]*\^{_SYSTEM}(?:\^.*)?)?$")
_INVALID = re.compile(r"^\s*\*+(?:\.\*+)?\s*$")
_SEPS = DEFAULT_SEPARATORS


_escaped: dict[str, str] = {}
_stamps: dict[tuple[datetime, object], str] = {}


def _e(text: str) -> str:
    """Escape with a small memo: codes, names, units and devices repeat on every sample."""
    if not text:
        return ""
    done = _escaped.get(text)
    if done is None:
        done = escape(text, _SEPS)
        if len(text) <= 64:
            if len(_escaped) > 8192:
                _escaped.clear()
            _escaped[text] = done
    return done


def hl7_timestamp(value: datetime | None) -> str:
    """``YYYYMMDDHHMMSS[+ZZZZ]``; the offset only when the datetime knows it."""
    if value is None:
        return ""
    key = (value, value.tzinfo)
    cached = _stamps.get(key)
    if cached is not None:
        return cached
    if len(_stamps) > 4096:
        _stamps.clear()
    _stamps[key] = text = _format_timestamp(value)
    return text


def _format_timestamp(value: datetime) -> str:
    text = (
        f"{value.year:04d}{value.month:02d}{value.day:02d}"
        f"{value.hour:02d}{value.minute:02d}{value.second:02d}"
    )
    offset = value.utcoffset()
    if offset is not None:
        minutes = int(offset.total_seconds() // 60)
        sign = "-" if minutes < 0 else "+"
        minutes = abs(minutes)
        text += f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
    return text


def _nm_text(value: str, number: float) -> str:
    text = value.strip().replace(",", ".")
    if _NM.match(text):
        return text
    formatted = f"{number:.10f}".rstrip("0").rstrip(".")
    return formatted or "0"


def _value_field(row: ResultRowLike) -> tuple[str, str]:
    """(OBX-2, OBX-5) for one row."""
    value = row.value or ""
    if not value.strip():
        return "", ""
    number = row.numeric_value
    if number is not None and not _INVALID.match(value):
        comparator = (row.comparator or "").strip()
        if comparator in SN_COMPARATORS:
            return "SN", f"{_e(comparator)}^{_nm_text(value.strip().lstrip('<>='), number)}"
        if not comparator:
            return "NM", _nm_text(value, number)
    if _CODED.match(value):
        return "CWE", "^".join(_e(part) for part in value.split("^"))
    if len(value) > ST_MAX or "\n" in value or "\r" in value:
        return "TX", "~".join(_tx_lines(value))
    return "ST", _e(value)


def _tx_lines(value: str) -> list[str]:
    """Escaped TX repetitions: one per line (HL7 2.A: in TX the repetition mark is a hard line
    break), long lines wrapped at spaces so each repetition stays within ST_MAX escaped chars."""
    out: list[str] = []
    for line in value.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        current = ""
        for word in line.split(" "):
            piece = _e(word)
            while len(piece) > ST_MAX:  # one enormous word: hard split, never inside an escape
                cut = ST_MAX
                start = piece.rfind("\\", 0, cut)
                if start >= 0 and piece.count("\\", 0, start) % 2 == 0:
                    cut = start or ST_MAX
                if current:
                    out.append(current)
                    current = ""
                out.append(piece[:cut])
                piece = piece[cut:]
            candidate = f"{current} {piece}" if current else piece
            if len(candidate) > ST_MAX:
                out.append(current)
                current = piece
            else:
                current = candidate
        out.append(current)
    return out


def _flags(flags: str) -> tuple[str, list[str]]:
    """(OBX-8 repetitions, flags table 0078 does not know)."""
    if not flags:
        return "", []
    known: list[str] = []
    unknown: list[str] = []
    for flag in flags.split("~"):
        flag = flag.strip()
        if not flag:
            continue
        (known if flag in ABNORMAL_FLAGS else unknown).append(flag)
    return "~".join(known), unknown


def _obr_status(rows: Sequence[ResultRowLike]) -> str:
    statuses = {r.status if r.status in RESULT_STATUSES else "F" for r in rows if r.status != "X"}
    if not statuses:
        return "X" if rows else "F"
    if "C" in statuses:
        return "C"
    if statuses == {"F"}:
        return "F"
    if "R" in statuses:
        return "R"
    return "P"


def build_oru(
    sample_rows: Sequence[ResultRowLike],
    *,
    control_id: str,
    timestamp: str,
    sending_app: str = "BENCHLINK",
    sending_facility: str = "",
    receiving_app: str = "",
    receiving_facility: str = "",
    processing_id: str = "P",
    universal_service: tuple[str, str, str] = ("RESULTS", "Instrument results", "L"),
    lis_coding_system: str = "L",
    instrument_coding_system: str = "99INS",
) -> bytes:
    """One ORU^R01 (v2.5.1, UTF-8, CR segment ends, no MLLP framing) for one sample's rows."""
    if not sample_rows:
        raise ExportError("cannot build an ORU^R01 without results; pass at least one row")
    first = sample_rows[0]
    sample_id = first.sample_id or ""
    if any((r.sample_id or "") != sample_id for r in sample_rows):
        raise ExportError(
            "rows of different samples were passed to build_oru; group rows by sample_id "
            "(write_hl7 does this) so each message holds exactly one sample"
        )
    segments = [
        "|".join(
            [
                "MSH",
                _SEPS.encoding_characters,
                _e(sending_app),
                _e(sending_facility),
                _e(receiving_app),
                _e(receiving_facility),
                _e(timestamp),
                "",
                "ORU^R01^ORU_R01",
                _e(control_id),
                _e(processing_id),
                VERSION,
                "",
                "",
                "",
                "",
                "",
                CHARSET,
            ]
        )
    ]
    patient_id = first.patient_id or ""
    patient_name = first.patient_name or ""
    if patient_id or patient_name:
        name = "^".join(_e(p) for p in patient_name.split("^")) if patient_name else '""'
        segments.append(f"PID|1||{_e(patient_id) or chr(34) * 2}||{name}")
    sid = _e(sample_id)
    segments.append(f"ORC|RE|{sid}|{sid}")
    times = [r.observed_at for r in sample_rows if r.observed_at is not None]
    obr_time = hl7_timestamp(min(times, key=_sort_key)) if times else ""
    service = "^".join(_e(p) for p in universal_service)
    obr = ["OBR", "1", sid, sid, service, "", "", obr_time] + [""] * 14 + [_e(timestamp), "", "", ""]
    obr[25] = _obr_status(sample_rows)
    segments.append("|".join(obr))
    for n, (row, sub_id) in enumerate(zip(sample_rows, _sub_ids(sample_rows), strict=True), start=1):
        segments.extend(_obx(n, row, lis_coding_system, instrument_coding_system, sub_id))
    return ("\r".join(segments) + "\r").encode("utf-8")


def _sub_ids(rows: Sequence[ResultRowLike]) -> list[str]:
    """OBX-4 for each row: 1, 2, 3… among rows whose observation code repeats in the message.

    HL7 v2.5.1 (7.4.2.4) needs OBX-4 whenever several OBX under one OBR share OBX-3. Analyzers send
    several values under one test code (ARCHITECT S/CO, interpretation and RLU; GeneXpert targets;
    replicates); with OBX-4 empty a LIS keeping one value per code stored whichever came last.
    """
    codes = [(r.lis_code or "", r.instrument_code or "") for r in rows]
    repeated = {code for code, count in Counter(codes).items() if count > 1}
    seen: Counter[tuple[str, str]] = Counter()
    ids: list[str] = []
    for code in codes:
        if code in repeated:
            seen[code] += 1
            ids.append(str(seen[code]))
        else:
            ids.append("")
    return ids


def _sort_key(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _obx(n: int, row: ResultRowLike, lis_system: str, inst_system: str, sub_id: str = "") -> list[str]:
    name = _e(row.test_name or "")
    inst = _e(row.instrument_code or "")
    lis = _e(row.lis_code or "")
    if lis and inst:
        code = f"{lis}^{name}^{_e(lis_system)}^{inst}^{name}^{_e(inst_system)}"
    elif lis:
        code = f"{lis}^{name}^{_e(lis_system)}"
    else:
        code = f"{inst}^{name}^{_e(inst_system)}"
    value_type, value = _value_field(row)
    flags, unknown_flags = _flags(row.flags or "")
    status = row.status if row.status in RESULT_STATUSES else "F"
    invalid = bool(row.value) and _INVALID.match(row.value) is not None
    if invalid:
        status = "X"
    fields = [
        "OBX",
        str(n),
        value_type,
        code,
        sub_id,
        value,
        _e(row.units or ""),
        _e(row.reference_range or ""),
        flags,
        "",
        "",
        status,
        "",
        "",
        hl7_timestamp(row.observed_at),
        "",
        "",
        "",
        _e(row.device or ""),
    ]
    while fields[-1] == "":
        fields.pop()
    out = ["|".join(fields)]
    notes: list[str] = []
    if invalid:
        notes.append("Instrument reported an invalid result (" + row.value.strip() + ")")
    if unknown_flags:
        notes.append("Instrument flags: " + " ".join(unknown_flags))
    for i, note in enumerate(notes, start=1):
        out.append(f"NTE|{i}|L|{_e(note)}")
    return out


def _samples(rows: Iterable[ResultRowLike]) -> Iterator[list[ResultRowLike]]:
    """Consecutive rows of the same sample, device and patient (callers pass rows ordered by sample).

    The patient is part of the key because one ORU carries one PID: grouping by sample alone put a
    second patient's results under the first one's PID when an analyzer sent two patients with an
    empty or repeated sample ID.
    """
    for _, group in groupby(rows, key=lambda r: (r.sample_id, r.device, r.patient_id, r.patient_name)):
        yield list(group)


def write_hl7(
    rows: Iterable[ResultRowLike],
    out: Path | str,
    *,
    batch: bool = False,
    now: datetime | None = None,
    control_id_prefix: str | None = None,
    progress: Callable[[int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    sending_app: str = "BENCHLINK",
    sending_facility: str = "",
    receiving_app: str = "",
    receiving_facility: str = "",
) -> int:
    """Write one ORU^R01 per sample to ``out`` atomically; return the number of messages.

    ``batch=True`` wraps them as an HL7 batch file (``FHS BHS ... BTS FTS``; ``BTS-1`` is the
    message count). Rows are grouped by *consecutive* sample id, device and patient, so pass them
    ordered by sample. Control ids are ``control_id_prefix`` followed by a six-digit counter.
    The default prefix is ``now`` to the millisecond as ``yyDDDHHMMSSmmm`` (DDD: day of the year),
    so the ids fill MSH-10's 20 characters: with whole seconds, two exports started in the same
    second (a person's and the watched folder's) sent the LIS the same MSH-10 twice.
    """
    moment = now if now is not None else datetime.now(UTC).astimezone()
    stamp = hl7_timestamp(moment)
    prefix = (control_id_prefix if control_id_prefix is not None
              else moment.strftime("%y%j%H%M%S") + f"{moment.microsecond // 1000:03d}")
    header = "|".join(
        [_SEPS.encoding_characters, _e(sending_app), _e(sending_facility), _e(receiving_app),
         _e(receiving_facility), stamp, "", "", ""]
    )
    count = 0
    with atomic_write(Path(out)) as handle:
        if batch:
            handle.write(f"FHS|{header}|{_e(prefix)}F\rBHS|{header}|{_e(prefix)}B\r".encode())
        for sample_rows in _samples(rows):
            if cancel is not None and count % 256 == 0 and cancel():
                raise ExportCancelled(f"HL7 export cancelled after {count} messages; nothing was saved")
            count += 1
            handle.write(
                build_oru(
                    sample_rows,
                    control_id=f"{prefix}{count:06d}",
                    timestamp=stamp,
                    sending_app=sending_app,
                    sending_facility=sending_facility,
                    receiving_app=receiving_app,
                    receiving_facility=receiving_facility,
                )
            )
            if progress is not None and count % 1000 == 0:
                progress(count)
        if cancel is not None and cancel():
            raise ExportCancelled(f"HL7 export cancelled after {count} messages; nothing was saved")
        if batch:
            handle.write(f"BTS|{count}\rFTS|1\r".encode())
    if progress is not None:
        progress(count)
    return count
