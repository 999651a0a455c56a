"""The generic HL7 v2 driver: ORU^R01 / OUL^R22 results and Mindray-style QRY^Q02 queries.

It wraps ``benchlink.protocols.hl7`` into the driver protocol. Vendor drivers subclass it
and override :meth:`GenericHl7Driver.to_result` or :meth:`GenericHl7Driver.keep`.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from benchlink.core.driver import DecodeError, DriverInfo
from benchlink.core.model import Decoded, HostQuery, OrderRequest, Result
from benchlink.drivers.hl7_results import to_result
from benchlink.protocols.hl7.ack import QueryOrder, build_query_response, parse_query
from benchlink.protocols.hl7.errors import Hl7Error
from benchlink.protocols.hl7.message import Hl7Message, parse_message
from benchlink.protocols.hl7.observations import (
    Hl7Observation,
    attachments,
    is_result_message,
    read_observations,
)

#: Queries whose original message is kept to build a faithful answer (bounded on purpose).
QUERY_MEMORY = 128


def observation_result(obs: Hl7Observation) -> Result:
    """One OBX as a domain result; an invalid (``***.**``) value never gets a number."""
    return to_result(obs)


class GenericHl7Driver:
    info = DriverInfo(
        name="hl7",
        protocol="hl7",
        description="Generic HL7 v2 ORU^R01/OUL^R22 results and QRY^Q02 host queries",
        orders=True,
    )
    host_application = "BENCHLINK"

    def __init__(self) -> None:
        self._queries: OrderedDict[str, Hl7Message] = OrderedDict()

    def parse(self, data: bytes, *, encoding: str = "") -> Hl7Message:
        """``encoding`` overrides MSH-18 when set (a device profile that knows better)."""
        try:
            return parse_message(data, profile_encoding=encoding or self.info.encoding or None)
        except Hl7Error as exc:
            raise DecodeError(str(exc)) from exc
        except (IndexError, ValueError) as exc:
            raise DecodeError(f"not an HL7 v2 message ({exc}); quarantine it and check the device's protocol") from exc

    def decode(self, data: bytes, *, encoding: str = "") -> Decoded:
        msg = self.parse(data, encoding=encoding)
        return self.to_domain(msg)

    # -- what vendor drivers override -------------------------------------------------------
    def keep(self, obs: Hl7Observation) -> bool:
        """Whether an OBX is a result (ED/RP attachments are already left out)."""
        return True

    def to_result(self, msg: Hl7Message, obs: Hl7Observation) -> Result:
        return observation_result(obs)

    # -- segments -> domain ----------------------------------------------------------------
    def to_domain(self, msg: Hl7Message) -> Decoded:
        if not msg.segments or msg.segments[0][0] != "MSH":
            raise DecodeError("the message does not start with an MSH segment; it is not HL7 v2")
        sender = msg.sending_application
        kind = msg.message_type.split(msg.separators.component)[0] if msg.message_type else ""
        warnings: list[str] = []
        try:
            if kind == "QRY":
                parsed = parse_query(msg)
                self._remember(parsed.control_id, msg)
                query = HostQuery(sample_ids=parsed.sample_ids, request_id=parsed.control_id)
                return Decoded(queries=(query,), sender=sender)
            if not is_result_message(msg):
                return Decoded(sender=sender, warnings=(f"{msg.message_type or 'untyped'} message carries no results",))
            results = tuple(self.to_result(msg, obs) for obs in read_observations(msg) if self.keep(obs))
            attached = attachments(msg)
        except Hl7Error as exc:
            raise DecodeError(str(exc)) from exc
        if attached:
            warnings.append(f"{len(attached)} encapsulated attachment(s) (histograms, scattergrams) kept "
                            "in the raw message, not stored as results")
        return Decoded(results=results, sender=sender, warnings=tuple(warnings))

    # -- queries ----------------------------------------------------------------------------
    def _remember(self, control_id: str, msg: Hl7Message) -> None:
        self._queries[control_id] = msg
        self._queries.move_to_end(control_id)
        while len(self._queries) > QUERY_MEMORY:
            self._queries.popitem(last=False)

    def _query_message(self, query: HostQuery) -> Hl7Message:
        remembered = self._queries.get(query.request_id)
        if remembered is not None:
            return remembered
        # The query was decoded elsewhere (replay, another process): rebuild its essentials.
        ids = "~".join(query.sample_ids)
        text = (f"MSH|^~\\&|ANALYZER||{self.host_application}||||QRY^Q02|{query.request_id or '1'}|P|2.3.1\r"
                f"QRD||R|D|{query.request_id or '1'}|||RD|{ids}|OTH|||T\r")
        return parse_message(text.encode("utf-8"))

    def answer_query_messages(
        self, query: HostQuery, orders: list[OrderRequest], *, encoding: str = ""
    ) -> list[bytes]:
        """QCK^Q02, then one DSR^Q03 per sample that has orders (the Mindray query dialogue)."""
        wanted = set(query.sample_ids)
        found = [
            QueryOrder(sample_id=o.sample_id, tests=o.tests, patient_id=o.patient_id,
                       patient_name=o.patient_name, stat=o.priority == "S")
            for o in orders if not wanted or o.sample_id in wanted
        ]
        now = datetime.now().strftime("%Y%m%d%H%M%S")
        control = f"BL{now[2:]}"
        return build_query_response(self._query_message(query), found, control_id=control, timestamp=now)

    def answer_query(self, query: HostQuery, orders: list[OrderRequest], *, encoding: str = "") -> bytes:
        """All reply messages back to back (each ends in CR); frame them one by one with
        :meth:`answer_query_messages` when sending over MLLP."""
        return b"".join(self.answer_query_messages(query, orders, encoding=encoding))
