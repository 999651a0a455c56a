"""`benchlink orders`: the worklist an analyzer's queries are answered from."""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchlink.cli.errors import friendly
from benchlink.runtime.settings import Settings

if TYPE_CHECKING:
    from benchlink.storage.worklist import EntryReport

Common = Callable[[argparse.ArgumentParser], None]


def register(sub: Any, common: Common) -> None:
    orders = sub.add_parser("orders", help="enter, import and list worklist orders")
    common(orders)
    actions = orders.add_subparsers(dest="orders_action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add an order: a sample and its tests")
    common(add)
    add.add_argument("sample_id", help="the sample (tube) ID the analyzer reads")
    add.add_argument("tests", nargs="+", help="lab test codes, e.g. GLU NA K")
    add.add_argument("--priority", choices=["S", "A", "R"], default="R", help="S stat, A ASAP, R routine")
    add.add_argument("--patient-id", default="", help="the patient's ID, sent with the order")
    add.add_argument("--device", default="", help="only this device gets it (default: any)")
    add.set_defaults(handler=cmd_add)
    imp = actions.add_parser("import", help="import orders from CSV (sample_id,tests,priority,patient_id,...)")
    common(imp)
    imp.add_argument("file", type=Path, help="UTF-8 CSV with a header line; tests separated by ;")
    imp.set_defaults(handler=cmd_import)
    lst = actions.add_parser("list", help="orders with their state: pending, sent, acknowledged, resulted")
    common(lst)
    lst.add_argument("--state", choices=["pending", "sent", "acknowledged", "resulted", "cancelled"],
                     help="only orders in this state")
    lst.add_argument("--limit", type=int, default=100, help="at most this many, newest first (default 100)")
    lst.set_defaults(handler=cmd_list)


def _worklist(settings: Settings, args: argparse.Namespace | None = None) -> Any:
    """The worklist; with *args*, only after proving the right to enter orders."""
    from benchlink.runtime.bootstrap import open_store
    from benchlink.storage.worklist import Worklist

    store = open_store(settings)
    if args is not None:
        from benchlink.cli.credentials import require
        from benchlink.core.auth import Permission

        require(settings, store, Permission.ORDERS_EDIT, user=getattr(args, "user", None))
    return Worklist(store.engine)


DEMO_DEVICE = "demo-analyzer"  # built in (``--demo``): always a known name
LISTED_NOTES = 10  # notes printed per kind; the rest are counted


def known_devices(settings: Settings) -> list[str]:
    return sorted({d.name for d in settings.devices} | {DEMO_DEVICE})


def warn_unknown_devices(settings: Settings, devices: Iterable[str], *, command: str) -> None:
    """A misspelt device name is saved as typed and then never matches a device, so the operator
    hears of it now; a name for a device that is configured later is legitimate, hence no refusal."""
    known = known_devices(settings)
    for device in sorted(set(devices) - set(known) - {"", "*"}):
        close = difflib.get_close_matches(device, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        print(f"benchlink {command}: warning: no configured device is named {device!r} (configured: "
              f"{', '.join(known)}{hint}), so this reaches no device until one is. If it is a typo, enter it "
              f"again with the configured name; if that device is added later, name its [[device]] section "
              f"in {settings.config_file} {device!r}.", file=sys.stderr)


def _print_notes(command: str, title: str, notes: Sequence[str]) -> None:
    if not notes:
        return
    print(f"benchlink {command}: {title}:", file=sys.stderr)
    for note in notes[:LISTED_NOTES]:
        print(f"  {note}", file=sys.stderr)
    if len(notes) > LISTED_NOTES:
        print(f"  ...and {len(notes) - LISTED_NOTES} more", file=sys.stderr)


def _report_left_out(command: str, report: EntryReport) -> None:
    _print_notes(command, f"{len(report.already_open)} order(s) left out because the same order is still open "
                 "(a test can be ordered again for a sample once its open order has a result)",
                 report.already_open)
    _print_notes(command, f"{len(report.repeated)} order(s) named more than once, entered once", report.repeated)


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    from benchlink.storage.worklist import WorklistError, new_orders

    def run() -> int:
        try:
            orders = new_orders(args.sample_id, args.tests, priority=args.priority, patient_id=args.patient_id,
                                device=args.device)
            report = _worklist(settings, args).enter(orders)
        except WorklistError as exc:
            print(f"benchlink orders add: {exc}", file=sys.stderr)
            return 2
        print(f"added {len(report.ids)} order(s) for sample {orders[0].sample_id}")
        _report_left_out("orders add", report)
        warn_unknown_devices(settings, report.devices, command="orders add")
        return 0

    return int(friendly(run))


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from benchlink.storage.worklist import WorklistError

    def run() -> int:
        try:
            report = _worklist(settings, args).import_file(args.file)
        except UnicodeDecodeError:
            print(f"benchlink orders import: {args.file}: not UTF-8 text; nothing was imported. Save it as "
                  "\"CSV UTF-8\" and import it again", file=sys.stderr)
            return 2
        except (WorklistError, OSError) as exc:
            print(f"benchlink orders import: {args.file}: {exc}", file=sys.stderr)
            return 2
        left_out = f"; {len(report.already_open)} already open, left as they are" if report.already_open else ""
        print(f"imported {len(report.ids)} order(s) from {args.file}{left_out}")
        _report_left_out("orders import", report)
        warn_unknown_devices(settings, report.devices, command="orders import")
        return 0

    return int(friendly(run))


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    def run() -> int:
        rows = _worklist(settings).list(state=args.state, limit=args.limit)
        if not rows:
            print("no orders — add one with `benchlink orders add SAMPLE TEST...`")
            return 0
        print(f"{'id':>6} {'sample':<16} {'test':<8} {'prio':<4} {'device':<12} {'state':<12} created")
        for r in rows:
            print(f"{r.id:>6} {r.sample_id:<16.16} {r.test:<8.8} {r.priority:<4} {r.device or '*':<12.12} "
                  f"{r.state:<12} {r.created_at:%Y-%m-%d %H:%M}")
        return 0

    return int(friendly(run))
