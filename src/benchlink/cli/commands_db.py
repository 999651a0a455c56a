"""Administrative commands: replay, db backup/restore/rekey/prune, mappings."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchlink.cli.errors import friendly
from benchlink.runtime.settings import Settings

Common = Callable[[argparse.ArgumentParser], None]


def _actor() -> str:
    """Who to name in the audit trail: BENCHLINK_USER, else the operating-system account."""
    name = os.environ.get("BENCHLINK_USER", "").strip()
    if name:
        return name
    try:
        return "os:" + getpass.getuser()
    except (KeyError, OSError):
        return "os:unknown"


def _editor(args: argparse.Namespace, settings: Settings, store: Any) -> str:
    """Replay and mapping edits change results: they need the mappings.edit permission (supervisor)."""
    from benchlink.cli.credentials import require
    from benchlink.core.auth import Permission

    return str(require(settings, store, Permission.MAPPINGS_EDIT, user=getattr(args, "user", None)).username)


def _aware(value: str) -> datetime:
    at = datetime.fromisoformat(value)
    return at if at.tzinfo is not None else at.astimezone()  # naive input means local time


def register(sub: Any, common: Common) -> None:
    replay = sub.add_parser("replay", help="derive results again from the stored raw messages")
    common(replay)
    replay.add_argument("--device", help="only this device")
    replay.add_argument("--since", type=_aware, help="only messages received at or after this ISO date/time")
    replay.add_argument("--quarantined", action="store_true",
                        help="also retry open quarantined messages (those that now decode are marked retried)")
    replay.set_defaults(handler=cmd_replay)

    db = sub.add_parser("db", help="database administration: backup, restore, rekey, prune")
    common(db)
    dbsub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    backup = dbsub.add_parser("backup", help="online, encrypted copy of the database")
    common(backup)
    backup.add_argument("file", type=Path, help="the backup file to write (encrypted with the same key)")
    backup.set_defaults(handler=cmd_db_backup)
    restore = dbsub.add_parser("restore", help="replace the database with a backup (serve must be stopped)")
    common(restore)
    restore.add_argument("file", type=Path, help="a file written by `benchlink db backup`")
    restore.set_defaults(handler=cmd_db_restore)
    rekey = dbsub.add_parser("rekey", help="rotate the database key")
    common(rekey)
    rekey.set_defaults(handler=cmd_db_rekey)
    prune = dbsub.add_parser("prune", help="archive, then delete, exported raw messages older than N days")
    common(prune)
    prune.add_argument("--older-than", type=int, required=True, metavar="DAYS",
                       help="only raw messages received more than DAYS days ago")
    prune.add_argument("--archive", type=Path, required=True, metavar="FILE", help="new encrypted archive file")
    prune.set_defaults(handler=cmd_db_prune)

    maps = sub.add_parser("mappings", help="instrument code -> lab code mappings (versioned, audited)")
    common(maps)
    msub = maps.add_subparsers(dest="mappings_command", metavar="ACTION", required=True)
    lst = msub.add_parser("list", help="print the current mappings")
    common(lst)
    lst.add_argument("--device", help="only this device's mappings (and those for every device, *)")
    lst.add_argument("--history", nargs=2, metavar=("DEVICE", "CODE"), help="every version of one mapping")
    lst.set_defaults(handler=cmd_mappings_list)
    st = msub.add_parser("set", help="create or change one mapping (a new version)")
    common(st)
    st.add_argument("device", help="device name, or '*' for every device")
    st.add_argument("instrument_code", help="the test code the analyzer sends, e.g. GLU")
    st.add_argument("lis_code", help="the lab's code for it, e.g. 2345-7")
    st.add_argument("--name", default="", help="the test's name in exports")
    st.add_argument("--units", default="", help="the lab's unit (with --factor: the unit converted to)")
    st.add_argument("--factor", type=float, default=1.0,
                    help="multiply the value (and a numeric reference range) by this, e.g. 18.016 for glucose "
                    "mmol/L to mg/dL (default 1: no conversion)")
    st.set_defaults(handler=cmd_mappings_set)
    imp = msub.add_parser("import", help="apply a CSV of mappings (all lines or none)")
    common(imp)
    imp.add_argument("file", type=Path, help="CSV with the header device,instrument_code,lis_code,name,units,factor")
    imp.set_defaults(handler=cmd_mappings_import)
    exp = msub.add_parser("export", help="write the current mappings to CSV")
    common(exp)
    exp.add_argument("file", type=Path, help="the CSV file to write")
    exp.set_defaults(handler=cmd_mappings_export)


def _store(settings: Settings) -> Any:
    from benchlink.runtime.bootstrap import open_store

    return open_store(settings)


def _key(settings: Settings) -> bytes:
    from benchlink.storage.keys import load_or_create_key

    # With the database path, an existing database whose key is missing is refused, never given a new key.
    return load_or_create_key(key_file=settings.key_file, use_keyring=settings.use_keyring,
                              database=settings.database_path)


def _run(call: Callable[[], int]) -> int:
    from benchlink.storage.maintenance import MaintenanceError
    from benchlink.storage.mappings import MappingError

    def guarded() -> int:
        try:
            return call()
        except (MaintenanceError, MappingError) as exc:
            print(f"benchlink: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"benchlink: {exc.filename or ''}: {exc.strerror}", file=sys.stderr)
            return 1

    return int(friendly(guarded))


# --------------------------------------------------------------------------- replay
def decoder_for(settings: Settings) -> Callable[[str, bytes], tuple[Any, ...]]:
    """decode(device, data) with the device's configured driver; unknown devices get the generic
    driver of the protocol the bytes look like (HL7 starts with MSH, anything else is ASTM)."""
    from benchlink.core.driver import Driver
    from benchlink.runtime.plugins import PluginManager

    pm = PluginManager()
    configs = {d.name: d for d in settings.devices}
    cache: dict[str, tuple[Driver, str]] = {}

    def pick(device: str, data: bytes) -> tuple[Driver, str]:
        config = configs.get(device)
        if config is not None:
            if device not in cache:
                driver = pm.driver(config.driver)
                encoding = config.encoding or driver.info.encoding or (
                    "latin-1" if driver.info.protocol == "astm" else "")
                cache[device] = (driver, encoding)
            return cache[device]
        protocol = "hl7" if data.lstrip(b"\x0b\r\n ").startswith(b"MSH") else "astm"
        if protocol not in cache:
            cache[protocol] = (pm.driver(protocol), "latin-1" if protocol == "astm" else "")
        return cache[protocol]

    def decode(device: str, data: bytes) -> tuple[Any, ...]:
        driver, encoding = pick(device, data)
        return tuple(driver.decode(data, encoding=encoding).results)

    return decode


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from benchlink.storage.replay import ReplayFilter

    def run() -> int:
        store = _store(settings)
        actor = _editor(args, settings, store)
        flt = ReplayFilter(device=args.device, since=args.since, include_quarantined=args.quarantined)
        mapping = store.mappings().to_table()
        with Progress(TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      transient=True, disable=not sys.stderr.isatty()) as bar:
            task = bar.add_task("replay", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = store.replayer().run(decoder_for(settings), flt, mapping=mapping, actor=actor,
                                          progress=progress)
        print(f"replayed {report.messages} messages: {report.replaced} changed, {report.unchanged} unchanged, "
              f"{report.failed} failed; results {report.results_before} -> {report.results_after} "
              f"(of changed messages); {report.quarantine_retried} quarantined messages retried; "
              f"{report.fragments_skipped} fragments skipped")
        for error in report.errors:
            print(f"  {error}", file=sys.stderr)
        return 1 if report.failed else 0

    return _run(run)


# --------------------------------------------------------------------------- db
def _sqlite_only(settings: Settings) -> bool:
    if settings.database_url and not settings.database_url.startswith("sqlite"):
        print("benchlink: this command works on the local encrypted database; for PostgreSQL use pg_dump / "
              "pg_restore and the server's own key management (see docs/administration.md)", file=sys.stderr)
        return False
    return True


def cmd_db_backup(args: argparse.Namespace, settings: Settings) -> int:
    from benchlink.storage.maintenance import backup_database

    def run() -> int:
        if not _sqlite_only(settings):
            return 2
        store = _store(settings)
        size = backup_database(store.engine, _key(settings), args.file)
        store.audit().append(_actor(), "db.backup", str(args.file), None, {"bytes": size})
        print(f"backup written to {args.file} ({size:,} bytes, encrypted with the database key)")
        return 0

    return _run(run)


def cmd_db_restore(args: argparse.Namespace, settings: Settings) -> int:
    from benchlink.storage.maintenance import restore_database

    def run() -> int:
        if not _sqlite_only(settings):
            return 2
        outcome = restore_database(args.file, settings.database_path, _key(settings),
                                   status_file=settings.state_file)
        store = _store(settings)  # migrates an older backup to this version's schema
        store.audit().append(_actor(), "db.restore", str(args.file),
                             None, {"messages": outcome.restored_messages,
                                    "previous": None if outcome.previous is None else outcome.previous.name})
        kept = f"; the previous database is kept as {outcome.previous}" if outcome.previous else ""
        print(f"restored {args.file} ({outcome.restored_messages} raw messages){kept}")
        return 0

    return _run(run)


def cmd_db_rekey(args: argparse.Namespace, settings: Settings) -> int:
    from benchlink.storage.keys import store_key
    from benchlink.storage.maintenance import MaintenanceError, rekey_database, serve_is_running

    def run() -> int:
        if not _sqlite_only(settings):
            return 2
        if serve_is_running(settings.state_file):
            raise MaintenanceError("a `benchlink serve` is running; stop it before rotating the key")
        store = _store(settings)
        pending = settings.home / "benchlink.key.pending"
        where = rekey_database(
            store.engine, settings.database_path,
            lambda key: store_key(key, key_file=settings.key_file, use_keyring=settings.use_keyring),
            actor=_actor(), pending_file=pending,
        )
        print(f"database key rotated; the new key is in the {where}. Backups and archives made before "
              "now still need the OLD key: keep a copy of it with them.")
        return 0

    return _run(run)


def cmd_db_prune(args: argparse.Namespace, settings: Settings) -> int:
    def run() -> int:
        if args.older_than < 1:
            print("benchlink: --older-than must be at least 1 day", file=sys.stderr)
            return 2
        store = _store(settings)
        cutoff = datetime.now(UTC) - timedelta(days=args.older_than)
        report = store.pruner().prune(cutoff, args.archive, _key(settings), actor=_actor())
        print(f"archived and pruned {report.messages} raw messages ({report.results} results, "
              f"{report.quarantine} quarantine records) received before {cutoff:%Y-%m-%d %H:%M} UTC into "
              f"{args.archive}")
        if report.kept_unexported or report.kept_quarantined:
            print(f"kept {report.kept_unexported} old messages with unexported results and "
                  f"{report.kept_quarantined} quarantined ones (export or resolve them first)")
        return 0

    return _run(run)


# --------------------------------------------------------------------------- mappings
def _warn_unknown_devices(settings: Settings, devices: list[str], *, command: str) -> None:
    """Mappings for a misspelt device never apply; the orders command's warning says so the same way."""
    from benchlink.cli.commands_orders import warn_unknown_devices

    warn_unknown_devices(settings, devices, command=command)


def _csv_devices(path: Path) -> list[str]:
    """The device column of a mappings file the import has just accepted (so it parses)."""
    import csv

    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [(row.get("device") or "").strip() for row in csv.DictReader(handle)]


def cmd_mappings_list(args: argparse.Namespace, settings: Settings) -> int:
    def run() -> int:
        maps = _store(settings).mappings()
        rows = maps.history(*args.history) if args.history else maps.current_mappings(args.device)
        if not rows:
            print("no mappings")
            return 0
        print(f"{'device':<16} {'code':<12} {'lis code':<12} {'name':<20} {'units':<10} {'factor':>8} ver  since")
        for r in rows:
            mark = " (retired)" if r.retired else ""
            print(f"{r.device:<16.16} {r.instrument_code:<12.12} {r.lis_code:<12.12} {r.name:<20.20} "
                  f"{r.units:<10.10} {r.factor:>8g} {r.version:>3}  {r.valid_from:%Y-%m-%d %H:%M}{mark}")
        return 0

    return _run(run)


def cmd_mappings_set(args: argparse.Namespace, settings: Settings) -> int:
    def run() -> int:
        store = _store(settings)
        actor = _editor(args, settings, store)
        row = store.mappings().set_mapping(
            args.device, args.instrument_code, args.lis_code, name=args.name, units=args.units,
            factor=args.factor, actor=actor)
        if row is None:
            print("unchanged: the current mapping already has these values")
        else:
            print(f"{row.device}/{row.instrument_code} -> {row.lis_code} (version {row.version}); "
                  "run `benchlink replay` to apply it to stored results")
        _warn_unknown_devices(settings, [args.device], command="mappings set")
        return 0

    return _run(run)


def cmd_mappings_import(args: argparse.Namespace, settings: Settings) -> int:
    def run() -> int:
        store = _store(settings)
        changed, unchanged = store.mappings().import_csv(args.file, actor=_editor(args, settings, store))
        print(f"imported {args.file}: {changed} changed, {unchanged} unchanged")
        _warn_unknown_devices(settings, _csv_devices(args.file), command="mappings import")
        return 0

    return _run(run)


def cmd_mappings_export(args: argparse.Namespace, settings: Settings) -> int:
    def run() -> int:
        count = _store(settings).mappings().export_csv(args.file)
        print(f"exported {count} mappings to {args.file}")
        return 0

    return _run(run)
