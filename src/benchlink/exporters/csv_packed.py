"""CSV from rows packed by the database: the same bytes as :func:`write_csv`, for large exports.

:func:`write_csv` gets one object per result with one attribute per cell. From a store that holds
a million results, building those objects costs more than formatting them. Here the store hands
over plain tuples in the shape :func:`packed_layout` asks for: ``(id, head, numeric_value, mid,
observed_at, received_at, message_id, *extra columns)``, where ``head`` is the first seven text
cells and ``mid`` the five after the number, each already joined by the delimiter, and timestamps
are the stored values.

Why the bytes cannot drift from :func:`write_csv`: every decision goes through the same
:class:`~benchlink.exporters.csv_export._Formatter`. A stored timestamp becomes text through the
store's own decoder and ``_Formatter.timestamp`` (cached on the stored text); the quick line test
is the writer's own; a line that fails it is split back into its cells (possible exactly when no
cell holds the delimiter, a quote, CR or LF) and goes through ``careful_line``; anything else - a
row the database could not pack, a cell with a delimiter or a line break - is fetched whole through
``full_rows`` and formatted by ``_Formatter.line`` itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from benchlink.exporters.atomic import atomic_write
from benchlink.exporters.csv_export import _GUARD_CHARS, CSV_COLUMNS, CsvOptions, _Formatter, comma_decimal
from benchlink.exporters.errors import ExportCancelled
from benchlink.exporters.rows import ResultRowLike

#: Text cells the database joins: before the number, and between the number and the timestamps.
HEAD_COLUMNS: Final = CSV_COLUMNS[: CSV_COLUMNS.index("numeric_value")]
MID_COLUMNS: Final = CSV_COLUMNS[CSV_COLUMNS.index("numeric_value") + 1 : CSV_COLUMNS.index("observed_at")]
_CACHE_LIMIT: Final = 4096  # distinct stored values remembered per column


def packed_layout(options: CsvOptions) -> tuple[str | tuple[str, ...], ...]:
    """What each packed tuple holds after the id: a column, or a run of columns joined by the
    delimiter (the store returns ``None`` for a run it could not join as text)."""
    return (HEAD_COLUMNS, "numeric_value", MID_COLUMNS, "observed_at", "received_at", "message_id",
            *options.extra_columns)


#: How SQLAlchemy stores DateTime on SQLite; minutes and seconds are range-checked here, the date
#: and hour by converting the hour's first microsecond (which raises as the decoder would).
_CANONICAL_STAMP: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-5][0-9]:[0-5][0-9]\.[0-9]{6}")
_FLOAT_CHARS: Final = frozenset("0123456789.+-einfa")  # every character repr(float) can produce
_INT_CHARS: Final = frozenset("0123456789-")


class _Cells:
    """Stored value -> finished CSV cell (quoted/guarded as ``careful_cell`` decides), remembered
    for the last few thousand distinct stored values: consecutive results share timestamps."""

    def __init__(self, convert: Callable[[Any], str]) -> None:
        self.convert = convert
        self.texts: dict[Any, str] = {}

    def __call__(self, stored: Any) -> str:
        text = self.convert(stored)
        if len(self.texts) >= _CACHE_LIMIT:
            self.texts.clear()
        self.texts[stored] = text
        return text


class _StampConverter:
    """Stored timestamp -> CSV cell, exactly as decoding it and ``_Formatter.stamp_text`` would.

    Datetime arithmetic is the slow part of a big export (several microseconds per distinct value
    here). Timestamps are stored as canonical text ``YYYY-MM-DD HH:MM:SS.ffffff``, and within one
    hour of wall time the decoded value keeps its wall time and gets one offset: so each hour is
    converted exactly at its first and last microsecond, and when both keep their wall time and
    share an offset, the values inside are written by string work from the stored text. An hour
    where they differ (a DST change, or a decoder that moves wall time) goes value by value
    through the exact path. The one assumption is that a zone does not change offset twice
    within one hour and back again, which no time zone rule does.
    """

    def __init__(self, fmt: _Formatter, decode: Callable[[Any], Any] | None) -> None:
        self.fmt = fmt
        self.decode = decode
        self.offsets: dict[str, str | None] = {}  # "YYYY-MM-DD HH" -> offset text, None: irregular

    def exact(self, stored: Any) -> str:
        value = stored if self.decode is None else self.decode(stored)
        text = self.fmt.stamp_text(value) if isinstance(value, datetime) else self.fmt.generic(value)
        return self.fmt.careful_cell(text)

    def hour_offset(self, hour: str) -> str | None:
        wall = hour[:10] + "T" + hour[11:13]
        first = self.exact(hour + ":00:00.000000")
        last = self.exact(hour + ":59:59.999999")
        start, end = wall + ":00:00", wall + ":59:59.999999"
        regular = first.startswith(start) and last.startswith(end) and first[len(start):] == last[len(end):]
        offset = first[len(start):] if regular else None
        if len(self.offsets) >= _CACHE_LIMIT:
            self.offsets.clear()
        self.offsets[hour] = offset
        return offset

    def __call__(self, stored: Any) -> str:
        if type(stored) is str and _CANONICAL_STAMP.fullmatch(stored) is not None:
            hour = stored[:13]
            offset = self.offsets[hour] if hour in self.offsets else self.hour_offset(hour)
            if offset is not None:
                frac = "" if stored.endswith(".000000") else stored[19:]
                text = stored[:10] + "T" + stored[11:19] + frac + offset
                return self.fmt.careful_cell(text) if self.fmt.delimiter in text else text
        return self.exact(stored)


class _PackedWriter:
    """Formats packed batches. Each cell is written as :meth:`_Formatter.careful_cell` would write
    it, which is what :meth:`_Formatter.line` produces (its quick path only skips cells that
    ``careful_cell`` leaves alone); the checks are just arranged to run per batch or per distinct
    value rather than per cell."""

    def __init__(
        self,
        options: CsvOptions,
        decoders: Mapping[str, Callable[[Any], Any] | None],
        full_rows: Callable[[Sequence[int]], Mapping[int, ResultRowLike]],
    ) -> None:
        self.fmt = fmt = _Formatter(options)
        self.options = options
        self.full_rows = full_rows
        d = fmt.delimiter
        self.guard_after_delimiter = re.compile(re.escape(d) + "[" + re.escape(_GUARD_CHARS) + "]")
        self.observed = _Cells(self._stamp_converter(decoders.get("observed_at")))
        self.received = _Cells(self._stamp_converter(decoders.get("received_at")))
        self.mids = _Cells(lambda run: self._run_cells(run, len(MID_COLUMNS)) or "")
        number_chars = _FLOAT_CHARS | {","} if options.decimal_comma else _FLOAT_CHARS
        self.number_may_hold_delimiter = d in number_chars
        self.int_may_hold_delimiter = d in _INT_CHARS
        self.extras = [self._extra_converter(decoders.get(name)) for name in options.extra_columns]

    def _stamp_converter(self, decode: Callable[[Any], Any] | None) -> Callable[[Any], str]:
        return _StampConverter(self.fmt, decode)

    def _extra_converter(self, decode: Callable[[Any], Any] | None) -> Callable[[Any], str]:
        fmt = self.fmt
        if decode is None:
            return lambda stored: fmt.careful_cell(fmt.generic(stored))
        cells = _Cells(lambda stored: fmt.careful_cell(fmt.generic(decode(stored))))
        texts = cells.texts
        return lambda stored: texts.get(stored) or cells(stored)

    def _run_cells(self, run: str, width: int) -> str | None:
        """A run of ``width`` joined text cells as careful cells; None when a cell holds the
        delimiter (the run cannot be split back into its cells)."""
        d = self.fmt.delimiter
        if run.count(d) != width - 1:
            return None
        careful = self.fmt.careful_cell
        return d.join([careful(cell) for cell in run.split(d)])

    def _heads_unchanged(self, heads: list[str]) -> bool:
        """Whether ``careful_cell`` leaves every cell of every head as it is (one scan per batch)."""
        fmt = self.fmt
        d = fmt.delimiter
        blob = d.join(heads)
        return (
            '"' not in blob
            and "\n" not in blob
            and "\r" not in blob
            and blob.count(d) == len(heads) * len(HEAD_COLUMNS) - 1
            and blob[:1] not in fmt.guard_first
            and self.guard_after_delimiter.search(blob) is None
        )

    def _fix_heads(self, rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Rows whose head needs quoting or guarding get their careful head (None: refetch)."""
        width = len(HEAD_COLUMNS)
        fixed: list[tuple[Any, ...]] = []
        for row in rows:
            head = row[1]
            if head is not None and not self._heads_unchanged([head]):
                row = (row[0], self._run_cells(head, width), *row[2:])
            fixed.append(row)
        return fixed

    def _comma_values(self, rows: Sequence[tuple[Any, ...]]) -> Sequence[tuple[Any, ...]]:
        """Rows whose ``value`` (the head's last cell) gets a decimal comma, as ``_Formatter`` writes it.

        The stored text is converted *before* any quoting or guarding, as the writer does. Only a head
        that splits into exactly its cells is touched; any other is refetched whole later, and a comma
        that is also the delimiter makes the head unsplittable, so that row is refetched too.
        """
        d = self.fmt.delimiter
        separators = len(HEAD_COLUMNS) - 1
        out: list[tuple[Any, ...]] = []
        for row in rows:
            head = row[1]
            if head is not None and "." in head:
                start, sep, value = head.rpartition(d)
                converted = comma_decimal(value)
                if converted != value and head.count(d) == separators:
                    row = (row[0], start + sep + converted, *row[2:])
            out.append(row)
        return out

    def lines(self, rows: Sequence[tuple[Any, ...]]) -> list[str]:
        """The CSV lines of one batch, in order."""
        if self.options.decimal_comma:
            rows = self._comma_values(rows)
        heads = [row[1] for row in rows]
        if None in heads or not self._heads_unchanged(heads):
            rows = self._fix_heads(rows)
        fmt = self.fmt
        d = fmt.delimiter
        careful = fmt.careful_cell
        comma = self.options.decimal_comma
        number_check = self.number_may_hold_delimiter
        int_check = self.int_may_hold_delimiter
        obs_texts, obs_miss = self.observed.texts, self.observed
        rec_texts, rec_miss = self.received.texts, self.received
        mid_texts, mid_miss = self.mids.texts, self.mids
        extras = self.extras
        out: list[str] = []
        append = out.append
        refetch: list[tuple[int, int]] = []  # (position in out, result id)
        seven = rows if not extras else (row[:7] for row in rows)
        extra_rows = iter(rows) if extras else None
        for rid, head, number, mid, obs, rec, message in seven:
            extra_row = next(extra_rows) if extra_rows is not None else None
            if head is None or mid is None or not (mid := mid_texts.get(mid) or mid_miss(mid)):
                refetch.append((len(out), rid))
                append("")
                continue
            if number is None:
                number = ""
            elif type(number) is float:
                number = repr(number)
                if comma:
                    number = number.replace(".", ",")
                if number_check and d in number:
                    number = careful(number, True)
            else:  # not what a REAL column holds; written exactly as _Formatter does
                number = repr(number)
                number = careful(number.replace(".", ",") if comma else number, True)
            obs = "" if obs is None else obs_texts.get(obs) or obs_miss(obs)
            rec = "" if rec is None else rec_texts.get(rec) or rec_miss(rec)
            if message is None:
                message = ""
            elif type(message) is not int or int_check:
                message = careful(str(message))
            if extra_row is not None:
                tail = d.join([convert(value) for convert, value in zip(extras, extra_row[7:], strict=True)])
                append(f"{head}{d}{number}{d}{mid}{d}{obs}{d}{rec}{d}{message}{d}{tail}\r\n")
            else:
                append(f"{head}{d}{number}{d}{mid}{d}{obs}{d}{rec}{d}{message}\r\n")
        if refetch:
            whole = self.full_rows([rid for _, rid in refetch])
            for position, rid in refetch:
                out[position] = fmt.line(whole[rid])
        return out


def write_csv_packed(
    batches: Iterable[Sequence[tuple[Any, ...]]],
    out: Path | str,
    options: CsvOptions,
    *,
    decoders: Mapping[str, Callable[[Any], Any] | None],
    full_rows: Callable[[Sequence[int]], Mapping[int, ResultRowLike]],
    progress: Callable[[int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    before_replace: Callable[[], None] | None = None,
) -> int:
    """Write packed batches (see :func:`packed_layout`) as CSV at ``out``; return the row count.

    Same file as :func:`~benchlink.exporters.csv_export.write_csv` for the same rows and options,
    written atomically: :class:`ExportCancelled` or any error leaves no file. ``before_replace``
    runs after the last row is written and before the file is put in place; if it raises, the
    file is abandoned too. ``decoders`` turn stored column values into what the row objects of
    ``full_rows`` would hold (``None``: as stored).
    """
    writer = _PackedWriter(options, decoders, full_rows)
    header = ("\ufeff" if options.bom else "") + options.delimiter.join(options.columns) + "\r\n"
    count = 0
    with atomic_write(Path(out)) as handle:
        handle.write(header.encode("utf-8"))
        for rows in batches:
            if cancel is not None and cancel():
                raise ExportCancelled(f"CSV export cancelled after {count} rows; nothing was saved")
            handle.write("".join(writer.lines(rows)).encode("utf-8"))
            count += len(rows)
            if progress is not None:
                progress(count)
        if cancel is not None and cancel():
            raise ExportCancelled(f"CSV export cancelled after {count} rows; nothing was saved")
        if progress is not None and count == 0:
            progress(0)
        if before_replace is not None:
            before_replace()
    return count
