"""Acknowledgements and query answers, built as text (no clock: timestamps come in).

* :func:`build_ack` - original-mode ``ACK`` with ``MSA-1`` AA/AE/AR and ``MSA-2`` echoing the
  incoming ``MSH-10``; sender and receiver swapped.
* :func:`build_reject` - an ``AR`` for bytes that could not even be parsed, salvaging what it
  can of the header so the analyzer can match it.
* :func:`parse_query` / :func:`build_query_response` - the Mindray (BS/BC/CL, and clones such
  as Erba) host query: ``QRY^Q02`` in, ``QCK^Q02`` out, then one ``DSR^Q03`` per sample
  carrying patient data and tests in numbered ``DSP`` segments.

Mindray/Erba analyzers expect ``MSA-6`` (error condition, HL7 table 0357) to be ``0`` on
acceptance; it is therefore filled for versions before 2.5, where the field still exists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Final

from benchlink.protocols.hl7.errors import Hl7EncodeError
from benchlink.protocols.hl7.escaping import DEFAULT_SEPARATORS, Separators, escape
from benchlink.protocols.hl7.message import Hl7Message

ACK_CODES: Final = frozenset({"AA", "AE", "AR", "CA", "CE", "CR"})
#: HL7 table 0357 error conditions used when the caller gives none.
_DEFAULT_CONDITION: Final = {"AA": "0", "CA": "0", "AE": "207", "CE": "207", "AR": "200", "CR": "200"}


def _encode(text: str, msg: Hl7Message | None) -> bytes:
    codec = msg.encoding if msg is not None else "utf-8"
    try:
        return text.encode(codec)
    except (UnicodeEncodeError, LookupError):
        return text.encode("utf-8")


def _older_than_25(version: str) -> bool:
    parts = [int(p) if p.isdigit() else 0 for p in version.split(".")[:3]]
    while len(parts) < 3:
        parts.append(0)
    return (parts[0], parts[1], parts[2]) < (2, 5, 0)


def _response_msh(
    msg: Hl7Message, message_type: str, *, control_id: str, timestamp: str, msh16: str = ""
) -> str:
    s = msg.separators
    f = s.field
    e = _esc(s)
    fields = [
        "MSH",
        s.encoding_characters,
        msg.raw(msg.msh, 5),  # our application = the one they addressed
        msg.raw(msg.msh, 6),
        msg.raw(msg.msh, 3),
        msg.raw(msg.msh, 4),
        e(timestamp),
        "",
        message_type,
        e(control_id),
        msg.raw(msg.msh, 11) or "P",
        msg.raw(msg.msh, 12),
        "",
        "",
        "",
        msh16,
        "",
        msg.raw(msg.msh, 18),
    ]
    while len(fields) > 13 and not fields[-1]:
        fields.pop()
    return f.join(fields)


def _esc(seps: Separators) -> Callable[[str], str]:
    return partial(escape, seps=seps)


def build_ack(
    msg: Hl7Message,
    code: str = "AA",
    text: str = "",
    *,
    control_id: str,
    timestamp: str,
    error_condition: str | None = None,
) -> bytes:
    """Original-mode acknowledgement of ``msg`` (segments end in CR; MLLP framing not added).

    ``text`` goes to MSA-3 and must not contain patient data (it is logged by the sender).
    """
    if code not in ACK_CODES:
        raise Hl7EncodeError(f"acknowledgement code {code!r} is not one of {sorted(ACK_CODES)}")
    s = msg.separators
    f = s.field
    e = _esc(s)
    trigger = msg.value(msg.msh, 9, 2)
    version = msg.version
    ack_type = "ACK"
    if trigger:
        ack_type += f"{s.component}{escape(trigger, s)}"
        if not _older_than_25(version):
            ack_type += f"{s.component}ACK"
    msh = _response_msh(msg, ack_type, control_id=control_id, timestamp=timestamp)
    msa = ["MSA", code, msg.raw(msg.msh, 10), e(text)]
    if _older_than_25(version):
        condition = _DEFAULT_CONDITION[code] if error_condition is None else error_condition
        msa += ["", "", e(condition)]
    elif error_condition:
        msa += ["", "", e(error_condition)]
    return _encode(f"{msh}\r{f.join(msa)}\r", msg)


def build_reject(data: bytes, text: str, *, control_id: str, timestamp: str) -> bytes:
    """``AR`` for input that :func:`parse_message` refused, echoing whatever MSH-10 is readable.

    Salvaging is best-effort: the first line is split on its 4th byte when it starts with
    ``MSH``; otherwise MSA-2 stays empty and the analyzer will resend or alarm, which is the
    right outcome for garbage.
    """
    s = DEFAULT_SEPARATORS
    first = data.lstrip(b"\x0b\r\n").split(b"\r", 1)[0].split(b"\n", 1)[0]
    parts: list[str] = []
    if first.startswith(b"MSH") and len(first) > 4:
        parts = first.decode("latin-1").split(chr(first[3]))
    def part(n: int) -> str:  # MSH-n is parts[n - 1] in a raw split
        value = parts[n - 1] if 0 < n - 1 < len(parts) else ""
        return escape(value, s)

    msh = s.field.join(
        ["MSH", s.encoding_characters, part(5), part(6), part(3), part(4), escape(timestamp, s), "",
         "ACK", escape(control_id, s), part(11) or "P", part(12) or "2.5.1"]
    )
    msa = s.field.join(["MSA", "AR", part(10), escape(text, s)])
    return f"{msh}\r{msa}\r".encode()


# -- Mindray host query ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueryOrder:
    """What the host answers for one queried sample (kept free of the domain model on purpose)."""

    sample_id: str
    tests: tuple[str, ...]
    patient_id: str = ""
    patient_name: str = ""
    birth_date: str = ""
    sex: str = ""
    stat: bool = False
    sample_type: str = ""
    collected_at: str = ""


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A ``QRY^Q02``: which sample(s) the analyzer asks about."""

    sample_ids: tuple[str, ...]
    control_id: str
    instrument: str = ""


def parse_query(msg: Hl7Message) -> ParsedQuery:
    """Sample barcodes of a ``QRY^Q02`` (``QRD-8``, repeats allowed); instrument from ``QRF-1``."""
    qrd = msg.segment("QRD")
    if qrd is None:
        raise Hl7EncodeError("QRY^Q02 has no QRD segment; the query cannot be answered")
    raw = msg.raw(qrd, 8)
    reps = raw.split(msg.separators.repetition) if raw else []
    ids = tuple(v for v in (msg.value(qrd, 8, 1, i + 1).strip() for i in range(len(reps))) if v)
    return ParsedQuery(sample_ids=ids, control_id=msg.control_id, instrument=msg.value(msg.segment("QRF"), 1))


#: DSP numbers of the Mindray DSR^Q03 layout that this host fills (others are sent empty).
DSP_PATIENT_ID: Final = 1
DSP_PATIENT_NAME: Final = 3
DSP_BIRTH_DATE: Final = 4
DSP_SEX: Final = 5
DSP_BARCODE: Final = 21
DSP_SAMPLE_ID: Final = 22
DSP_SAMPLE_TIME: Final = 23
DSP_STAT: Final = 24
DSP_SAMPLE_TYPE: Final = 26
DSP_FIRST_TEST: Final = 29


def build_query_response(
    query: Hl7Message,
    orders: Sequence[QueryOrder],
    *,
    control_id: str,
    timestamp: str,
) -> list[bytes]:
    """Messages answering a ``QRY^Q02``, in sending order.

    ``QCK^Q02`` first (``QAK-2`` ``OK`` when there are orders, ``NF`` when not), then one
    ``DSR^Q03`` per order. DSR control ids are ``control_id`` plus ``-1``, ``-2`` ... so the
    caller supplies one unique id. Each test goes in its own ``DSP`` from number 29 as
    ``code^^^``; ``DSC`` closes the message.
    """
    s = query.separators
    f = s.field
    e = _esc(s)
    ack_id = query.raw(query.msh, 10)
    found = any(order.tests for order in orders)
    legacy = _older_than_25(query.version or "2.3.1")
    msa = f.join(["MSA", "AA", ack_id, "Message accepted", "", "", "0"] if legacy else ["MSA", "AA", ack_id])
    qck = [_response_msh(query, f"QCK{s.component}Q02", control_id=control_id, timestamp=timestamp), msa]
    if legacy:
        qck.append(f"ERR{f}0")
    qck.append(f.join(["QAK", "SR", "OK" if found else "NF"]))
    messages = [_encode("\r".join(qck) + "\r", query)]
    qrd = query.segment("QRD")
    qrf = query.segment("QRF")
    for n, order in enumerate(o for o in orders if o.tests):
        dsp: dict[int, str] = {
            DSP_PATIENT_ID: order.patient_id,
            DSP_PATIENT_NAME: order.patient_name,
            DSP_BIRTH_DATE: order.birth_date,
            DSP_SEX: order.sex,
            DSP_BARCODE: order.sample_id,
            DSP_SAMPLE_ID: "",
            DSP_SAMPLE_TIME: order.collected_at,
            DSP_STAT: "Y" if order.stat else "N",
            DSP_SAMPLE_TYPE: order.sample_type,
        }
        lines = [
            _response_msh(
                query, f"DSR{s.component}Q03", control_id=f"{control_id}-{n + 1}", timestamp=timestamp
            ),
            msa,
        ]
        if legacy:
            lines.append(f"ERR{f}0")
        lines.append(f.join(["QAK", "SR", "OK"]))
        if qrd is not None:
            lines.append(f.join(qrd))
        if qrf is not None:
            lines.append(f.join(qrf))
        for number in range(1, DSP_FIRST_TEST):
            lines.append(f.join(["DSP", str(number), "", e(dsp.get(number, "")), "", ""]))
        for offset, test in enumerate(order.tests):
            value = f"{e(test)}{s.component}{s.component}{s.component}"
            lines.append(f.join(["DSP", str(DSP_FIRST_TEST + offset), "", value, "", ""]))
        lines.append(f"DSC{f}{f}")
        messages.append(_encode("\r".join(lines) + "\r", query))
    return messages

