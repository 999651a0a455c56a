"""The worklist: orders by sample, and the state each order has reached with the analyzer.

States follow one order's life on the bench: ``pending`` (entered), ``sent`` (downloaded or
given in a query answer), ``acknowledged`` (the analyzer ACKed the message carrying it),
``resulted`` (a result for that sample and test arrived), ``cancelled``.

One open order per test: while an order for a sample and test is pending, sent or acknowledged,
the same order is not entered again for a device that could receive both (the same device, or
either order meant for any device). A query answer lists every open order of the sample, so a
second one would ask the analyzer to run the test twice, and the first result would close both.
Once the open order has its result (or is cancelled), the test can be ordered again: a repeat.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import select, update

from benchlink.core.model import OrderRequest
from benchlink.storage.database import WRITE_OPTION
from benchlink.storage.schema import orders

ORDER_STATES = ("pending", "sent", "acknowledged", "resulted", "cancelled")
OPEN_STATES = ("pending", "sent", "acknowledged")
PRIORITIES = ("S", "A", "R")  # LIS02-A2 O.6: stat, ASAP, routine; most urgent first
PRIORITY_HELP = "use S (stat), A (ASAP) or R (routine)"
CSV_FIELDS = ("sample_id", "tests", "priority", "patient_id", "patient_name", "device")
LISTED_PROBLEMS = 10  # a refusal lists this many bad lines, then counts the rest
_QUERY_CHUNK = 500  # sample IDs per IN (...) query: far below every backend's parameter limit


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


@dataclass(frozen=True, slots=True)
class NewOrder:
    """One test for one sample, checked but not saved yet; *line* is its CSV line (0 when typed in)."""

    sample_id: str
    test: str
    priority: str = "R"
    patient_id: str = ""
    patient_name: str = ""
    device: str = ""
    line: int = 0

    def clashes_with(self, sample_id: str, test: str, device: str) -> bool:
        """Whether one analyzer could be given both orders (an order for no device goes to every device)."""
        return self.sample_id == sample_id and self.test == test and (
            self.device == device or not self.device or not device)

    @property
    def label(self) -> str:
        return f"{self.sample_id} {self.test}" + (f" for {self.device}" if self.device else "")

    @property
    def where(self) -> str:
        return f"line {self.line}: " if self.line else ""


@dataclass(frozen=True, slots=True)
class EntryReport:
    """What one entry saved and what it left out, so the operator hears why an order is missing."""

    ids: tuple[int, ...]
    already_open: tuple[str, ...] = ()
    repeated: tuple[str, ...] = ()
    devices: frozenset[str] = frozenset()


def new_orders(sample_id: str, tests: Iterable[str], *, priority: str = "R", patient_id: str = "",
               patient_name: str = "", device: str = "", line: int = 0) -> list[NewOrder]:
    """Check one sample's order as typed or read; raises :class:`WorklistError` naming the bad field."""
    sample_id, device = sample_id.strip(), device.strip()
    codes = [t.strip() for t in tests if t.strip()]
    priority = (priority or "R").strip().upper()
    if not sample_id:
        raise WorklistError("an order needs a sample ID")
    if not codes:
        raise WorklistError(f"order for sample {sample_id!r} names no tests")
    if priority not in PRIORITIES:
        raise WorklistError(f"priority {priority!r} for sample {sample_id!r}: {PRIORITY_HELP}")
    patient_id, patient_name = patient_id.strip(), patient_name.strip()
    _check_lengths({"sample_id": sample_id, "patient_id": patient_id, "patient_name": patient_name,
                    "device": device, "test": max(codes, key=len)})
    return [NewOrder(sample_id, code, priority, patient_id, patient_name, device, line) for code in codes]


def _check_lengths(values: dict[str, str]) -> None:
    """PostgreSQL would refuse an over-long value mid-import; say which field instead (never the value: PHI)."""
    for name, value in values.items():
        limit = getattr(orders.c[name].type, "length", None)
        if limit is not None and len(value) > limit:
            raise WorklistError(f"{name} is {len(value)} characters long; at most {limit} fit")


def parse_csv(text: str) -> list[NewOrder]:
    """Check a whole worklist file before anything is saved, collecting every problem, so that a bad
    line cannot leave half a worklist behind and one round of corrections fixes the file."""
    reader = csv.DictReader(io.StringIO(text), restval="")
    reader.fieldnames = _checked_header(reader.fieldnames)
    found: list[NewOrder] = []
    problems: list[tuple[int, str]] = []
    for row in reader:
        try:
            found.extend(_row_orders(row, reader.line_num))
        except WorklistError as exc:
            problems.append((reader.line_num, f"line {reader.line_num}: {exc}"))
    problems.extend(_sort_repeats(found)[2])
    if problems:
        raise _refusal([text for _, text in sorted(problems)])
    return found


def _checked_header(fieldnames: Sequence[str] | None) -> list[str]:
    """A misspelt column would be ignored silently (a stat order imported as routine): refuse it."""
    names = [name.strip().lower() for name in fieldnames or ()]
    expected = ", ".join(CSV_FIELDS)
    if not names:
        raise WorklistError(f"the file is empty; its first line must name the columns {expected}")
    missing = sorted({"sample_id", "tests"} - set(names))
    if missing:
        raise WorklistError(f"worklist CSV lacks column(s) {missing}; expected {expected}")
    unknown = [name for name in names if name not in CSV_FIELDS]
    if unknown:
        raise WorklistError(f"unknown column(s) {unknown} in the first line; the worklist columns are {expected} "
                            "(check the spelling, or remove the column)")
    return names


def _row_orders(row: dict[str | Any, Any], line: int) -> list[NewOrder]:
    extra = [value for value in row.get(None) or () if value.strip()]
    if extra:
        raise WorklistError("more values than the first line names columns; put a value that contains a "
                            "comma in double quotes")
    if not any(str(value).strip() for key, value in row.items() if key is not None):
        return []  # a spreadsheet's empty trailing row
    tests = row["tests"].replace("|", ";").split(";")
    return new_orders(row["sample_id"], tests, priority=row.get("priority") or "R",
                      patient_id=row.get("patient_id") or "", patient_name=row.get("patient_name") or "",
                      device=row.get("device") or "", line=line)


def _sort_repeats(found: Sequence[NewOrder]) -> tuple[list[NewOrder], list[str], list[tuple[int, str]]]:
    """Split orders named twice into identical repeats (kept once) and conflicting ones (refused:
    which priority, patient or device was meant cannot be guessed)."""
    kept: list[NewOrder] = []
    by_test: dict[tuple[str, str], list[NewOrder]] = {}
    repeats: list[str] = []
    conflicts: list[tuple[int, str]] = []
    for order in found:
        same_test = by_test.setdefault((order.sample_id, order.test), [])
        earlier = next((o for o in same_test if order.clashes_with(o.sample_id, o.test, o.device)), None)
        if earlier is None:
            kept.append(order)
            same_test.append(order)
            continue
        differs = _differences(order, earlier)
        if not differs:
            repeats.append(_repeat_note(order, earlier))
        else:
            conflicts.append((order.line, f"{order.where}{order.label} is also on line {earlier.line} with a "
                                          f"different {' and '.join(differs)}; keep one of the two lines"))
    return kept, repeats, conflicts


def _differences(order: NewOrder, other: NewOrder) -> list[str]:
    pairs = {"priority": (order.priority, other.priority), "device": (order.device, other.device),
             "patient": ((order.patient_id, order.patient_name), (other.patient_id, other.patient_name))}
    return [name for name, (mine, theirs) in pairs.items() if mine != theirs]


def _repeat_note(order: NewOrder, earlier: NewOrder) -> str:
    if order.line and order.line != earlier.line:
        return f"line {order.line} repeats {earlier.label} from line {earlier.line}: ordered once"
    return f"{order.where}{order.test} is named twice for {order.sample_id}: ordered once"


def _refusal(problems: Sequence[str]) -> WorklistError:
    count = len(problems)
    listed = "\n  ".join(problems[:LISTED_PROBLEMS])
    more = f"\n  ...and {count - LISTED_PROBLEMS} more" if count > LISTED_PROBLEMS else ""
    return WorklistError(f"{count} problem(s), so nothing was imported; correct the file and import all of it "
                         f"again:\n  {listed}{more}")


Requests = tuple[list[OrderRequest], list[int]]  # outside the class: its ``list`` method hides the builtin


class Worklist:
    def __init__(self, engine: sqlalchemy.Engine) -> None:
        self._engine = engine

    def _write(self) -> sqlalchemy.engine.Connection:
        return self._engine.connect().execution_options(**{WRITE_OPTION: True})

    def add(self, sample_id: str, tests: Sequence[str], *, priority: str = "R", patient_id: str = "",
            patient_name: str = "", device: str = "") -> list[int]:
        """Enter one sample's tests; raises when every test is already open, so a caller that only shows
        how many were added cannot present "0 added" as success."""
        report = self.enter(new_orders(sample_id, tests, priority=priority, patient_id=patient_id,
                                       patient_name=patient_name, device=device))
        if not report.ids and report.already_open:
            raise WorklistError(f"nothing added: {'; '.join(report.already_open)}. A test can be ordered again "
                                "once its open order has a result")
        return list(report.ids)

    def enter(self, new: Sequence[NewOrder]) -> EntryReport:
        """Save checked orders in one transaction: all of them except those already open (see the module
        docstring), so importing the same worklist twice adds nothing the second time."""
        kept, repeats, conflicts = _sort_repeats(new)
        if conflicts:
            raise _refusal([text for _, text in conflicts])
        now = datetime.now(UTC)
        ids: list[int] = []
        skipped: list[str] = []
        with self._write() as conn, conn.begin():
            open_rows = _open_orders(conn, {o.sample_id for o in kept})
            for order in kept:
                clash = next((r for r in open_rows.get((order.sample_id, order.test), ())
                              if order.clashes_with(r.sample_id, r.test, r.device)), None)
                if clash is None:
                    ids.append(_insert(conn, order, now))
                else:
                    skipped.append(_open_note(order, clash))
        return EntryReport(tuple(ids), tuple(skipped), tuple(repeats), frozenset(o.device for o in new if o.device))

    def import_file(self, source: Path | str) -> EntryReport:
        """All lines or none: a CSV file (a Path) or its text; columns as in :data:`CSV_FIELDS`, tests
        separated by ``;`` or ``|``."""
        text = source.read_text(encoding="utf-8-sig") if isinstance(source, Path) else source
        return self.enter(parse_csv(text))

    def import_csv(self, source: Path | str) -> int:
        """How many orders :meth:`import_file` saved."""
        return len(self.import_file(source).ids)

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

    def requests_for(self, sample_ids: Iterable[str], *, device: str = "") -> Requests:
        """Open orders for these samples, grouped per sample as the driver needs them."""
        rows = [r for r in self.list(sample_ids=sample_ids, device=device or None)
                if r.state in ("pending", "sent")]
        return _group(rows)

    def pending_downloads(self, device: str) -> Requests:
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
        query = select(orders.c.sample_id).distinct().where(orders.c.state.in_(OPEN_STATES))
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


def _open_orders(conn: sqlalchemy.Connection, sample_ids: set[str]) -> dict[tuple[str, str], list[Any]]:
    """Open orders of these samples by (sample, test), read inside the entering transaction (on SQLite
    it holds the write lock, so no other entry can slip a duplicate in between)."""
    c = orders.c
    found: dict[tuple[str, str], list[Any]] = {}
    wanted = sorted(sample_ids)
    for start in range(0, len(wanted), _QUERY_CHUNK):
        query = select(c.id, c.sample_id, c.test, c.device, c.state, c.priority).where(
            c.state.in_(OPEN_STATES), c.sample_id.in_(wanted[start:start + _QUERY_CHUNK]))
        for row in conn.execute(query):
            found.setdefault((row.sample_id, row.test), []).append(row)
    return found


def _insert(conn: sqlalchemy.Connection, order: NewOrder, now: datetime) -> int:
    return int(conn.execute(orders.insert().values(
        sample_id=order.sample_id, test=order.test, priority=order.priority, patient_id=order.patient_id,
        patient_name=order.patient_name, device=order.device, state="pending", created_at=now,
    ).returning(orders.c.id)).scalar_one())


def _open_note(order: NewOrder, clash: Any) -> str:
    where = f" for {clash.device}" if clash.device else " for any device"
    note = f"{order.where}{order.sample_id} {order.test} is already {clash.state}{where} (order {clash.id})"
    if clash.priority != order.priority:
        note += f" with priority {clash.priority}, not {order.priority}"
    return note


def _urgency(priority: str) -> int:
    return PRIORITIES.index(priority) if priority in PRIORITIES else len(PRIORITIES)


def _group(rows: list[OrderRow]) -> tuple[list[OrderRequest], list[int]]:
    """One request per sample, as urgent as its most urgent test (stat must not become routine)."""
    by_sample: dict[str, list[OrderRow]] = {}
    for row in sorted(rows, key=lambda r: r.id):
        by_sample.setdefault(row.sample_id, []).append(row)
    requests = [
        OrderRequest(sample_id=sid, tests=tuple(r.test for r in group),
                     priority=min((r.priority for r in group), key=_urgency),
                     patient_id=group[0].patient_id, patient_name=group[0].patient_name)
        for sid, group in by_sample.items()
    ]
    return requests, [r.id for r in rows]
