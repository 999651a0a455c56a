"""Bytes as an operator reads them on a line analyser: `<STX>1H|...<CR><ETX>A5<CR><LF>`.

Kept free of Qt so the trace view, the quarantine view and the results detail pane share one
rendering and tests can pin it down exactly.
"""

from __future__ import annotations

# ASCII control names as LIS01-A2 and HL7/MLLP documents print them.
CONTROL_NAMES: dict[int, str] = {
    0x00: "NUL", 0x01: "SOH", 0x02: "STX", 0x03: "ETX", 0x04: "EOT", 0x05: "ENQ", 0x06: "ACK",
    0x07: "BEL", 0x08: "BS", 0x09: "TAB", 0x0A: "LF", 0x0B: "VT", 0x0C: "FF", 0x0D: "CR",
    0x0E: "SO", 0x0F: "SI", 0x10: "DLE", 0x11: "DC1", 0x12: "DC2", 0x13: "DC3", 0x14: "DC4",
    0x15: "NAK", 0x16: "SYN", 0x17: "ETB", 0x18: "CAN", 0x19: "EM", 0x1A: "SUB", 0x1B: "ESC",
    0x1C: "FS", 0x1D: "GS", 0x1E: "RS", 0x1F: "US", 0x7F: "DEL",
}

_TABLE: list[str] = [
    f"<{CONTROL_NAMES[b]}>" if b in CONTROL_NAMES else (chr(b) if b < 0x80 else f"<{b:02X}>")
    for b in range(256)
]


def show_controls(data: bytes, *, limit: int = 64 * 1024, line_breaks: bool = False) -> str:
    """Printable ASCII as is, controls by name, bytes >= 0x80 as hex; at most `limit` input bytes.

    With `line_breaks`, a newline follows each `<LF>` (or a lone `<CR>`) so a message reads record
    by record; the control names stay, so nothing on the wire is hidden.
    """
    clipped = data[:limit]
    parts = [_TABLE[b] for b in clipped]
    if line_breaks:
        for i, b in enumerate(clipped):
            next_byte = clipped[i + 1] if i + 1 < len(clipped) else None
            if b == 0x0A or (b == 0x0D and next_byte != 0x0A):
                parts[i] += "\n"
    text = "".join(parts)
    if len(data) > limit:
        text += f"… ({len(data) - limit} more bytes not shown)"
    return text


def hex_dump(data: bytes, *, limit: int = 16 * 1024, width: int = 16) -> str:
    """Offset, hex, and the printable column: for the byte the operator cannot otherwise see."""
    lines = []
    clipped = data[:limit]
    for offset in range(0, len(clipped), width):
        chunk = clipped[offset:offset + width]
        hexes = " ".join(f"{b:02X}" for b in chunk)
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{offset:08X}  {hexes:<{width * 3 - 1}}  {text}")
    if len(data) > limit:
        lines.append(f"… ({len(data) - limit} more bytes not shown)")
    return "\n".join(lines)
