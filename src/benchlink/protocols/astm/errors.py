"""Error types of the ASTM E1394 record layer and the capture reader.

Callers quarantine input that raises :class:`AstmDecodeError` (design guarantee 3), so the
messages name what is wrong and what to do, and never quote patient data: they may end up in
diagnostic logs, which must stay free of PHI.
"""

from __future__ import annotations

__all__ = ["AstmDecodeError", "AstmEncodeError", "NotAstmError"]


class AstmDecodeError(ValueError):
    """Input bytes cannot be read as ASTM E1394 records (or as a capture of them).

    ``offset`` is the byte offset of the problem in the input when it is known, so an operator
    can find it in the quarantined raw bytes.
    """

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset


class NotAstmError(AstmDecodeError):
    """The input is not ASTM at all (a proprietary protocol, a printout, random noise).

    Distinct from a damaged ASTM message so the UI can tell the operator to pick another
    driver rather than to look for transmission errors.
    """


class AstmEncodeError(ValueError):
    """Python values cannot be written as E1394 records (unrepresentable text, bad shape)."""
