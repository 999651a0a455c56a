"""The generic ASTM E1394 driver: standard fields in their standard places.

Vendor drivers subclass or replace it when an analyzer puts things elsewhere; most
conforming analyzers need nothing more than this.
"""

from __future__ import annotations

from benchlink.core.driver import DecodeError, DriverInfo
from benchlink.core.model import Decoded, HostQuery, OrderRequest, Result, ResultKind
from benchlink.core.values import parse_numeric
from benchlink.protocols.astm.errors import AstmDecodeError
from benchlink.protocols.astm.records import AstmMessage, Delimiters, FieldValue, decode_message, encode_records

_QC_MARKERS = ("QC", "CONTROL")


class GenericAstmDriver:
    info = DriverInfo(
        name="astm",
        protocol="astm",
        description="Generic CLSI LIS02-A2 / ASTM E1394 results and host queries",
    )

    def decode(self, data: bytes, *, encoding: str = "latin-1") -> Decoded:
        try:
            message = decode_message(data, encoding=encoding)
        except AstmDecodeError as exc:
            raise DecodeError(str(exc)) from exc
        return self.to_domain(message)

    def to_domain(self, message: AstmMessage) -> Decoded:
        header = message.header
        sender = header.sender_name if header is not None else ""
        results: list[Result] = []
        for patient_block in message.patients:
            patient = patient_block.view
            patient_id = patient.practice_id or patient.lab_id or patient.patient_id_3
            patient_name = "^".join(part for part in patient.name if part)
            birth_date = patient.birth_date_raw
            for order_block in patient_block.orders:
                order = order_block.view
                kind = ResultKind.QC if _looks_like_qc(order.report_type, order.sample_id) else ResultKind.PATIENT
                for result_block in order_block.results:
                    r = result_block.view
                    numeric, comparator = parse_numeric(r.value)
                    results.append(
                        Result(
                            sample_id=order.sample_id,
                            instrument_code=r.code,
                            value=r.value,
                            patient_id=patient_id,
                            patient_name=patient_name,
                            birth_date=birth_date,
                            numeric_value=numeric,
                            comparator=comparator,
                            units=r.units,
                            reference_range=r.reference_range,
                            flags=r.abnormal_flag,
                            status=r.status,
                            observed_at=r.completed_at,
                            instrument=r.instrument or sender,
                            kind=kind,
                        )
                    )
        queries = tuple(
            HostQuery(sample_ids=tuple(q.sample_ids), tests=tuple(q.test_codes)) for q in message.queries
        )
        return Decoded(results=tuple(results), queries=queries, sender=sender)

    def answer_query(self, query: HostQuery, orders: list[OrderRequest], *, encoding: str = "latin-1") -> bytes:
        """Orders for the queried samples, or LIS02-A2 "no information" (O.26 report type ``Y``)."""
        records: list[list[FieldValue]] = [["H", None, "", "", ["BENCHLINK"], "", "", "", "", "", "", "P", "1"]]
        known = {order.sample_id for order in orders}
        seq = 0
        for order in orders:
            seq += 1
            tests: list[list[str]] = [["", "", "", t] for t in order.tests]
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
        return encode_records(records, Delimiters(), encoding=encoding)


def _looks_like_qc(report_type: str, sample_id: str) -> bool:
    upper = sample_id.upper()
    return report_type.upper() == "Q" or any(upper.startswith(m) for m in _QC_MARKERS)
