from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from benchlink.exporters.csv_export import CSV_COLUMNS, SEMICOLON, CsvOptions, write_csv
from benchlink.exporters.errors import ExportCancelled


def render(rows: list[Any], options: CsvOptions = CsvOptions()) -> str:
    out = io.StringIO(newline="")
    write_csv(rows, out, options)
    return out.getvalue()


def parse(text: str, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=delimiter))


def test_columns_exact_order_and_values(make_row: Callable[..., Any]) -> None:
    text = render([make_row()])
    header, row = parse(text)
    assert tuple(header) == CSV_COLUMNS
    record = dict(zip(header, row, strict=True))
    assert record["sample_id"] == "S1" and record["value"] == "5.50" and record["numeric_value"] == "5.5"
    assert record["observed_at"] == "2024-03-01T09:30:00+01:00"
    assert record["received_at"] == "2024-03-01T09:31:05+00:00"
    assert record["message_id"] == "10"


def test_crlf_line_ends_and_no_bom_by_default(make_row: Callable[..., Any]) -> None:
    text = render([make_row(), make_row(sample_id="S2")])
    assert text.count("\r\n") == 3 and "\n" not in text.replace("\r\n", "")
    assert not text.startswith("\ufeff")


def test_bom_option(make_row: Callable[..., Any], tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_csv([make_row()], path, CsvOptions(bom=True))
    assert path.read_bytes().startswith(b"\xef\xbb\xbfsample_id,")


def test_rfc4180_quoting(make_row: Callable[..., Any]) -> None:
    tricky = 'a "quoted", multi\nline'
    text = render([make_row(test_name=tricky, units="mg,dL")])
    assert '"a ""quoted"", multi\nline"' in text and '"mg,dL"' in text
    (_, row) = parse(text)
    assert row[CSV_COLUMNS.index("test_name")] == tricky
    assert row[CSV_COLUMNS.index("units")] == "mg,dL"


def test_semicolon_preset_uses_decimal_comma_and_bom(make_row: Callable[..., Any]) -> None:
    text = render([make_row(numeric_value=5.5, value="5,5", units="a;b")], SEMICOLON)
    assert text.startswith("\ufeffsample_id;patient_id;")
    header, row = parse(text, ";")
    assert row[header.index("numeric_value")] == "5,5"
    assert row[header.index("value")] == "5,5" and row[header.index("units")] == "a;b"


@pytest.mark.parametrize(
    "payload", ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\tTAB", "\rCR", "=HYPERLINK(\"x\")"]
)
def test_formula_injection_guarded(make_row: Callable[..., Any], payload: str) -> None:
    text = render([make_row(value=payload, numeric_value=None, test_name=payload)])
    quoted = '"\'' + payload.replace('"', '""') + '"'
    assert text.count(quoted) == 2
    (_, row) = parse(text)
    assert row[CSV_COLUMNS.index("value")] == "'" + payload


@pytest.mark.parametrize(("value", "number"), [("-1.5", -1.5), ("+3", 3.0), ("-0,5", -0.5), ("1e-3", 0.001)])
def test_genuine_numbers_left_alone(make_row: Callable[..., Any], value: str, number: float) -> None:
    text = render([make_row(value=value, numeric_value=number)])
    (_, row) = parse(text)
    assert row[CSV_COLUMNS.index("value")] == value
    assert row[CSV_COLUMNS.index("numeric_value")] == repr(number)
    assert "'" not in text


def test_naive_timestamps_get_an_offset(make_row: Callable[..., Any]) -> None:
    plus2 = timezone(timedelta(hours=2))
    text = render([make_row(observed_at=datetime(2024, 5, 1, 8, 0))], CsvOptions(naive_timezone=plus2))
    assert "2024-05-01T08:00:00+02:00" in text
    local = render([make_row(observed_at=datetime(2024, 5, 1, 8, 0))])
    (_, row) = parse(local)
    stamp = row[CSV_COLUMNS.index("observed_at")]
    assert datetime.fromisoformat(stamp).utcoffset() is not None


def test_same_instant_in_two_zones_keeps_each_offset(make_row: Callable[..., Any]) -> None:
    utc = datetime(2024, 1, 1, 12, tzinfo=UTC)
    cet = utc.astimezone(timezone(timedelta(hours=1)))
    text = render([make_row(observed_at=utc), make_row(observed_at=cet)])
    assert "2024-01-01T12:00:00+00:00" in text and "2024-01-01T13:00:00+01:00" in text


def test_missing_values_are_empty_cells(make_row: Callable[..., Any]) -> None:
    (_, row) = parse(render([make_row(numeric_value=None, observed_at=None, message_id=None)]))
    assert [row[CSV_COLUMNS.index(c)] for c in ("numeric_value", "observed_at", "message_id")] == ["", "", ""]


def test_extra_columns_come_after(make_row: Callable[..., Any]) -> None:
    options = CsvOptions(extra_columns=("patient_name", "kind", "exported_at"))
    header, row = parse(render([make_row()], options))
    assert tuple(header[: len(CSV_COLUMNS)]) == CSV_COLUMNS
    assert header[len(CSV_COLUMNS) :] == ["patient_name", "kind", "exported_at"]
    assert row[len(CSV_COLUMNS) :] == ["Doe^Jane", "patient", ""]


def test_bad_options_rejected() -> None:
    with pytest.raises(ValueError, match="delimiter"):
        CsvOptions(delimiter='"')
    with pytest.raises(ValueError, match="extra CSV column"):
        CsvOptions(extra_columns=("password",))


def test_binary_stream_gets_utf8(make_row: Callable[..., Any]) -> None:
    out = io.BytesIO()
    assert write_csv([make_row(test_name="Hämoglobin")], out) == 1
    assert "Hämoglobin".encode() in out.getvalue()


def _many(make_row: Callable[..., Any], n: int) -> Iterator[Any]:
    row = make_row()
    for _ in range(n):
        yield row


def test_cancellation_leaves_no_partial_file(make_row: Callable[..., Any], tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    seen: list[int] = []

    def cancel() -> bool:
        return bool(seen) and seen[-1] >= 8192

    with pytest.raises(ExportCancelled, match="nothing was saved"):
        write_csv(_many(make_row, 50_000), path, progress=seen.append, cancel=cancel)
    assert seen and not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_cancellation_keeps_previous_file(make_row: Callable[..., Any], tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("previous")
    with pytest.raises(ExportCancelled):
        write_csv(_many(make_row, 10), path, cancel=lambda: True)
    assert path.read_text() == "previous"


def test_progress_and_count(make_row: Callable[..., Any], tmp_path: Path) -> None:
    seen: list[int] = []
    assert write_csv(_many(make_row, 20_000), tmp_path / "x.csv", progress=seen.append) == 20_000
    assert seen[-1] == 20_000 and seen == sorted(seen)
    assert len((tmp_path / "x.csv").read_bytes().split(b"\r\n")) == 20_002
