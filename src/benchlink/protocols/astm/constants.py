"""Control characters of ASTM E1381 / CLSI LIS01-A2.

Both the ``bytes`` form (for writing to the wire and ``in`` tests on buffers) and the ``int``
form (what indexing a ``bytes`` object yields) are exported, so hot paths never convert.
"""

from __future__ import annotations

from typing import Final

STX_INT: Final = 0x02
ETX_INT: Final = 0x03
EOT_INT: Final = 0x04
ENQ_INT: Final = 0x05
ACK_INT: Final = 0x06
LF_INT: Final = 0x0A
CR_INT: Final = 0x0D
NAK_INT: Final = 0x15
ETB_INT: Final = 0x17

STX: Final = b"\x02"
ETX: Final = b"\x03"
EOT: Final = b"\x04"
ENQ: Final = b"\x05"
ACK: Final = b"\x06"
LF: Final = b"\n"
CR: Final = b"\r"
CRLF: Final = b"\r\n"
NAK: Final = b"\x15"
ETB: Final = b"\x17"

#: LIS01-A2 8.3.1: at most 240 text characters per frame (247 with the framing overhead).
MAX_TEXT_PER_FRAME: Final = 240

#: Frame numbers run 1..7, 0, 1.. (modulo 8); the first frame of a transfer phase is 1.
FRAME_NUMBER_MODULUS: Final = 8

#: Characters LIS01-A2 forbids inside frame text. Our sender refuses them; our receiver
#: tolerates those that do not delimit frames, because real instruments send them.
RESTRICTED_TEXT_BYTES: Final = frozenset(
    {0x01, STX_INT, ETX_INT, EOT_INT, ENQ_INT, ACK_INT, 0x10, NAK_INT, 0x16, ETB_INT, LF_INT,
     0x11, 0x12, 0x13, 0x14}
)

#: Byte values of hexadecimal digits, either case (case is judged by the frame parser).
HEX_DIGIT_INTS: Final = frozenset(b"0123456789ABCDEFabcdef")
