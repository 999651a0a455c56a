"""ACME AC-100 over ASTM. Write down each quirk of your analyzer here, with where you saw it.

* The sample barcode is in O.4 (O.3 holds the analyzer's run number).
* Test ids are ``^^^CODE^DIL``: the code in component 4, the dilution in 5.
* Messages of more than 240 characters are sent in one frame (``oversize_frames``).
"""

from __future__ import annotations

from benchlink.core.driver import DriverInfo
from benchlink.drivers.astm_generic import GenericAstmDriver
from benchlink.protocols.astm.records import OrderView


class AcmeDriver(GenericAstmDriver):
    info = DriverInfo(
        name="acme-ac100",
        protocol="astm",
        description="ACME AC-100 chemistry over ASTM",
        vendor="ACME",
        models=("AC-100",),
        tolerances=("oversize_frames",),
        transport={"kind": "serial", "baudrate": 9600},
        encoding="latin-1",
        sender_patterns=(r"^AC-100(\^|$)",),
        orders=True,
    )

    def sample_id(self, order: OrderView) -> str:
        return order.instrument_specimen_id or order.sample_id
