"""Mindray BS-240 over HL7 v2.3.1 (BS-series LIS manual, HL7 section).

* ``MSH-16`` (application acknowledgment type, repurposed by Mindray) says what a result
  message holds: ``0`` sample, ``1`` calibration, ``2`` QC. They are kept apart as result
  kinds; QC never becomes a patient result.
* ``OBR-2`` carries the barcode (``OBR-3`` is a tray position); ``OBX-3`` is a channel number
  and ``OBX-4`` the test name.
* One sample's results may arrive in several ORU^R01 messages (as tests finish); each
  message is decoded on its own and the results meet again by sample id in storage.
* ``QRY^Q02`` asks for a barcode's orders; the answer is ``QCK^Q02`` and then one
  ``DSR^Q03`` per sample (see :meth:`answer_query_messages`).
"""

from __future__ import annotations

from benchlink.core.driver import DriverInfo
from benchlink.drivers.hl7_generic import GenericHl7Driver


class Bs240Hl7Driver(GenericHl7Driver):
    info = DriverInfo(
        name="mindray-bs240-hl7",
        protocol="hl7",
        description="Mindray BS-240 / BS-230 chemistry over HL7 v2.3.1 (MLLP over TCP)",
        vendor="Mindray",
        models=("BS-240", "BS-230"),
        transport={"kind": "tcp", "port": 5100},
        sender_patterns=(r"^Mindray\^BS-?\d{3}",),
        orders=True,
    )
