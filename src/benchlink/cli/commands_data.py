"""Commands that read or move stored data: results, export, decode, audit, plugins."""

from __future__ import annotations

import argparse
import json
import string
import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchlink.cli.errors import EXIT_USAGE, friendly
from benchlink.runtime.settings import Settings

if TYPE_CHECKING:
    from benchlink.storage.audit import AuditLog

Common = Callable[[argparse.ArgumentParser], None]

#: How many failing frames ``decode`` lists one by one; a wrong baud rate fails every frame.
_MAX_FRAME_LINES = 20
#: What a shell user can type for TAB.
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t"}


def _iso_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date/time; write it as 2026-03-14, 2026-03-14T08:00 or 2026-03-14 08:00") from None


def _positive_int(text: str) -> int:
    """argparse type: a count of rows to show, so that 0 or -1 is a usage error, not a traceback."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; give 1 or more") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {number}")
    return number


def _delimiter(text: str) -> str:
    """argparse type: the CSV options' own rule, checked while parsing so a bad one is a usage error.

    ``tab`` and a typed ``\\t`` mean TAB, which a shell makes awkward to pass literally.
    """
    from benchlink.exporters.csv_export import CsvOptions

    chosen = _DELIMITER_NAMES.get(text.lower(), text)
    try:
        CsvOptions(delimiter=chosen)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return chosen


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", help="only this device (its name in config.toml)")
    parser.add_argument("--sample", help="only this sample ID")
    parser.add_argument("--patient", help="only this patient ID")
    parser.add_argument("--test", help="only this test: lab code or instrument code")
    parser.add_argument("--since", type=_iso_time, help="from this date/time on, e.g. 2026-03-14 or 2026-03-14T08:00")
    parser.add_argument("--until", type=_iso_time, help="before this date/time, e.g. 2026-03-15")


def register(sub: Any, common: Common) -> None:
    results = sub.add_parser("results", help="print stored results, newest first")
    common(results)
    _filters(results)
    results.add_argument("--json", action="store_true", help="one JSON object per line")
    results.add_argument("--limit", type=_positive_int, default=50, help="show at most this many (default 50)")
    results.set_defaults(handler=cmd_results)

    export = sub.add_parser("export", help="export stored results to CSV or HL7 ORU^R01")
    common(export)
    export.add_argument("format", choices=["csv", "hl7"], help="file format")
    export.add_argument("--out", type=Path, required=True,
                        help="file to write; a missing folder is created, an existing file is replaced")
    _filters(export)
    export.add_argument("--new-only", action="store_true", help="only results not exported before")
    export.add_argument("--bom", action="store_true", help="CSV: write a UTF-8 BOM (Excel)")
    export.add_argument("--delimiter", type=_delimiter, default=",",
                        help="CSV: field delimiter, one character ('tab' for TAB)")
    export.add_argument("--semicolon", action="store_true",
                        help="CSV: ';' delimiter, decimal comma and BOM, for Excel in decimal-comma locales")
    export.add_argument("--batch", action="store_true", help="HL7: one batch file (FHS/BHS ... BTS/FTS)")
    export.set_defaults(handler=cmd_export)

    decode = sub.add_parser(
        "decode", help="decode a capture file and print its messages",
        description="Decode a capture file and print its messages. ASTM frames whose checksum does not "
        "verify are listed on stderr (frame position, number, checksum sent and computed). Exit status "
        "1 when any frame checksum failed or a message could not be decoded; the messages that could "
        "be read are still printed.")
    common(decode)
    decode.add_argument("file", type=Path, help="a capture: raw bytes, a serial-monitor log or HL7 text")
    decode.add_argument("--protocol", choices=["auto", "astm", "hl7"], default="auto",
                        help="auto picks ASTM or HL7 from the content (default)")
    decode.add_argument("--profile", help="decode with this driver instead of auto-detecting one")
    decode.add_argument("--encoding", default="", help="text encoding (default: latin-1 for ASTM, MSH-18 for HL7)")
    decode.add_argument("--json", action="store_true", help="one JSON object per decoded message")
    decode.set_defaults(handler=cmd_decode)

    audit = sub.add_parser("audit", help="inspect the tamper-evident audit trail")
    common(audit)
    audit.add_argument("action", choices=["verify", "list"],
                       help="verify: check the hash chain; list: time, actor, action and target of the newest "
                       "entries, oldest first")
    audit.add_argument("--limit", type=_positive_int, default=50,
                       help="list: how many of the newest entries to show (default 50)")
    audit.set_defaults(handler=cmd_audit)

    plugins = sub.add_parser("plugins", help="list plugins and drivers, with any load errors")
    common(plugins)
    plugins.set_defaults(handler=cmd_plugins)


def _result_filter(args: argparse.Namespace) -> Any:
    from benchlink.storage.store import ResultFilter

    return ResultFilter(since=args.since, until=args.until, device=args.device, sample_id=args.sample,
                        patient_id=args.patient, test=args.test)


def _store(settings: Settings) -> Any:
    from benchlink.runtime.bootstrap import open_store

    return open_store(settings)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def cmd_results(args: argparse.Namespace, settings: Settings) -> int:
    def run() -> int:
        store = _store(settings)
        rows = store.results_page(_result_filter(args), after=None, limit=args.limit)
        if args.json:
            for row in rows:
                print(json.dumps({k: _jsonable(v) for k, v in asdict(row).items()}, ensure_ascii=False))
            return 0
        if not rows:
            print("no results stored yet — start `benchlink serve` or `benchlink --demo`")
            return 0
        print(f"{'received':<19} {'device':<14} {'sample':<14} {'test':<8} {'value':>10} {'units':<8} flags")
        for r in rows:
            print(f"{r.received_at:%Y-%m-%d %H:%M:%S} {r.device:<14.14} {r.sample_id:<14.14} "
                  f"{r.instrument_code:<8.8} {r.value:>10.10} {r.units:<8.8} {r.flags}")
        return 0

    return int(friendly(run))


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from benchlink.cli.credentials import require
    from benchlink.core.auth import Permission
    from benchlink.exporters.csv_export import SEMICOLON, CsvOptions
    from benchlink.exporters.errors import ExportCancelled, ExportError
    from benchlink.runtime.export_job import ExportRequest, run_export, selected

    def run() -> int:
        store = _store(settings)
        actor = require(settings, store, Permission.EXPORT, user=getattr(args, "user", None))
        options = SEMICOLON if args.semicolon else CsvOptions(delimiter=args.delimiter, bom=args.bom)
        request = ExportRequest(format=args.format, out=args.out, filter=_result_filter(args), new_only=args.new_only,
                                csv=options, hl7_batch=args.batch, actor=actor.username)
        total = store.count_results(selected(store, request))
        if total == 0:
            print("nothing to export" + (" (no new results since the last export)" if args.new_only else ""))
            return 0
        _prepare_destination(args.out)
        cancelled = False
        with Progress(TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      transient=True, disable=not sys.stderr.isatty()) as bar:
            task = bar.add_task("export", total=total)
            try:
                outcome = run_export(store, request, progress=lambda n: bar.update(task, completed=n),
                                     cancel=lambda: cancelled)
            except KeyboardInterrupt:
                cancelled = True
                print("export cancelled; no file written, nothing marked as exported", file=sys.stderr)
                return 130
            except ExportCancelled:
                print("export cancelled; no file written, nothing marked as exported", file=sys.stderr)
                return 130
        extra = f" in {outcome.messages} HL7 message(s)" if args.format == "hl7" else ""
        noun = "result" if outcome.results == 1 else "results"
        print(f"exported {outcome.results} {noun}{extra} to {outcome.path}")
        return 0

    def run_or_explain() -> int:
        try:
            return run()
        except ExportError as exc:  # a destination the operator can fix; nothing was written or marked
            print(f"benchlink export: {exc}", file=sys.stderr)
            return EXIT_USAGE

    return int(friendly(run_or_explain))


def _prepare_destination(out: Path) -> None:
    """Create a missing folder for ``--out``, as ``db backup`` does for its file.

    Only the CLI does this: the user typed the path. The GUI picks an existing folder, and the
    watched-folder hand-off must not quietly write below an unmounted share's mount point.
    """
    from benchlink.exporters.errors import ExportError

    folder = out.parent
    if folder.is_dir():
        return
    if folder.exists():
        raise ExportError(f"cannot write {out}: {folder} is a file, not a folder; choose another --out")
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        if not folder.is_dir():  # an ancestor is a file, or a race made it one
            raise ExportError(f"cannot write {out}: {folder} is not a folder; choose another --out") from None
    except OSError as exc:
        raise ExportError(
            f"cannot write {out}: the folder {folder} does not exist and cannot be created "
            f"({exc.strerror or type(exc).__name__}); create it or choose another --out"
        ) from exc


def cmd_decode(args: argparse.Namespace, settings: Settings) -> int:
    from benchlink.core.driver import Driver
    from benchlink.runtime.plugins import PluginManager

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"benchlink decode: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    pm = PluginManager()
    driver: Driver
    if args.profile:
        try:
            driver = pm.driver(args.profile)
        except KeyError as exc:
            print(f"benchlink decode: {exc.args[0]}", file=sys.stderr)
            return 2
        reason = "chosen with --profile"
    else:
        detected = pm.detect(data) if args.protocol == "auto" else None
        if detected is None and args.protocol == "auto":
            print(f"benchlink decode: {args.file.name}: neither ASTM nor HL7 v2 was recognised; check that the file "
                  "is an analyzer capture (raw bytes, a serial-monitor log, or an HL7 file)", file=sys.stderr)
            return 1
        if detected is not None:
            driver, reason = detected
        else:
            driver, reason = pm.driver(args.protocol), f"generic {args.protocol} driver (--protocol)"
    print(f"{args.file.name}: driver {driver.info.name!r} — {reason}", file=sys.stderr)
    codec = pm.codecs().get(driver.info.protocol)
    if codec is None:
        print(f"benchlink decode: no codec for protocol {driver.info.protocol!r}", file=sys.stderr)
        return 2
    try:
        messages = codec.split_capture(data)
    except ValueError as exc:
        print(f"benchlink decode: {args.file.name}: {exc}", file=sys.stderr)
        return 1
    encoding = args.encoding or ("latin-1" if driver.info.protocol == "astm" else "")
    print(f"{len(messages)} message(s)", file=sys.stderr)
    failures = 0
    for index, text in enumerate(messages, start=1):
        try:
            decoded = driver.decode(text, encoding=encoding)
        except ValueError as exc:
            failures += 1
            print(f"message {index}: cannot decode: {exc}", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps({
                "message": index,
                "driver": driver.info.name,
                "sender": decoded.sender,
                "results": [{k: _jsonable(v) for k, v in asdict(r).items()} for r in decoded.results],
                "queries": [asdict(q) for q in decoded.queries],
                "warnings": list(decoded.warnings),
            }, ensure_ascii=False))
        else:
            print(f"--- message {index}: sender {decoded.sender!r}, {len(decoded.results)} results, "
                  f"{len(decoded.queries)} queries")
            for r in decoded.results:
                kind = "" if r.kind == "patient" else f" [{r.kind}]"
                print(f"  {r.sample_id:<14} {r.instrument_code:<10} {r.value:>10} {r.units:<8} {r.flags:<4} "
                      f"{r.status}{kind}")
    problems = _checksum_problems(data) if driver.info.protocol == "astm" else []
    for line in problems:
        print(f"{args.file.name}: {line}", file=sys.stderr)
    return 1 if failures or problems else 0


def _checksum_problems(data: bytes) -> list[str]:
    """Lines about ASTM frames whose checksum does not verify; empty when all do.

    The capture reader forgives bad checksums so that a damaged capture can still be inspected,
    and only counts them; that count decides. Raw framed bytes are walked again for each bad
    frame's position and checksums; other shapes (serial-monitor logs) get the reader's first.
    The lines hold positions and checksums only, never frame text (patient data).
    """
    from benchlink.protocols.astm.capture import read_capture
    from benchlink.protocols.astm.errors import AstmDecodeError

    try:
        capture = read_capture(data)
    except AstmDecodeError:
        return []  # not readable as frames at all; the decode itself reports that
    if not capture.checksum_failures:
        return []
    bad = _bad_frames(data)
    if len(bad) == capture.checksum_failures:
        lines = [f"frame {n} (frame number {fn}): checksum sent {sent}, computed {computed}"
                 for n, fn, sent, computed in bad[:_MAX_FRAME_LINES]]
        if len(bad) > _MAX_FRAME_LINES:
            lines.append(f"... and {len(bad) - _MAX_FRAME_LINES} more frame(s) like these")
    else:
        lines = [_first_checksum_failure(data)]
    lines.append(f"{capture.checksum_failures} of {capture.frames} frame checksum(s) did not verify: the capture "
                 "is damaged, or the link has noise or wrong serial settings (baud rate, parity); see "
                 "docs/troubleshooting.md")
    return lines


def _bad_frames(data: bytes) -> list[tuple[int, str, str, str]]:
    """(position among complete frames, frame number, checksum sent, checksum computed) of each raw
    frame that fails, counting frames as the capture reader does (a frame cut short is skipped,
    ENQ/ACK/NAK/EOT noise inside a frame is not part of its checksum)."""
    from benchlink.protocols.astm.constants import ACK, ENQ, EOT, ETB, ETX, NAK, STX
    from benchlink.protocols.astm.frames import checksum

    noise = ENQ + ACK + NAK + EOT
    bad: list[tuple[int, str, str, str]] = []
    position = 0
    start = data.find(STX)
    while start >= 0:
        ends = [e for e in (data.find(ETX, start + 1), data.find(ETB, start + 1)) if e >= 0]
        end = min(ends) if ends else -1
        following = data.find(STX, start + 1)
        if end < 0 or 0 <= following < end:
            start = following
            continue
        position += 1
        body = data[start + 1:end].translate(None, noise)
        sent = data[end + 1:end + 3]
        if len(sent) == 2 and all(chr(c) in string.hexdigits for c in sent):
            computed = checksum(body + data[end:end + 1])
            if int(sent, 16) != int(computed, 16):
                number = chr(body[0]) if body[:1] and body[0] in b"01234567" else "missing"
                bad.append((position, number, sent.decode("ascii"), computed.decode("ascii")))
            start = data.find(STX, end + 3)
        else:
            start = data.find(STX, end + 1)
    return bad


def _first_checksum_failure(data: bytes) -> str:
    """The reader's own words about the first bad frame, for captures that are not raw bytes."""
    from benchlink.protocols.astm.capture import read_capture
    from benchlink.protocols.astm.errors import AstmDecodeError

    try:
        read_capture(data, strict_checksums=True)
    except AstmDecodeError as exc:
        return str(exc).split(";")[0]
    return "a frame checksum did not verify"


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    def run() -> int:
        store = _store(settings)
        audit = store.audit()
        if args.action == "list":
            from benchlink.cli.credentials import require
            from benchlink.core.auth import Permission

            # Who did what, when, is the supervisors' view in the window too (docs/security.md).
            require(settings, store, Permission.AUDIT_VIEW, user=getattr(args, "user", None))
            return _list_audit(audit, args.limit)
        report = audit.verify()
        if report.ok:
            print(f"audit chain intact: {report.checked} entries verified")
            return 0
        print(f"audit chain BROKEN at entry {report.first_bad_id}: {report.reason}", file=sys.stderr)
        return 1

    return int(friendly(run))


def _list_audit(audit: AuditLog, limit: int) -> int:
    """The newest ``limit`` entries, oldest first, so the list reads like a log and ends at now.

    ``before``/``after`` are left out: they hold whole device and user records (hosts, settings)
    that belong in the GUI's detail view, not in a terminal scrollback or a pasted ticket.
    """
    newest = audit.search(limit=limit + 1)  # one more, to know whether older entries are left out
    entries = list(reversed(newest[:limit]))
    if not entries:
        print("the audit trail is empty")
        return 0
    print(f"{'entry':>6} {'time':<25} {'actor':<16} {'action':<20} target")
    for e in entries:
        print(f"{e.id:>6} {_local_time(e.at):<25} {_printable(e.actor):<16} {_printable(e.action):<20} "
              f"{_printable(e.target)}")
    if len(newest) > limit:
        print(f"(older entries not shown; the newest {limit} are listed, use --limit for more)", file=sys.stderr)
    return 0


def _local_time(at: datetime) -> str:
    """Audit times are stored in UTC without a zone; an auditor compares them with wall clocks."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone().strftime("%Y-%m-%d %H:%M:%S %z")


def _printable(text: str) -> str:
    """Control characters shown as escapes: a user name typed at a login prompt reaches this table,
    and must not be able to move the auditor's cursor or recolour the terminal."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def cmd_plugins(args: argparse.Namespace, settings: Settings) -> int:
    from benchlink.runtime.plugins import PluginManager

    pm = PluginManager()
    print(f"{'plugin':<28} {'version':<10} {'state':<8} error")
    for rec in pm.records:
        print(f"{rec.name:<28} {rec.version:<10} {rec.state:<8} {rec.error}")
    print("\ndrivers: " + ", ".join(f"{name} ({d.info.protocol})" for name, d in sorted(pm.drivers().items())))
    return 0 if all(r.state == "loaded" for r in pm.records) else 1
