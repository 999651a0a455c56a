"""`benchlink audit list|verify`, `export`, `results` and `decode` as an operator meets them: what they
print, and that a mistake the operator can fix is one line and an exit status, never a traceback."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.e2e.test_export_cli import seed
from tests.helpers import SENTINEL_LAST, SENTINEL_NAME, benchlink, cli_env

from benchlink.core.model import Result
from benchlink.core.values import parse_numeric
from benchlink.exporters.csv_export import SEMICOLON, CsvOptions, write_csv
from benchlink.exporters.errors import ExportError
from benchlink.protocols.astm.frames import build_frames
from benchlink.runtime.bootstrap import open_store
from benchlink.runtime.export_job import ExportRequest, run_export
from benchlink.runtime.settings import load_settings
from benchlink.runtime.simulator import build_message
from benchlink.storage.database import open_engine
from benchlink.storage.store import InboundMessage, ResultFilter, Store

TOKENS = {0x02: "STX", 0x03: "ETX", 0x04: "EOT", 0x05: "ENQ", 0x06: "ACK", 0x17: "ETB", 0x0D: "CR", 0x0A: "LF"}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A workstation home holding 8 results of 2 samples and the audit entries of that setup."""
    path = tmp_path / "home"
    path.mkdir()
    seed(path, range(1, 3))
    return path


def _store(home: Path) -> Store:
    return open_store(load_settings(home=home, environ=cli_env(home)))


def _unexported(home: Path) -> int:
    store = _store(home)
    try:
        return store.count_results(ResultFilter(exported=False))
    finally:
        store.engine.dispose()


def _table(stdout: str) -> list[str]:
    """Data lines of `audit list` (the first line is the heading)."""
    lines = stdout.splitlines()
    assert lines and lines[0].split()[:3] == ["entry", "time", "actor"], stdout
    return lines[1:]


# ------------------------------------------------------------------------------------------- audit


def test_audit_list_prints_entries_oldest_first_without_their_values(home: Path) -> None:
    benchlink(home, "export", "csv", "--out", str(home / "a.csv"))  # creates the admin user, then exports
    store = _store(home)
    try:
        store.audit().append("mallory\x1b[2J", "device.edit", "device:chem", {"host": "10.0.0.9"},
                             {"note": SENTINEL_NAME})
    finally:
        store.engine.dispose()
    listed = benchlink(home, "audit", "list")
    rows = _table(listed.stdout)
    assert "verified" not in listed.stdout
    first = rows[0].split()  # entry, date, time, UTC offset, actor, action, target
    assert first[0] == "1" and first[4:6] == ["admin", "user.add"]
    assert any(" export " in row and str(home / "a.csv") in row for row in rows)
    # The newest is last: the listing's own sign-in (audit.view is a supervisor's right), after the edit.
    assert rows[-1].split()[4:7] == ["admin", "auth.login", "user:admin"]
    assert " device.edit " in rows[-2] and rows[-2].endswith("device:chem")
    assert [int(row.split()[0]) for row in rows] == sorted(int(row.split()[0]) for row in rows)
    assert "mallory\\x1b[2J" in rows[-2] and "\x1b" not in listed.stdout  # no terminal control from a name
    assert SENTINEL_LAST not in listed.stdout + listed.stderr and "10.0.0.9" not in listed.stdout
    verified = benchlink(home, "audit", "verify")
    assert f"{len(rows)} entries verified" in verified.stdout


def test_audit_list_limit_shows_the_newest_and_says_older_ones_exist(home: Path) -> None:
    benchlink(home, "export", "csv", "--out", str(home / "a.csv"))  # user.add, export
    benchlink(home, "export", "csv", "--out", str(home / "b.csv"))  # auth.login, export
    everything = _table(benchlink(home, "audit", "list").stdout)
    assert len(everything) >= 3, everything
    two = _table(benchlink(home, "audit", "list", "--limit", "2").stdout)
    # The newest two: the end of the first listing, then this listing's own sign-in.
    assert two[0] == everything[-1], (two, everything)
    assert int(two[1].split()[0]) == int(two[0].split()[0]) + 1 and " auth.login " in two[1]
    assert "older entries not shown" in benchlink(home, "audit", "list", "--limit", "1").stderr
    assert "older entries" not in benchlink(home, "audit", "list", "--limit", "500").stderr


# ------------------------------------------------------------------------------------ usage errors


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (("results", "--limit", "0"), "argument --limit: must be 1 or more, got 0"),
        (("results", "--limit", "-1"), "argument --limit: must be 1 or more, got -1"),
        (("results", "--limit", "many"), "argument --limit: 'many' is not a whole number"),
        (("audit", "list", "--limit", "0"), "argument --limit: must be 1 or more, got 0"),
        (("export", "csv", "--out", "x.csv", "--delimiter", "ab"), "argument --delimiter: CSV delimiter 'ab'"),
    ],
    ids=["limit-0", "limit-negative", "limit-text", "audit-limit-0", "delimiter-two-chars"],
)
def test_bad_option_values_are_usage_errors(tmp_path: Path, args: tuple[str, ...], wanted: str) -> None:
    proc = benchlink(tmp_path / "home", *args, check=False)
    assert proc.returncode == 2, proc.stderr
    assert wanted in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"benchlink {args[0]}: error: ")


def test_delimiter_tab_by_name(home: Path) -> None:
    out = home / "tab.csv"
    benchlink(home, "export", "csv", "--out", str(out), "--delimiter", "tab")
    assert out.read_text(encoding="utf-8").startswith("sample_id\tpatient_id\tdevice\t")


# ----------------------------------------------------------------------------- export destinations


def _leftovers(*folders: Path) -> list[Path]:
    return [p for folder in folders if folder.is_dir() for p in folder.glob(".*.tmp")]


def _destinations(home: Path) -> dict[str, tuple[Path, str]]:
    """Unusable --out values and the words the error must contain."""
    (home / "afile.csv").write_text("x", encoding="utf-8")
    (home / "adir").mkdir()
    return {
        "existing-folder": (home / "adir", "it is a folder; name a file inside it"),
        "parent-is-a-file": (home / "afile.csv" / "x.csv", "is a file, not a folder; choose another --out"),
        "unwritable-place": (Path("/proc/x.csv"), "the folder /proc does not accept new files"),
    }


@pytest.mark.parametrize("case", ["existing-folder", "parent-is-a-file", "unwritable-place"])
def test_unusable_out_is_one_line_and_marks_nothing(home: Path, case: str) -> None:
    if case == "unwritable-place" and not Path("/proc/self").is_dir():
        pytest.skip("needs Linux /proc, a folder that refuses new files even for root")
    out, words = _destinations(home)[case]
    before = _unexported(home)
    proc = benchlink(home, "export", "csv", "--out", str(out), check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if not line.startswith("benchlink: first start")]
    assert len(lines) == 1 and lines[0].startswith(f"benchlink export: cannot write {out}"), proc.stderr
    assert words in lines[0] and ".tmp" not in proc.stderr and "Traceback" not in proc.stderr
    assert _leftovers(home, out.parent) == []
    assert _unexported(home) == before == 8


def test_missing_out_folder_is_created_like_db_backup(home: Path) -> None:
    out = home / "exports" / "2026" / "x.csv"
    proc = benchlink(home, "export", "csv", "--out", str(out))
    assert f"exported 8 results to {out}" in proc.stdout
    assert out.read_text(encoding="utf-8").startswith("sample_id,")
    assert _leftovers(out.parent) == []


def test_writer_names_the_destination_not_its_temp_file(tmp_path: Path) -> None:
    """The GUI and the watched-folder hand-off call the writer directly and show its message."""
    out = tmp_path / "gone" / "x.csv"
    with pytest.raises(ExportError) as caught:
        write_csv([], out)
    assert str(caught.value) == (f"cannot write {out}: the folder {out.parent} does not exist; "
                                 "create it or choose another place")
    with pytest.raises(ExportError, match="it is a folder"):
        write_csv([], tmp_path)
    assert _leftovers(tmp_path) == []


# ---------------------------------------------------------------------------------------- decode


def _capture(path: Path, *, corrupt_frame: int | None) -> Path:
    """Two real simulator messages as raw frames (ENQ ... EOT), optionally one checksum broken."""
    frames: list[bytes] = []
    for index in (1, 2):
        _, text = build_message(index, seed=3, patient_name=SENTINEL_NAME)
        frames += build_frames(text, max_text=60)
    if corrupt_frame is not None:
        frame = frames[corrupt_frame - 1]
        wrong = b"00" if frame[-4:-2] != b"00" else b"01"
        frames[corrupt_frame - 1] = frame[:-4] + wrong + frame[-2:]
    path.write_bytes(b"\x05" + b"\x06".join(frames) + b"\x04")
    return path


def _as_serial_log(raw: Path, path: Path) -> Path:
    """The same bytes as a serial-monitor log writes them: control bytes as [STX]-style tokens."""
    text = "".join(f"[{TOKENS[b]}]" if b in TOKENS else chr(b) for b in raw.read_bytes())
    path.write_text(text.replace("[LF]", "[LF]\n"), encoding="latin-1")
    return path


def test_decode_reports_a_bad_checksum_and_exits_1(tmp_path: Path) -> None:
    capture = _capture(tmp_path / "bad.astm", corrupt_frame=3)
    frame = capture.read_bytes().split(b"\x02")[3]  # FN text ETB|ETX checksum CR LF
    end = min(i for i in (frame.find(b"\x03"), frame.find(b"\x17")) if i >= 0)
    computed = "%02X" % (sum(frame[: end + 1]) & 0xFF)
    proc = benchlink(tmp_path / "home", "decode", str(capture), check=False)
    assert proc.returncode == 1, proc.stderr
    assert f"bad.astm: frame 3 (frame number 3): checksum sent 00, computed {computed}" in proc.stderr
    assert "bad.astm: 1 of " in proc.stderr and "frame checksum(s) did not verify" in proc.stderr
    assert "--- message 2" in proc.stdout  # what could be read is still shown
    assert SENTINEL_LAST not in proc.stderr


def test_decode_of_a_clean_capture_exits_0_without_checksum_lines(tmp_path: Path) -> None:
    proc = benchlink(tmp_path / "home", "decode", str(_capture(tmp_path / "ok.astm", corrupt_frame=None)))
    assert "checksum" not in proc.stderr and "--- message 2" in proc.stdout


def test_decode_reports_a_bad_checksum_in_a_serial_monitor_log(tmp_path: Path) -> None:
    log = _as_serial_log(_capture(tmp_path / "bad.astm", corrupt_frame=5), tmp_path / "bad.log")
    proc = benchlink(tmp_path / "home", "decode", str(log), check=False)
    assert proc.returncode == 1, proc.stderr
    assert "bad.log: frame 5 checksum 00 does not match" in proc.stderr
    assert SENTINEL_LAST not in proc.stderr


def test_decode_help_documents_exit_status_1(tmp_path: Path) -> None:
    shown = " ".join(benchlink(tmp_path / "home", "decode", "--help").stdout.split())
    assert "Exit status 1 when any frame checksum failed or a message could not be decoded" in shown


# ------------------------------------------------------------------------------------ decimal comma


def _cells(path: Path, delimiter: str) -> list[dict[str, str]]:
    text = path.read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


def test_semicolon_export_writes_value_and_numeric_value_with_a_decimal_comma(home: Path) -> None:
    out = home / "excel.csv"
    benchlink(home, "export", "csv", "--out", str(out), "--semicolon")
    rows = _cells(out, ";")
    decimals = [r for r in rows if "," in r["numeric_value"] and not r["numeric_value"].endswith(",0")]
    assert decimals, "the seeded results hold decimals"
    for row in rows:
        assert "." not in row["value"] and "." not in row["numeric_value"], row
        assert float(row["value"].replace(",", ".")) == float(row["numeric_value"].replace(",", "."))
    store = _store(home)
    try:  # the GUI's "CSV for Excel" goes through write_csv: it must write the very same file
        write_csv(store.iter_results(ResultFilter()), home / "gui.csv", SEMICOLON)
    finally:
        store.engine.dispose()
    assert (home / "gui.csv").read_bytes() == out.read_bytes()


AWKWARD_NUMBERS = ["1.5", "-1.5", "+1.5", " 1.5", "<0.5", ">=2.25", "=1.5", "\t1.5", "-1.5 ", "1.5e3", "1,5",
                   "Positive", "***.**", "1.2.3", "a,1.5", "a;1.5", '1.5"', "", "7"]


@pytest.mark.parametrize(
    "options",
    [SEMICOLON, CsvOptions(delimiter=",", decimal_comma=True), CsvOptions(delimiter="-", decimal_comma=True)],
    ids=["semicolon", "comma-delimiter", "dash-delimiter"],
)
def test_database_packed_csv_matches_the_row_writer_under_decimal_comma(tmp_path: Path, options: CsvOptions) -> None:
    """`benchlink export` on SQLite packs rows in the database; the GUI formats row objects. A value is
    converted before it is quoted or guarded in both, whatever the delimiter."""
    engine = open_engine(None, path=tmp_path / "x.db", key=bytes(range(32)))
    try:
        store = Store(engine)
        store.migrate()
        results = tuple(Result(sample_id=f"S{i}", instrument_code="GLU", value=v, numeric_value=parse_numeric(v)[0],
                               status="F") for i, v in enumerate(AWKWARD_NUMBERS))
        store.commit_inbound([InboundMessage(device="dev", protocol="astm", data=b"m", results=results,
                                             received_at=datetime(2025, 1, 1, tzinfo=UTC))])
        write_csv(store.iter_results(ResultFilter()), tmp_path / "rows.csv", options)
        assert store.supports_bulk_export
        run_export(store, ExportRequest(format="csv", out=tmp_path / "packed.csv", csv=options))
    finally:
        engine.dispose()
    packed = (tmp_path / "packed.csv").read_bytes()
    assert packed == (tmp_path / "rows.csv").read_bytes()
    values = [r["value"] for r in _cells(tmp_path / "packed.csv", options.delimiter)]
    assert values[:8] == ["1,5", "-1,5", "+1,5", " 1,5", "<0,5", ">=2,25", "'=1,5", "'\t1,5"]
    assert values[11:17] == ["Positive", "***.**", "1.2.3", "a,1.5", "a;1.5", '1.5"']



def test_audit_list_is_a_supervisors_view(home: Path) -> None:
    import subprocess
    import sys

    assert benchlink(home, "audit", "list").returncode == 0  # the admin (created on first use) may
    env = {**cli_env(home), "BENCHLINK_NEW_PASSWORD": "operator-pass-12345"}
    subprocess.run([sys.executable, "-m", "benchlink", "users", "add", "olga", "--role", "operator"], env=env,
                   check=True, capture_output=True, timeout=60)
    as_operator = {**cli_env(home), "BENCHLINK_USER": "olga", "BENCHLINK_PASSWORD": "operator-pass-12345"}
    refused = subprocess.run([sys.executable, "-m", "benchlink", "audit", "list"], env=as_operator,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 4 and "audit.view" in refused.stderr, refused.stderr
    assert refused.stdout == ""
