"""Mindray BS-240 chemistry analyzer over ASTM (BS-240 LIS manual, ASTM section).

Quirks handled here, each seen in real traffic:

* the whole message travels in ONE frame, up to several kB: the link needs the
  ``oversize_frames`` tolerance;
* P/O/R/L sequence numbers keep counting across messages (``P|475``, ``R|141``) instead of
  restarting at 1; nothing here depends on them;
* H.12 says what the message is: ``PR`` patient results, ``QR`` QC results, ``CR``
  calibration results (so QC never lands in a patient report);
* O.3 is the analyzer's sample number (``7^1^7``: number^tray^position) and O.4 the barcode,
  which is what the lab knows the sample by; the barcode wins when present;
* R.3 is ``code^name^^F``; calculated tests have no assay number and send ``^Glo^^F``: their
  name is their code;
* values come as ``2.837141^^^^``; the sender is sometimes spelled ``Mindry``;
* the result time is in R.12 (test started) and R.13 stays empty.
"""

from __future__ import annotations

from datetime import datetime

from benchlink.core.driver import DriverInfo
from benchlink.core.model import ResultKind
from benchlink.drivers.astm_generic import GenericAstmDriver
from benchlink.protocols.astm.records import AstmMessage, OrderView, ResultView

_KINDS = {"PR": ResultKind.PATIENT, "QR": ResultKind.QC, "CR": ResultKind.CALIBRATION}


class Bs240AstmDriver(GenericAstmDriver):
    info = DriverInfo(
        name="mindray-bs240",
        protocol="astm",
        description="Mindray BS-240 / BS-230 chemistry over ASTM (one frame per message)",
        vendor="Mindray",
        models=("BS-240", "BS-230", "BS-240E"),
        tolerances=("oversize_frames",),
        transport={"kind": "serial", "baudrate": 9600},
        encoding="latin-1",
        sender_patterns=(r"^Mindr?a?y(\^|$)",),
        orders=True,
    )

    def message_kind(self, message: AstmMessage) -> ResultKind | None:
        return _KINDS.get(message.header.processing_id.upper())

    def sample_id(self, order: OrderView) -> str:
        return order.instrument_specimen_id or order.sample_id

    def test_code(self, result: ResultView) -> tuple[str, str]:
        comps = [c.strip() for c in result.test_components] + ["", ""]
        code, name = comps[0], comps[1]
        return (code or name), name

    def result_details(self, result: ResultView) -> dict[str, str | datetime | None]:
        details = super().result_details(result)
        details["observed_at"] = result.completed_at or result.started_at
        return details

    def order_test(self, code: str) -> list[str]:
        return [code, "", "", ""]
