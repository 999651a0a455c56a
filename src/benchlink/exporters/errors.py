"""Errors the exporters raise; callers (GUI, CLI) show the message as is."""

from __future__ import annotations


class ExportError(Exception):
    """An export that could not be completed; nothing was written at the destination."""


class ExportCancelled(ExportError):
    """The user cancelled; the destination file was left untouched (no partial file)."""
