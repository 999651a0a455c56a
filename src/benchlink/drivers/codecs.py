"""The built-in wire codecs (ASTM E1394, HL7 v2) as plugin-registered descriptions.

Auto-detection asks each codec whether a capture is its protocol, cuts the capture into
messages and reads the sender text that drivers' ``sender_patterns`` are matched against.
"""

from __future__ import annotations

import re

from benchlink.core.plugin_api import CodecInfo
from benchlink.protocols.astm.capture import read_capture
from benchlink.protocols.astm.errors import AstmDecodeError
from benchlink.protocols.astm.records import decode_message
from benchlink.protocols.hl7.capture import read_hl7_capture
from benchlink.protocols.hl7.errors import Hl7Error
from benchlink.protocols.hl7.message import parse_message

#: How much of a capture ``sniff`` looks at: enough for a header, bounded for huge files.
SNIFF_BYTES = 64 * 1024

_MSH = re.compile(rb"(?:^|[\r\n\x0b>\]])\s*MSH[|^~]")
_ASTM_HEADER = re.compile(rb"(?:^|[\r\n\x02>\]\x05]|\x02[0-7]|\][0-7])\s*[0-7]?H[^A-Za-z0-9\s]")


def sniff_hl7(data: bytes) -> bool:
    return _MSH.search(data[:SNIFF_BYTES]) is not None


def sniff_astm(data: bytes) -> bool:
    head = data[:SNIFF_BYTES]
    return not sniff_hl7(head) and _ASTM_HEADER.search(head) is not None


def split_astm(data: bytes) -> list[bytes]:
    try:
        return read_capture(data).messages
    except AstmDecodeError:
        return []


def astm_sender(message: bytes) -> str:
    """H.5 components joined by ``^`` (padding trimmed, trailing empties dropped)."""
    try:
        header = decode_message(message).header
    except AstmDecodeError:
        return ""
    parts = list(header.sender_components)
    while parts and not parts[-1]:
        parts.pop()
    return "^".join(parts)


def hl7_sender(message: bytes) -> str:
    """``MSH-3^MSH-4`` (sending application and facility)."""
    try:
        msg = parse_message(message)
    except (Hl7Error, IndexError, ValueError):
        return ""
    return "^".join(part for part in (msg.sending_application, msg.sending_facility) if part)


ASTM_CODEC = CodecInfo(
    name="astm",
    protocol="astm",
    sniff=sniff_astm,
    split_capture=split_astm,
    sender=astm_sender,
    description="CLSI LIS01-A2 frames / LIS02-A2 (ASTM E1394) records",
)
HL7_CODEC = CodecInfo(
    name="hl7",
    protocol="hl7",
    sniff=sniff_hl7,
    split_capture=read_hl7_capture,
    sender=hl7_sender,
    description="HL7 v2 over MLLP (plain, framed or tokenized captures)",
)
