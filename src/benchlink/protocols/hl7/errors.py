"""Error types of the HL7 layer.

Every error says what is wrong with the input and what the operator or integrator can do;
none of them ever quotes patient data, so they are safe to log.
"""

from __future__ import annotations


class Hl7Error(ValueError):
    """Base of every HL7-layer error; a ``ValueError`` because the input, not the code, is wrong."""


class Hl7DecodeError(Hl7Error):
    """Bytes that cannot be turned into an HL7 message; the raw bytes should be quarantined."""


class Hl7EncodeError(Hl7Error):
    """Values that cannot be written as a valid HL7 message (e.g. rows of two samples in one ORU)."""


class MllpError(Hl7Error):
    """A payload that cannot be MLLP-framed because it contains the block characters."""
