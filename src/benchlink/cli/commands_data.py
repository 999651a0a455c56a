"""Commands that read or move stored data: results, export, decode, audit, plugins."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from benchlink.cli.errors import friendly
from benchlink.runtime.settings import Settings

Common = Callable[[argparse.ArgumentParser], None]


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device")
    parser.add_argument("--sample")
    parser.add_argument("--patient")
    parser.add_argument("--test")
    parser.add_argument("--since", type=datetime.fromisoformat, help="ISO date/time")
    parser.add_argument("--until", type=datetime.fromisoformat, help="ISO date/time")


def register(sub: Any, common: Common) -> None:
    results = sub.add_parser("results", help="print stored results, newest first")
    common(results)
    _filters(results)
    results.add_argument("--json", action="store_true", help="one JSON object per line")
    results.add_argument("--limit", type=int, default=50)
    results.set_defaults(handler=cmd_results)

    export = sub.add_parser("export", help="export stored results to CSV or HL7 ORU^R01")
    common(export)
    export.add_argument("format", choices=["csv", "hl7"], help="file format")
    export.add_argument("--out", type=Path, required=True)
    _filters(export)
    export.add_argument("--new-only", action="store_true", help="only results not exported before")
    export.add_argument("--bom", action="store_true", help="CSV: write a UTF-8 BOM (Excel)")
    export.add_argument("--delimiter", default=",", help="CSV: field delimiter")
    export.add_argument("--semicolon", action="store_true",
                        help="CSV: ';' delimiter, decimal comma and BOM, for Excel in decimal-comma locales")
    export.add_argument("--batch", action="store_true", help="HL7: one batch file (FHS/BHS ... BTS/FTS)")
    export.set_defaults(handler=cmd_export)

    decode = sub.add_parser("decode", help="decode a capture file and print its messages")
    common(decode)
    decode.add_argument("file", type=Path)
    decode.add_argument("--protocol", choices=["auto", "astm", "hl7"], default="auto",
                        help="auto picks ASTM or HL7 from the content (default)")
    decode.add_argument("--profile", help="decode with this driver instead of auto-detecting one")
    decode.add_argument("--encoding", default="", help="text encoding (default: latin-1 for ASTM, MSH-18 for HL7)")
    decode.add_argument("--json", action="store_true")
    decode.set_defaults(handler=cmd_decode)

    audit = sub.add_parser("audit", help="inspect the tamper-evident audit trail")
    common(audit)
    audit.add_argument("action", choices=["verify", "list"])
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
    from benchlink.exporters.errors import ExportCancelled
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
        print(f"exported {outcome.results} results{extra} to {outcome.path}")
        return 0

    return int(friendly(run))


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
    return 1 if failures else 0


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    def run() -> int:
        store = _store(settings)
        audit = store.audit()
        report = audit.verify()
        if report.ok:
            print(f"audit chain intact: {report.checked} entries verified")
            return 0
        print(f"audit chain BROKEN at entry {report.first_bad_id}: {report.reason}", file=sys.stderr)
        return 1

    return int(friendly(run))


def cmd_plugins(args: argparse.Namespace, settings: Settings) -> int:
    from benchlink.runtime.plugins import PluginManager

    pm = PluginManager()
    print(f"{'plugin':<28} {'version':<10} {'state':<8} error")
    for rec in pm.records:
        print(f"{rec.name:<28} {rec.version:<10} {rec.state:<8} {rec.error}")
    print("\ndrivers: " + ", ".join(f"{name} ({d.info.protocol})" for name, d in sorted(pm.drivers().items())))
    return 0 if all(r.state == "loaded" for r in pm.records) else 1
