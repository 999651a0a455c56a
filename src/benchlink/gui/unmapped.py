"""Which instrument codes arrived without a lab code, per device: the Mapping panel's to-do list.

A read-only aggregate the storage layer does not offer yet; it runs on the query thread and
walks the ``lis_code`` index (unmapped rows have ``lis_code = ''``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from benchlink.storage.schema import results


@dataclass(frozen=True, slots=True)
class UnmappedCode:
    device: str
    instrument_code: str
    test_name: str
    count: int
    last_seen: datetime | None


def unmapped_codes(engine: Any, *, limit: int = 500) -> list[UnmappedCode]:
    c = results.c
    stmt = (
        select(c.device, c.instrument_code, func.max(c.test_name), func.count(), func.max(c.received_at))
        .where(c.lis_code == "")
        .group_by(c.device, c.instrument_code)
        .order_by(func.count().desc(), c.device, c.instrument_code)
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [UnmappedCode(str(r[0]), str(r[1]), str(r[2] or ""), int(r[3]),
                         _as_datetime(r[4])) for r in rows]


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
