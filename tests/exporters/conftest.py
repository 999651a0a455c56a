from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

CET = timezone(timedelta(hours=1))


@dataclass(frozen=True)
class Row:
    """In-memory stand-in with exactly the storage ResultRow's attributes."""

    id: int = 1
    message_id: int | None = 10
    device: str = "BS-200"
    sample_id: str = "S1"
    patient_id: str = "P1"
    patient_name: str = "Doe^Jane"
    instrument_code: str = "GLU"
    lis_code: str = "2345-7"
    test_name: str = "Glucose"
    value: str = "5.50"
    numeric_value: float | None = 5.5
    comparator: str = ""
    units: str = "mmol/L"
    reference_range: str = "3.9-6.1"
    flags: str = "N"
    status: str = "F"
    kind: str = "patient"
    observed_at: datetime | None = datetime(2024, 3, 1, 9, 30, tzinfo=CET)
    received_at: datetime = datetime(2024, 3, 1, 9, 31, 5, tzinfo=UTC)
    exported_at: datetime | None = None


@pytest.fixture
def make_row() -> Callable[..., Row]:
    base = Row()

    def make(**changes: Any) -> Row:
        return replace(base, **changes)

    return make
