"""Typed, frozen domain objects shared by drivers, storage, exporters and the GUI.

They are deliberately independent of any wire format: an ASTM R record and an HL7 OBX
segment both become a :class:`Result`, so everything downstream has one shape to handle.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class ResultKind(enum.StrEnum):
    """Why a result exists; QC and calibration must never be mixed into patient reports."""

    PATIENT = "patient"
    QC = "qc"
    CALIBRATION = "calibration"


@dataclass(frozen=True, slots=True)
class Result:
    """One observation as the instrument reported it, plus what mapping made of it."""

    sample_id: str
    instrument_code: str
    value: str
    patient_id: str = ""
    patient_name: str = ""
    birth_date: str = ""
    test_name: str = ""
    lis_code: str = ""
    numeric_value: float | None = None
    comparator: str = ""
    units: str = ""
    reference_range: str = ""
    flags: str = ""
    status: str = ""
    observed_at: datetime | None = None
    instrument: str = ""
    kind: ResultKind = ResultKind.PATIENT


@dataclass(frozen=True, slots=True)
class HostQuery:
    """An analyzer asking the host which tests to run for some samples (ASTM Q, HL7 QRY)."""

    sample_ids: tuple[str, ...]
    tests: tuple[str, ...] = ()
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A test the lab wants run on a sample; what the host downloads or answers a query with."""

    sample_id: str
    tests: tuple[str, ...]
    priority: str = "R"
    patient_id: str = ""
    patient_name: str = ""


@dataclass(frozen=True, slots=True)
class Decoded:
    """Everything a driver extracted from one complete message."""

    results: tuple[Result, ...] = ()
    queries: tuple[HostQuery, ...] = ()
    sender: str = ""
    warnings: tuple[str, ...] = field(default=())
