"""Mindray BC-5380 haematology analyzer over HL7 v2.3.1 (BC-5380 HL7 interface manual).

* ``MSH-18`` is ``UNICODE``: the text is UTF-8 (the HL7 layer reads it so).
* ``OBX-3`` carries either a LOINC code (``6690-2^WBC^LN``) or a Mindray local code
  (``10000^*LIC#^99MRC``); both are instrument codes, mapped per device like any other.
* ``ED`` OBX segments are histogram and scattergram bitmaps: attachments, not results.
  :meth:`Bc5380Driver.attachments` returns them; decoding reports how many there were.
* ``***.**`` means the analyzer could not produce a value: the result is kept, with no
  number and status ``X``.
* The Erba ELite 580 speaks the same dialect and is recognised too.
"""

from __future__ import annotations

from benchlink.core.driver import DecodeError, DriverInfo
from benchlink.drivers.hl7_generic import GenericHl7Driver
from benchlink.protocols.hl7.errors import Hl7Error
from benchlink.protocols.hl7.observations import Attachment, attachments


class Bc5380Driver(GenericHl7Driver):
    info = DriverInfo(
        name="mindray-bc5380",
        protocol="hl7",
        description="Mindray BC-5380 / BC-5000 series haematology over HL7 v2.3.1",
        vendor="Mindray",
        models=("BC-5380", "BC-5390", "BC-5150", "ELite 580"),
        transport={"kind": "tcp", "port": 5100},
        sender_patterns=(r"^BC-?5\d{3}(\^|$)", r"^ELite ?5\d0\^Erba"),
        orders=True,
    )

    def attachments(self, data: bytes) -> list[Attachment]:
        """The histogram/scattergram attachments of one message (never stored as results)."""
        try:
            return attachments(self.parse(data))
        except Hl7Error as exc:
            raise DecodeError(str(exc)) from exc
