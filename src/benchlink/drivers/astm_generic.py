"""The generic ASTM E1394 driver: standard fields in their standard places.

Vendor drivers subclass it and override the small methods below (where the sample id lives,
how a test code is written, what marks QC) when an analyzer puts things elsewhere; most
conforming analyzers need nothing more than this class.

What marks QC (LIS02-A2): H.12 processing id ``Q`` (the whole message carries quality-control
data) or O.12 action code ``Q`` ("treat specimen as a Q.C. test specimen"), plus sample ids
starting with ``QC``/``CONTROL``, which is how many analyzers name their control material.
O.26 report type ``Q`` is *not* QC: it means "response to query", and a patient result sent in
answer to a host query carries it; stored as QC it would vanish from the patient's report.

Result status: R.9 is translated to HL7 table 0085, the vocabulary of ``Result.status`` (HL7
results arrive in it, and the ORU export writes it to OBX-11 as is). Several letters exist in
both tables with other meanings, so copying R.9 would send, say, ASTM ``W`` (validity
questionable) as HL7 ``W`` (post original as wrong, e.g. wrong patient). See
:data:`ASTM_RESULT_STATUS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import ClassVar

from benchlink.core.driver import DecodeError, DriverInfo
from benchlink.core.model import Decoded, HostQuery, OrderRequest, Result, ResultKind
from benchlink.core.values import parse_numeric
from benchlink.protocols.astm.errors import AstmDecodeError
from benchlink.protocols.astm.records import (
    AstmMessage,
    Delimiters,
    FieldValue,
    OrderView,
    PatientView,
    QueryView,
    ResultView,
    decode_message,
    encode_records,
    first_nonempty,
    order_essentials,
    patient_essentials,
    result_essentials,
    result_groups,
)

_QC_MARKERS = ("QC", "CONTROL")

#: LIS02-A2 R.9 result status -> HL7 v2.5.1 table 0085 (OBX-11 observation result status).
#: Each code goes to the 0085 code of the same meaning; where 0085 has none, to ``P``
#: (preliminary), the weakest claim a stored result can carry, never to a stronger or a
#: different one: ``F`` would let a LIS release it unreviewed, and the same-letter codes
#: (``R`` not verified, ``N`` not asked, ``W`` wrong patient) say something else.
#: Anything not listed (a vendor letter, or an HL7-only code like ``D`` delete, ``U`` made
#: final, ``O`` order only) becomes ``""``: an unknown letter cannot be trusted to mean the
#: action the same 0085 letter orders.
ASTM_RESULT_STATUS: Mapping[str, str] = MappingProxyType({
    "F": "F",  # final results -> final results
    "P": "P",  # preliminary results -> preliminary results
    "C": "C",  # correction of previously transmitted results -> correction replacing a result
    "X": "X",  # order cannot be done -> results cannot be obtained for this observation
    "I": "I",  # in instrument, results pending -> specimen in lab, results pending
    "S": "S",  # partial results -> partial results
    "V": "F",  # operator verified/approved -> final (verified is what final asserts)
    "W": "P",  # warning, validity questionable -> preliminary; NOT HL7 W (post original as wrong)
    "R": "P",  # previously transmitted (a resend; says nothing of finality) -> P; NOT HL7 R (not verified)
    "N": "P",  # carries information to run a new (reflex) order -> P; NOT HL7 N (not asked)
    "Q": "P",  # response to an outstanding query (no finality stated) -> preliminary
    "M": "P",  # result is an MIC level (a kind of value, no finality stated) -> preliminary
})

#: The order in which ``to_domain`` passes Result's fields positionally
#: (tests/protocols/test_decode_equivalence.py checks it against the dataclass).
RESULT_FIELDS_ORDER = (
    "sample_id", "instrument_code", "value", "patient_id", "patient_name", "birth_date", "test_name", "lis_code",
    "numeric_value", "comparator", "units", "reference_range", "flags", "status", "observed_at", "instrument", "kind",
)


class GenericAstmDriver:
    info = DriverInfo(
        name="astm",
        protocol="astm",
        description="Generic CLSI LIS02-A2 / ASTM E1394 results and host queries",
        encoding="latin-1",
        orders=True,
    )
    #: H.5 of the messages this host sends (answers to queries, order downloads).
    host_name = "BENCHLINK"
    #: R.9 code (upper case) -> ``Result.status``; a vendor whose analyzer means something
    #: else by a letter overrides this, not ``result_details``.
    result_statuses: ClassVar[Mapping[str, str]] = ASTM_RESULT_STATUS

    def decode(self, data: bytes, *, encoding: str = "latin-1") -> Decoded:
        try:
            message = decode_message(data, encoding=encoding or self.info.encoding or "latin-1")
        except AstmDecodeError as exc:
            raise DecodeError(str(exc)) from exc
        return self.to_domain(message)

    # -- what vendor drivers override -------------------------------------------------------
    def message_kind(self, message: AstmMessage) -> ResultKind | None:
        """A kind that holds for the whole message, or None to decide per order.

        LIS02-A2 H.12 processing id ``Q`` marks a quality-control message: every result in it is QC.
        """
        return ResultKind.QC if message.header.processing_id.upper() == "Q" else None

    def order_kind(self, order: OrderView) -> ResultKind:
        """QC for O.12 action code ``Q`` or a QC-named sample id; never for O.26 ``Q`` (query response)."""
        return ResultKind.QC if _looks_like_qc(order.action_code, order.sample_id) else ResultKind.PATIENT

    def sample_id(self, order: OrderView) -> str:
        return order.sample_id

    def test_code(self, result: ResultView) -> tuple[str, str]:
        """(instrument code, test name) of an R record."""
        return result.code, ""

    def result_value(self, result: ResultView) -> str:
        return result.value

    def result_details(self, result: ResultView) -> dict[str, str | datetime | None]:
        """Units, range, flags, status and time of an R record (keys are Result fields).

        ``status`` is the R.9 code as sent: ``to_domain`` translates it through
        :attr:`result_statuses` whichever path read it, so an override cannot let a raw ASTM
        letter reach OBX-11 (an 0085 code it already holds maps to itself, to ``P`` or to ``""``).
        """
        return {"units": result.units, "reference_range": result.reference_range, "flags": result.abnormal_flag,
                "status": result.status, "observed_at": result.completed_at}

    def patient_id(self, patient: PatientView) -> str:
        return patient.practice_id or patient.lab_id or patient.patient_id_3

    def order_test(self, code: str) -> list[str]:
        """Universal test id components used when this host writes an order for ``code``."""
        return ["", "", "", code]

    # -- records -> domain ----------------------------------------------------------------
    def to_domain(self, message: AstmMessage) -> Decoded:
        sender = message.header.sender_name
        whole = self.message_kind(message)
        delims = message.delimiters
        statuses = self.result_statuses
        # Hooks bound once: the loops below run for every result the workstation receives.
        patient_id_of, sample_id_of, order_kind_of = self.patient_id, self.sample_id, self.order_kind
        test_code, result_value, result_details = self.test_code, self.result_value, self.result_details
        # Where a record's hooks are not overridden, a plain record (ASCII, no escapes) is read
        # in one pass by the _*_essentials readers, which give what the hooks would have
        # returned; otherwise every hook is called with its view, as documented.
        own_patients = _inherited(patient_id_of, "patient_id")
        own_orders = _inherited(sample_id_of, "sample_id") and (
            whole is not None or _inherited(order_kind_of, "order_kind")
        )
        own_results = (
            _inherited(test_code, "test_code")
            and _inherited(result_value, "result_value")
            and _inherited(result_details, "result_details")
        )
        results: list[Result] = []
        append = results.append
        for patient_record, orders in result_groups(message.records):
            plain_patient = patient_essentials(patient_record, delims) if own_patients else None
            if plain_patient is not None:
                practice_id, lab_id, patient_id_3, name_parts, birth_parts = plain_patient
                patient_id = practice_id or lab_id or patient_id_3
            else:
                patient = PatientView(patient_record, delims)
                patient_id = patient_id_of(patient)
                name_parts, birth_parts = patient.name, patient.components(8)
            # Positions kept ("^John^Q": no family name, given John): dropping empty parts made "John" the
            # family name in PID-5. Only trailing empty parts go.
            patient_name = _name_text(name_parts)
            birth_date = first_nonempty(birth_parts)
            for order_record, result_records in orders:
                plain_order = order_essentials(order_record, delims) if own_orders else None
                if plain_order is not None:
                    sample_id, action_code = plain_order
                    if whole is not None:
                        kind = whole
                    else:
                        kind = ResultKind.QC if _looks_like_qc(action_code, sample_id) else ResultKind.PATIENT
                else:
                    order = OrderView(order_record, delims)
                    kind = whole if whole is not None else order_kind_of(order)
                    sample_id = sample_id_of(order)
                for result_record in result_records:
                    plain_result = result_essentials(result_record, delims) if own_results else None
                    if plain_result is not None:
                        code, value, units, reference_range, flags, status, observed_at, instrument = plain_result
                        name = ""
                    else:
                        r = ResultView(result_record, delims)
                        code, name = test_code(r)
                        value = result_value(r)
                        details = result_details(r)
                        units = str(details["units"] or "")
                        reference_range = str(details["reference_range"] or "")
                        flags = str(details["flags"] or "")
                        status = str(details["status"] or "").strip()
                        stamp = details["observed_at"]
                        observed_at = stamp if isinstance(stamp, datetime) else None
                        instrument = r.instrument
                    status = statuses.get(status.upper(), "")
                    numeric, comparator = parse_numeric(value)
                    # Positional, in RESULT_FIELDS_ORDER: a third cheaper than keywords here.
                    append(Result(
                        sample_id, code, value, patient_id, patient_name, birth_date, name, "", numeric, comparator,
                        units, reference_range, flags, status, observed_at, instrument or sender, kind,
                    ))
        # message.queries without building the tree: it holds every Q record, in order.
        queries = tuple(
            HostQuery(
                sample_ids=tuple(q.sample_ids),
                tests=tuple(t for t in q.test_codes if t.upper() != "ALL"),
                request_id=message.header.message_control_id,
            )
            for q in (QueryView(rec, delims) for rec in message.by_type("Q"))
        )
        return Decoded(results=tuple(results), queries=queries, sender=sender, warnings=message.warnings)

    # -- domain -> records ----------------------------------------------------------------
    def answer_query(self, query: HostQuery, orders: list[OrderRequest], *, encoding: str = "latin-1") -> bytes:
        """Orders for the queried samples, or LIS02-A2 "no information" (O.26 report type ``Y``)."""
        records: list[list[FieldValue]] = [["H", None, "", "", [self.host_name], "", "", "", "", "", "", "P", "1"]]
        known = {order.sample_id for order in orders}
        seq = 0
        for order in orders:
            seq += 1
            tests: list[list[str]] = [self.order_test(t) for t in order.tests]
            records.append(["P", str(seq), "", order.patient_id])
            records.append(["O", "1", order.sample_id, "", tests, order.priority, *[""] * 5, "N",
                            *[""] * 13, "O"])
        for sample_id in query.sample_ids:
            if sample_id in known:
                continue
            seq += 1
            records.append(["P", str(seq)])
            records.append(["O", "1", sample_id, *[""] * 22, "Y"])
        records.append(["L", "1", "N"])
        return encode_records(records, Delimiters(), encoding=encoding or self.info.encoding or "latin-1")


def _name_text(parts: Sequence[str]) -> str:
    kept = list(parts)
    while kept and not kept[-1]:
        kept.pop()
    return "^".join(kept)


def _looks_like_qc(action_code: str, sample_id: str) -> bool:
    """O.12 ``Q`` ("treat specimen as a Q.C. test specimen") or a sample id named like control material."""
    return action_code.upper() == "Q" or sample_id.upper().startswith(_QC_MARKERS)


#: The per-record hooks as GenericAstmDriver defines them, captured at import: a hook that a
#: subclass overrides, an instance sets, or a test patches onto the class is none of these.
_OWN_HOOKS = {
    name: vars(GenericAstmDriver)[name]
    for name in ("patient_id", "sample_id", "order_kind", "test_code", "result_value", "result_details")
}


def _inherited(hook: object, name: str) -> bool:
    """Whether a bound hook is GenericAstmDriver's own ``name`` (so its one-pass reader may stand in)."""
    return getattr(hook, "__func__", None) is _OWN_HOOKS[name]
