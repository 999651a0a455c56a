"""The generic ASTM E1394 driver: standard fields in their standard places.

Vendor drivers subclass it and override the small methods below (where the sample id lives,
how a test code is written, what marks QC) when an analyzer puts things elsewhere; most
conforming analyzers need nothing more than this class.
"""

from __future__ import annotations

from datetime import datetime

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
    ResultView,
    decode_message,
    encode_records,
)

_QC_MARKERS = ("QC", "CONTROL")


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

    def decode(self, data: bytes, *, encoding: str = "latin-1") -> Decoded:
        try:
            message = decode_message(data, encoding=encoding or self.info.encoding or "latin-1")
        except AstmDecodeError as exc:
            raise DecodeError(str(exc)) from exc
        return self.to_domain(message)

    # -- what vendor drivers override -------------------------------------------------------
    def message_kind(self, message: AstmMessage) -> ResultKind | None:
        """A kind that holds for the whole message, or None to decide per order."""
        return None

    def order_kind(self, order: OrderView) -> ResultKind:
        return ResultKind.QC if _looks_like_qc(order.report_type, order.sample_id) else ResultKind.PATIENT

    def sample_id(self, order: OrderView) -> str:
        return order.sample_id

    def test_code(self, result: ResultView) -> tuple[str, str]:
        """(instrument code, test name) of an R record."""
        return result.code, ""

    def result_value(self, result: ResultView) -> str:
        return result.value

    def result_details(self, result: ResultView) -> dict[str, str | datetime | None]:
        """Units, range, flags, status and time of an R record (keys are Result fields)."""
        return {"units": result.units, "reference_range": result.reference_range, "flags": result.abnormal_flag,
                "status": result.status, "observed_at": result.completed_at}

    def patient_id(self, patient: PatientView) -> str:
        return patient.practice_id or patient.lab_id or patient.patient_id_3

    def order_test(self, code: str) -> list[str]:
        """Universal test id components used when this host writes an order for ``code``."""
        return ["", "", "", code]

    # -- records -> domain ----------------------------------------------------------------
    def to_domain(self, message: AstmMessage) -> Decoded:
        header = message.header
        sender = header.sender_name if header is not None else ""
        whole = self.message_kind(message)
        results: list[Result] = []
        for patient_block in message.patients:
            patient = patient_block.view
            patient_id = self.patient_id(patient)
            patient_name = "^".join(part for part in patient.name if part)
            birth_date = next((c.strip() for c in patient.components(8) if c.strip()), "")
            for order_block in patient_block.orders:
                order = order_block.view
                kind = whole if whole is not None else self.order_kind(order)
                sample_id = self.sample_id(order)
                for result_block in order_block.results:
                    r = result_block.view
                    code, name = self.test_code(r)
                    value = self.result_value(r)
                    numeric, comparator = parse_numeric(value)
                    details = self.result_details(r)
                    results.append(
                        Result(
                            sample_id=sample_id,
                            instrument_code=code,
                            value=value,
                            patient_id=patient_id,
                            patient_name=patient_name,
                            birth_date=birth_date,
                            test_name=name,
                            numeric_value=numeric,
                            comparator=comparator,
                            units=str(details["units"] or ""),
                            reference_range=str(details["reference_range"] or ""),
                            flags=str(details["flags"] or ""),
                            status=str(details["status"] or ""),
                            observed_at=_as_time(details["observed_at"]),
                            instrument=r.instrument or sender,
                            kind=kind,
                        )
                    )
        queries = tuple(
            HostQuery(
                sample_ids=tuple(q.sample_ids),
                tests=tuple(t for t in q.test_codes if t.upper() != "ALL"),
                request_id=message.header.message_control_id,
            )
            for q in message.queries
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


def _looks_like_qc(report_type: str, sample_id: str) -> bool:
    upper = sample_id.upper()
    return report_type.upper() == "Q" or any(upper.startswith(m) for m in _QC_MARKERS)


def _as_time(value: object) -> datetime | None:
    return value if isinstance(value, datetime) else None
