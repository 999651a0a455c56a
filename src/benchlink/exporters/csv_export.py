"""CSV export of results: RFC 4180, UTF-8, spreadsheet-safe.

Format decisions:

* Columns are :data:`CSV_COLUMNS` in that exact order (downstream imports key on position),
  then any :attr:`CsvOptions.extra_columns`.
* RFC 4180: CRLF record ends, a cell is quoted when it holds the delimiter, a quote, CR or LF,
  and quotes inside are doubled.
* Timestamps are ISO 8601 *with* a UTC offset. A naive datetime (instrument local time) is
  read as being in :attr:`CsvOptions.naive_timezone`, or the system's local zone when unset.
* Formula injection (CWE-1236): a text cell starting with ``= + - @``, TAB or CR is prefixed
  with ``'`` and quoted, so Excel/LibreOffice show it instead of evaluating it. Cells that are
  genuine numbers (``-1.5``, ``+3``, ``1e-3``) are left alone: prefixing them would turn every
  negative result into text.
* ``value`` is the text the instrument sent. ``decimal_comma`` (for ``;``-separated
  spreadsheets in decimal-comma locales) writes ``numeric_value`` with a decimal comma, and
  ``value`` too when that text is a plain number (``1.05``, ``<0.5``; see
  :func:`~benchlink.core.values.parse_numeric`): a decimal point there would make Excel read
  ``1.05`` as a date and ``1.020`` as a thousand, next to a ``numeric_value`` of ``1,02``.
  Any other text (``Positive``, ``***.**``) is left as sent.

The writer is hand-rolled rather than :mod:`csv` because Python 3.11's ``csv`` cannot quote one
chosen cell (the guarded ones), and because a row that needs no quoting at all - almost every
row - is then written with one ``join`` and a few C-level substring checks.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from operator import attrgetter
from pathlib import Path
from typing import IO, Any, Final

from benchlink.core.values import parse_numeric
from benchlink.exporters.atomic import atomic_write
from benchlink.exporters.errors import ExportCancelled
from benchlink.exporters.rows import ResultRowLike

CSV_COLUMNS: Final = (
    "sample_id",
    "patient_id",
    "device",
    "instrument_code",
    "lis_code",
    "test_name",
    "value",
    "numeric_value",
    "comparator",
    "units",
    "reference_range",
    "flags",
    "status",
    "observed_at",
    "received_at",
    "message_id",
)
#: Attributes of a result row that may be requested as extra columns.
EXTRA_COLUMN_CHOICES: Final = frozenset(
    {"id", "patient_name", "kind", "exported_at"} | set(CSV_COLUMNS)
) - set(CSV_COLUMNS)

_IDX_VALUE: Final = CSV_COLUMNS.index("value")
_IDX_NUMERIC: Final = CSV_COLUMNS.index("numeric_value")
_IDX_OBSERVED: Final = CSV_COLUMNS.index("observed_at")
_IDX_RECEIVED: Final = CSV_COLUMNS.index("received_at")
_IDX_MESSAGE: Final = CSV_COLUMNS.index("message_id")
_GUARD_CHARS: Final = "=+-@\t\r"
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?$")
_CHUNK_ROWS: Final = 8192


@dataclass(frozen=True, slots=True)
class CsvOptions:
    """How the CSV looks; the defaults suit RFC 4180 readers, :data:`SEMICOLON` suits Excel in
    locales with a decimal comma."""

    delimiter: str = ","
    bom: bool = False
    decimal_comma: bool = False
    extra_columns: tuple[str, ...] = ()
    naive_timezone: tzinfo | None = None

    def __post_init__(self) -> None:
        if len(self.delimiter) != 1 or self.delimiter in "\"'\r\n" or self.delimiter.isalnum():
            raise ValueError(
                f"CSV delimiter {self.delimiter!r} is not usable; choose one character such as ',' ';' or TAB"
            )
        unknown = [c for c in self.extra_columns if c not in EXTRA_COLUMN_CHOICES]
        if unknown:
            raise ValueError(
                f"unknown extra CSV column(s) {unknown}; choose from {sorted(EXTRA_COLUMN_CHOICES)}"
            )

    @property
    def columns(self) -> tuple[str, ...]:
        return CSV_COLUMNS + self.extra_columns


#: ``;`` preset: semicolon delimiter, decimal comma, BOM so Excel detects UTF-8.
SEMICOLON: Final = CsvOptions(delimiter=";", bom=True, decimal_comma=True)


def comma_decimal(value: str) -> str:
    """``value`` with its decimal point as a comma when it is a plain number, else unchanged, so the
    ``value`` cell reads as the same number as ``numeric_value`` in a decimal-comma spreadsheet."""
    if type(value) is str and "." in value and parse_numeric(value)[0] is not None:
        return value.replace(".", ",")
    return value


class _Formatter:
    """Turns rows into CSV lines; holds the caches that make timestamps cheap."""

    def __init__(self, options: CsvOptions) -> None:
        self.options = options
        self.delimiter = options.delimiter
        self.columns = options.columns
        self.ncols = len(self.columns)
        self.getter = attrgetter(*self.columns)
        self.dt_cache: dict[tuple[datetime, tzinfo | None], str] = {}
        # A cell starts with a guard character iff the line starts with one or one follows a
        # delimiter; a handful of C-level substring tests decide that for the whole line.
        self.guard_first = frozenset(_GUARD_CHARS)
        # _GUARD_CHARS minus CR, which the line test already excludes.
        self.g0, self.g1, self.g2, self.g3, self.g4 = (self.delimiter + g for g in "=+-@\t")
        self.extra_start = len(CSV_COLUMNS)

    def number(self, value: float | int) -> str:
        text = repr(value) if not isinstance(value, str) else value
        return text.replace(".", ",") if self.options.decimal_comma else text

    def timestamp(self, value: datetime | None) -> str:
        if value is None:
            return ""
        # Aware datetimes equal as instants compare equal across zones; key on the zone too
        # so each keeps the offset it was given.
        key = (value, value.tzinfo)
        cached = self.dt_cache.get(key)
        if cached is not None:
            return cached
        text = self.stamp_text(value)
        if len(self.dt_cache) > 4096:
            self.dt_cache.clear()
        self.dt_cache[key] = text
        return text

    def stamp_text(self, value: datetime) -> str:
        """ISO 8601 with offset; a naive value is read in ``naive_timezone`` (else local time)."""
        if value.tzinfo is None:
            tz = self.options.naive_timezone
            value = value.astimezone() if tz is None else value.replace(tzinfo=tz)
        return value.isoformat()

    def generic(self, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, datetime):
            return self.timestamp(value)
        if isinstance(value, float):
            return self.number(value)
        return str(value)

    def cells(self, row: ResultRowLike) -> list[Any]:
        cells: list[Any] = list(self.getter(row))
        number = cells[_IDX_NUMERIC]
        if self.options.decimal_comma:
            cells[_IDX_VALUE] = comma_decimal(cells[_IDX_VALUE])
        if number is None:
            cells[_IDX_NUMERIC] = ""
        elif self.options.decimal_comma:
            cells[_IDX_NUMERIC] = repr(number).replace(".", ",")
        else:
            cells[_IDX_NUMERIC] = repr(number)
        cache = self.dt_cache
        for idx in (_IDX_OBSERVED, _IDX_RECEIVED):
            stamp = cells[idx]
            if stamp is None:
                cells[idx] = ""
            else:
                text = cache.get((stamp, stamp.tzinfo))
                cells[idx] = text if text is not None else self.timestamp(stamp)
        message = cells[_IDX_MESSAGE]
        cells[_IDX_MESSAGE] = "" if message is None else str(message)
        if self.ncols > self.extra_start:
            for i in range(self.extra_start, self.ncols):
                cells[i] = self.generic(cells[i])
        return cells

    def fast_cells(self, row: ResultRowLike) -> tuple[Any, ...]:
        """:meth:`cells` for the standard columns only, unrolled (the hot path of big exports)."""
        (sid, pid, dev, inst, lis, name, value, number, comp, units, rng, flags, status, observed,
         received, message) = self.getter(row)
        cache = self.dt_cache
        if number is None:
            number = ""
        else:
            number = repr(number)
            if self.options.decimal_comma:
                number = number.replace(".", ",")
        if self.options.decimal_comma:
            value = comma_decimal(value)
        if observed is None:
            observed = ""
        else:
            observed = cache.get((observed, observed.tzinfo)) or self.timestamp(observed)
        received = "" if received is None else (
            cache.get((received, received.tzinfo)) or self.timestamp(received)
        )
        message = "" if message is None else str(message)
        return (sid, pid, dev, inst, lis, name, value, number, comp, units, rng, flags, status, observed,
                received, message)

    def line(self, row: ResultRowLike) -> str:
        cells: Sequence[Any] = self.fast_cells(row) if self.ncols == self.extra_start else self.cells(row)
        d = self.delimiter
        try:
            line = d.join(cells)
        except TypeError:
            cells = [self.generic(c) for c in cells]
            line = d.join(cells)
        if (
            '"' not in line
            and "\n" not in line
            and "\r" not in line
            and line.count(d) == self.ncols - 1
            and line[:1] not in self.guard_first
            and self.g0 not in line
            and self.g1 not in line
            and self.g2 not in line
            and self.g3 not in line
            and self.g4 not in line
        ):
            return line + "\r\n"
        return self.careful_line(cells)

    def careful_line(self, cells: Sequence[str]) -> str:
        out = [self.careful_cell(cell, i == _IDX_NUMERIC) for i, cell in enumerate(cells)]
        return self.delimiter.join(out) + "\r\n"

    def careful_cell(self, cell: str, numeric: bool = False) -> str:
        """One cell as :meth:`careful_line` writes it; a line is always the join of these (the quick
        path in :meth:`line` is only taken when no cell would change)."""
        force = False
        if cell and cell[0] in _GUARD_CHARS and not numeric and _NUMBER.match(cell) is None:
            cell = "'" + cell
            force = True
        d = self.delimiter
        if force or d in cell or '"' in cell or "\n" in cell or "\r" in cell:
            cell = '"' + cell.replace('"', '""') + '"'
        return cell


def _is_text_stream(out: IO[Any]) -> bool:
    if isinstance(out, io.TextIOBase):
        return True
    if isinstance(out, (io.RawIOBase, io.BufferedIOBase)):
        return False
    return hasattr(out, "encoding")


def _write_rows(
    rows: Iterable[ResultRowLike],
    write: Callable[[str], object],
    options: CsvOptions,
    progress: Callable[[int], None] | None,
    cancel: Callable[[], bool] | None,
) -> int:
    fmt = _Formatter(options)
    header = options.delimiter.join(options.columns) + "\r\n"
    write(("\ufeff" if options.bom else "") + header)
    count = 0
    buffer: list[str] = []
    line = fmt.line
    for row in rows:
        buffer.append(line(row))
        if len(buffer) >= _CHUNK_ROWS:
            if cancel is not None and cancel():
                raise ExportCancelled(f"CSV export cancelled after {count} rows; nothing was saved")
            write("".join(buffer))
            count += len(buffer)
            buffer.clear()
            if progress is not None:
                progress(count)
    if cancel is not None and cancel():
        raise ExportCancelled(f"CSV export cancelled after {count} rows; nothing was saved")
    if buffer:
        write("".join(buffer))
        count += len(buffer)
    if progress is not None:
        progress(count)
    return count


def write_csv(
    rows: Iterable[ResultRowLike],
    out: IO[str] | IO[bytes] | Path | str,
    options: CsvOptions = CsvOptions(),
    progress: Callable[[int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> int:
    """Write ``rows`` as CSV; return how many data rows were written.

    For a path the file appears only when complete (temp file + atomic rename), so a
    cancellation (:class:`ExportCancelled`) or error leaves no partial file. For a stream the
    caller owns the stream, and what was written before a cancellation stays written.
    ``progress`` receives the running row count every few thousand rows and at the end.
    """
    if isinstance(out, (str, Path)):
        with atomic_write(Path(out)) as handle:
            return _write_rows(rows, lambda s: handle.write(s.encode("utf-8")), options, progress, cancel)
    if _is_text_stream(out):
        text_out: IO[str] = out  # type: ignore[assignment]
        return _write_rows(rows, text_out.write, options, progress, cancel)
    binary_out: IO[bytes] = out  # type: ignore[assignment]
    return _write_rows(rows, lambda s: binary_out.write(s.encode("utf-8")), options, progress, cancel)
