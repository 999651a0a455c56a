"""The built-in CSV and HL7 exporters, registered through the ``benchlink_exporters`` hook.

It lives in ``runtime`` because drivers and exporters are sibling layers that may not
import each other, while the built-ins must still arrive through the plugin hooks.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchlink.core.hookspecs import PLUGIN_API_VERSION, hookimpl
from benchlink.core.plugin_api import ExporterInfo


def _write_csv(rows: Iterable[Any], out: Path | str, **options: Any) -> int:
    from benchlink.exporters.csv_export import CsvOptions, write_csv

    return write_csv(rows, out, CsvOptions(**options))


def _write_hl7(rows: Iterable[Any], out: Path | str, **options: Any) -> int:
    from benchlink.exporters.hl7_export import write_hl7

    return write_hl7(rows, out, **options)


@hookimpl
def benchlink_api_version() -> str:
    return f"=={PLUGIN_API_VERSION}"


@hookimpl
def benchlink_exporters() -> list[ExporterInfo]:
    return [
        ExporterInfo("csv", ".csv", _write_csv, "one row per result, spreadsheet-friendly"),
        ExporterInfo("hl7", ".hl7", _write_hl7, "one ORU^R01 per sample (optionally an HL7 batch file)"),
    ]
