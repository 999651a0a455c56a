"""The worklist: orders by sample, and the state each order has reached with the analyzer.

States follow one order's life on the bench: ``pending`` (entered), ``sent`` (downloaded or
given in a query answer), ``acknowledged`` (the analyzer ACKed the message carrying it),
``resulted`` (a result for that sample and test arrived), ``cancelled``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy
from sqlalchemy import select, update

from benchlink.core.model import OrderRequest
from benchlink.storage.database import WRITE_OPTION
from benchlink.storage.schema import orders

ORDER_STATES = ("pending", "sent", "acknowledged", "resulted", "cancelled")
PRIORITIES = ("S", "A", "R")  # LIS02-A2 O.6: stat, ASAP, routine
CSV_FIELDS = ("sample_id", "tests", "priority", "patient_id", "patient_name", "device")


class WorklistError(ValueError):
    """An order that cannot be entered; the message names the row and the field."""


@dataclass(frozen=True, slots=True)
class OrderRow:
    id: int
    sample_id: str
    test: str
    priority: str
    patient_id: str
    patient_name: str
    device: str
    state: str
    created_at: datetime
    sent_at: datetime | None


class Worklist:
    def __init__(self, engine: sqlalchemy.Engine) -> None:
        self._engine = engine

    def _write(self) -> sqlalchemy.engine.Connection:
        return self._engine.connect().execution_options(**{WRITE_OPTION: True})

    def add(self, sample_id: str, tests: Sequence[str], *, priority: str = "R", patient_id: str = "",
            patient_name: str = "", device: str = "") -> list[int]:
        sample_id = sample_id.strip()
        tests = [t.strip() for t in tests if t.strip()]
        if not sample_id:
            raise WorklistError("an order needs a sample ID")
        if not tests:
            raise WorklistError(f"order for sample {sample_id!r} names no tests")
        if priority not in PRIORITIES:
            raise WorklistError(f"priority {priority!r} for sample {sample_id!r}: use S (stat), A (ASAP) or R")
        now = datetime.now(UTC)
        with self._write() as conn, conn.begin():
            ids = []
            for test in tests:
                result = conn.execute(orders.insert().values(
                    sample_id=sample_id, test=test, priority=priority, patient_id=patient_id,
                    patient_name=patient_name, device=device, state="pending", created_at=now))
                ids.append(int(result.inserted_primary_key[0]))
        return ids

    def import_csv(self, source: Path | str) -> int:
        """Columns: sample_id, tests (separated by ``;`` or ``|``), priority, patient_id, patient_name, device."""
        text = source.read_text(encoding="utf-8-sig") if isinstance(source, Path) else source
        reader = csv.DictReader(io.StringIO(text))
        missing = {"sample_id", "tests"} - set(reader.fieldnames or ())
        if missing:
            raise WorklistError(f"worklist CSV lacks column(s) {sorted(missing)}; expected {', '.join(CSV_FIELDS)}")
        count = 0
        rows = list(reader)
        for line, row in enumerate(rows, start=2):
            tests = [t for t in row["tests"].replace("|", ";").split(";") if t.strip()]
            try:
                count += len(self.add(row["sample_id"], tests, priority=(row.get("priority") or "R").strip().upper(),
                                      patient_id=row.get("patient_id") or "",
                                      patient_name=row.get("patient_name") or "", device=row.get("device") or ""))
            except WorklistError as exc:
                raise WorklistError(f"line {line}: {exc}") from exc
        return count

    def list(self, *, state: str | None = None, sample_ids: Iterable[str] | None = None,
             device: str | None = None, limit: int = 1000) -> list[OrderRow]:
        query = select(orders).order_by(orders.c.id.desc()).limit(limit)
        if state is not None:
            query = query.where(orders.c.state == state)
        if sample_ids is not None:
            query = query.where(orders.c.sample_id.in_(list(sample_ids)))
        if device:
            query = query.where(orders.c.device.in_([device, ""]))
        with self._engine.connect() as conn:
            return [OrderRow(**{k: row._mapping[k] for k in OrderRow.__slots__}) for row in conn.execute(query)]

    def requests_for(self, sample_ids: Iterable[str], *, device: str = "") -> tuple[list[OrderRequest], list[int]]:
        """Open orders for these samples, grouped per sample as the driver needs them."""
        rows = [r for r in self.list(sample_ids=sample_ids, device=device or None)
                if r.state in ("pending", "sent")]
        return _group(rows)

    def pending_downloads(self, device: str) -> tuple[list[OrderRequest], list[int]]:
        rows = [r for r in self.list(state="pending", device=device)]
        return _group(rows)

    def mark(self, ids: Sequence[int], state: str) -> None:
        if state not in ORDER_STATES:
            raise WorklistError(f"order state {state!r} is not one of {', '.join(ORDER_STATES)}")
        if not ids:
            return
        values: dict[str, object] = {"state": state}
        if state == "sent":
            values["sent_at"] = datetime.now(UTC)
        with self._write() as conn, conn.begin():
            conn.execute(update(orders).where(orders.c.id.in_(list(ids))).values(**values))

    def open_sample_ids(self) -> set[str]:
        """Samples with an order still waiting for its result (one small indexed query)."""
        query = select(orders.c.sample_id).distinct().where(orders.c.state.in_(("pending", "sent", "acknowledged")))
        with self._engine.connect() as conn:
            return {row[0] for row in conn.execute(query)}

    def mark_resulted(self, pairs: Iterable[tuple[str, str]]) -> int:
        """(sample_id, test) pairs that now have results."""
        wanted = set(pairs)
        if not wanted:
            return 0
        rows = [r for r in self.list(sample_ids={s for s, _ in wanted}) if r.state != "cancelled"]
        ids = [r.id for r in rows if (r.sample_id, r.test) in wanted and r.state != "resulted"]
        self.mark(ids, "resulted")
        return len(ids)


def _group(rows: list[OrderRow]) -> tuple[list[OrderRequest], list[int]]:
    by_sample: dict[str, list[OrderRow]] = {}
    for row in sorted(rows, key=lambda r: r.id):
        by_sample.setdefault(row.sample_id, []).append(row)
    requests = [
        OrderRequest(sample_id=sid, tests=tuple(r.test for r in group), priority=min(r.priority for r in group),
                     patient_id=group[0].patient_id, patient_name=group[0].patient_name)
        for sid, group in by_sample.items()
    ]
    return requests, [r.id for r in rows]
