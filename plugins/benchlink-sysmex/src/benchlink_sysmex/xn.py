"""Sysmex XN-series (XN-L: XN-350/450/550; XN-1000 ...) haematology over ASTM.

* The sender (H.5) is padded with leading spaces: ``    XN-550^00-24^22723^^^^BD634545``.
* O.3 is empty; the sample id is O.4 component 3, right-aligned in a padded field:
  ``^^                    27^M`` (rack^tube^id^mode, ``M`` manual, ``B`` sampler).
* Test ids put the parameter in component 5 and the dilution in 6: ``^^^^WBC^1``; orders
  are written the same way.
* A whole message is sent in one frame of a few kB: ``oversize_frames``.
* QC files use sample ids starting ``QC-``; they are QC, never patient results.
"""

from __future__ import annotations

from benchlink.core.driver import DriverInfo
from benchlink.core.model import ResultKind
from benchlink.drivers.astm_generic import GenericAstmDriver
from benchlink.protocols.astm.records import OrderView, ResultView


class SysmexXnDriver(GenericAstmDriver):
    info = DriverInfo(
        name="sysmex-xn",
        protocol="astm",
        description="Sysmex XN-series haematology over ASTM",
        vendor="Sysmex",
        models=("XN-350", "XN-450", "XN-550", "XN-1000", "XN-2000"),
        tolerances=("oversize_frames",),
        transport={"kind": "serial", "baudrate": 9600},
        encoding="latin-1",
        sender_patterns=(r"^\s*XN-\d",),
        orders=True,
    )

    def sample_id(self, order: OrderView) -> str:
        comps = [c.strip() for c in order.components(4)]
        return (comps[2] if len(comps) > 2 and comps[2] else "") or order.sample_id

    def order_kind(self, order: OrderView) -> ResultKind:
        if self.sample_id(order).upper().startswith("QC"):
            return ResultKind.QC
        return super().order_kind(order)

    def test_code(self, result: ResultView) -> tuple[str, str]:
        comps = [c.strip() for c in result.test_components]
        if len(comps) > 4 and comps[4]:
            return comps[4], ""
        return result.code, ""

    def order_test(self, code: str) -> list[str]:
        return ["", "", "", "", code, "1"]
