"""Versioned code mappings (instrument code -> lab code), every change audited.

Rows are never edited in place: :meth:`MappingStore.set_mapping` retires the current version and
inserts the next one, so the history of a mapping answers "which lab code did results of last
March get, and who changed it". A replay after a mapping fix uses :meth:`MappingStore.to_table`.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import func, select, update

from benchlink.core.mapping import MappingEntry, MappingTable
from benchlink.storage.audit import AuditLog
from benchlink.storage.database import WRITE_OPTION
from benchlink.storage.schema import mappings

#: CSV header of :meth:`MappingStore.export_csv` / :meth:`MappingStore.import_csv`.
CSV_FIELDS = ("device", "instrument_code", "lis_code", "name", "units", "factor")


class MappingError(ValueError):
    """A mapping (or a CSV line of mappings) is invalid; the message names the field and the fix."""


@dataclass(frozen=True, slots=True)
class MappingRow:
    id: int
    device: str  # "*" applies to every device
    instrument_code: str
    lis_code: str
    name: str
    units: str
    factor: float
    version: int
    valid_from: datetime
    retired: bool

    def entry(self) -> MappingEntry:
        """As the core's mapping entry (factor 1 multiplies by one and still sets the units)."""
        return MappingEntry(
            device=self.device,
            instrument_code=self.instrument_code,
            lis_code=self.lis_code,
            name=self.name,
            units=self.units,
            factor=self.factor,
        )

    def as_audit(self) -> dict[str, Any]:
        return {"lis_code": self.lis_code, "name": self.name, "units": self.units, "factor": self.factor,
                "version": self.version}


def _row(r: Any) -> MappingRow:
    return MappingRow(
        id=int(r.id), device=r.device, instrument_code=r.instrument_code, lis_code=r.lis_code, name=r.name,
        units=r.units, factor=float(r.factor), version=int(r.version), valid_from=r.valid_from,
        retired=bool(r.retired),
    )


def _validate(device: str, instrument_code: str, lis_code: str, factor: float) -> None:
    if not device.strip():
        raise MappingError("mapping device is empty: give the device name, or '*' for every device")
    if not instrument_code.strip():
        raise MappingError("mapping instrument_code is empty: give the code the analyzer sends")
    if not lis_code.strip():
        raise MappingError(f"mapping for {device}/{instrument_code}: lis_code is empty; give the lab's test code")
    if not math.isfinite(factor) or factor <= 0:
        # A unit conversion is always a positive factor; a negative one turned 5.1 mmol/L into -92 mg/dL.
        raise MappingError(
            f"mapping for {device}/{instrument_code}: factor {factor!r} must be a finite number above 0 "
            "(1 = no unit conversion)"
        )


class MappingStore:
    """The ``mappings`` table: current versions, history, CSV in and out."""

    def __init__(self, engine: sqlalchemy.Engine, audit: AuditLog | None = None) -> None:
        self._engine = engine
        self._audit = audit or AuditLog(engine)

    @contextmanager
    def _write(self) -> Iterator[sqlalchemy.Connection]:
        with self._engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            yield conn

    def set_mapping(
        self,
        device: str,
        instrument_code: str,
        lis_code: str,
        *,
        name: str = "",
        units: str = "",
        factor: float = 1.0,
        actor: str,
        at: datetime | None = None,
    ) -> MappingRow | None:
        """Make this the current mapping; returns the new version, or ``None`` if nothing changed.

        Setting the same values again creates no version and no audit entry, so importing one CSV
        twice is harmless.
        """
        _validate(device, instrument_code, lis_code, factor)
        with self._write() as conn:
            return self._set(conn, device, instrument_code, lis_code, name, units, float(factor), actor,
                             at or datetime.now(UTC))

    def _set(
        self, conn: sqlalchemy.Connection, device: str, code: str, lis_code: str, name: str, units: str,
        factor: float, actor: str, at: datetime,
    ) -> MappingRow | None:
        m = mappings.c
        current = conn.execute(
            select(mappings).where(m.device == device, m.instrument_code == code, m.retired.is_(False))
        ).first()
        before = None if current is None else _row(current)
        if before is not None and (before.lis_code, before.name, before.units, before.factor) == (
            lis_code, name, units, factor
        ):
            return None
        last = conn.execute(
            select(func.max(m.version)).where(m.device == device, m.instrument_code == code)
        ).scalar()
        version = int(last or 0) + 1
        if before is not None:
            conn.execute(update(mappings).where(m.id == before.id).values(retired=True))
        new_id = conn.execute(
            mappings.insert()
            .values(device=device, instrument_code=code, lis_code=lis_code, name=name, units=units,
                    factor=factor, version=version, valid_from=at, retired=False)
            .returning(m.id)
        ).scalar_one()
        row = MappingRow(int(new_id), device, code, lis_code, name, units, factor, version, at, False)
        self._audit.append(actor, "mapping.set", f"mapping:{device}/{code}",
                           None if before is None else before.as_audit(), row.as_audit(), conn=conn, at=at)
        return row

    def retire(self, device: str, instrument_code: str, *, actor: str) -> bool:
        """Remove the current mapping (its history stays); ``False`` when there was none."""
        m = mappings.c
        with self._write() as conn:
            current = conn.execute(
                select(mappings).where(m.device == device, m.instrument_code == instrument_code,
                                       m.retired.is_(False))
            ).first()
            if current is None:
                return False
            conn.execute(update(mappings).where(m.id == current.id).values(retired=True))
            self._audit.append(actor, "mapping.retire", f"mapping:{device}/{instrument_code}",
                               _row(current).as_audit(), None, conn=conn)
            return True

    def current_mappings(self, device: str | None = None) -> list[MappingRow]:
        m = mappings.c
        stmt = select(mappings).where(m.retired.is_(False))
        if device is not None:
            stmt = stmt.where(m.device == device)
        with self._engine.connect() as conn:
            rows = conn.execute(stmt.order_by(m.device, m.instrument_code)).all()
        return [_row(r) for r in rows]

    def history(self, device: str, instrument_code: str) -> list[MappingRow]:
        """Every version, oldest first."""
        m = mappings.c
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(mappings)
                .where(m.device == device, m.instrument_code == instrument_code)
                .order_by(m.version)
            ).all()
        return [_row(r) for r in rows]

    def to_table(self) -> MappingTable:
        return MappingTable([row.entry() for row in self.current_mappings()])

    # ------------------------------------------------------------------ CSV
    def export_csv(self, path: Path) -> int:
        """Write the current mappings as UTF-8 CSV (``CSV_FIELDS`` header); returns the row count."""
        rows = self.current_mappings()
        buf = io.StringIO(newline="")
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(CSV_FIELDS)
        for r in rows:
            writer.writerow([r.device, r.instrument_code, r.lis_code, r.name, r.units, repr(r.factor)])
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(buf.getvalue(), encoding="utf-8", newline="")
        tmp.replace(path)
        return len(rows)

    def import_csv(self, path: Path, *, actor: str) -> tuple[int, int]:
        """Apply a CSV of mappings in ONE transaction: all lines or none.

        Returns (changed, unchanged). Raises :class:`MappingError` naming the first bad line.
        """
        text = path.read_text(encoding="utf-8-sig")
        parsed = list(_parse_csv(text, str(path)))
        changed = 0
        now = datetime.now(UTC)
        with self._write() as conn:
            for device, code, lis_code, name, units, factor in parsed:
                if self._set(conn, device, code, lis_code, name, units, factor, actor, now) is not None:
                    changed += 1
        return changed, len(parsed) - changed


def _parse_csv(text: str, origin: str) -> Iterable[tuple[str, str, str, str, str, float]]:
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(reader.fieldnames or ())
    missing = [f for f in ("device", "instrument_code", "lis_code") if f not in header]
    if missing:
        raise MappingError(
            f"{origin}: the header lacks {', '.join(missing)}; the first line must name the columns "
            f"{','.join(CSV_FIELDS)}"
        )
    for line, rec in enumerate(reader, start=2):
        raw_factor = (rec.get("factor") or "").strip() or "1"
        try:
            factor = float(raw_factor.replace(",", "."))
        except ValueError:
            raise MappingError(f"{origin} line {line}: factor {raw_factor!r} is not a number") from None
        device = (rec.get("device") or "").strip()
        code = (rec.get("instrument_code") or "").strip()
        lis_code = (rec.get("lis_code") or "").strip()
        try:
            _validate(device, code, lis_code, factor)
        except MappingError as exc:
            raise MappingError(f"{origin} line {line}: {exc}") from None
        yield device, code, lis_code, (rec.get("name") or "").strip(), (rec.get("units") or "").strip(), factor
