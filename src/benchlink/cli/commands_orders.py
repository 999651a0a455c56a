"""`benchlink orders`: the worklist an analyzer's queries are answered from."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchlink.cli.errors import friendly
from benchlink.runtime.settings import Settings

Common = Callable[[argparse.ArgumentParser], None]


def register(sub: Any, common: Common) -> None:
    orders = sub.add_parser("orders", help="enter, import and list worklist orders")
    common(orders)
    actions = orders.add_subparsers(dest="orders_action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add an order: a sample and its tests")
    common(add)
    add.add_argument("sample_id")
    add.add_argument("tests", nargs="+", help="lab test codes, e.g. GLU NA K")
    add.add_argument("--priority", choices=["S", "A", "R"], default="R", help="S stat, A ASAP, R routine")
    add.add_argument("--patient-id", default="")
    add.add_argument("--device", default="", help="only this device gets it (default: any)")
    add.set_defaults(handler=cmd_add)
    imp = actions.add_parser("import", help="import orders from CSV (sample_id,tests,priority,patient_id,...)")
    common(imp)
    imp.add_argument("file", type=Path)
    imp.set_defaults(handler=cmd_import)
    lst = actions.add_parser("list", help="orders with their state: pending, sent, acknowledged, resulted")
    common(lst)
    lst.add_argument("--state", choices=["pending", "sent", "acknowledged", "resulted", "cancelled"])
    lst.add_argument("--limit", type=int, default=100)
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


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    from benchlink.storage.worklist import WorklistError

    def run() -> int:
        try:
            ids = _worklist(settings, args).add(args.sample_id, args.tests, priority=args.priority,
                                          patient_id=args.patient_id, device=args.device)
        except WorklistError as exc:
            print(f"benchlink orders add: {exc}", file=sys.stderr)
            return 2
        print(f"added {len(ids)} order(s) for sample {args.sample_id}")
        return 0

    return int(friendly(run))


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from benchlink.storage.worklist import WorklistError

    def run() -> int:
        try:
            count = _worklist(settings, args).import_csv(args.file)
        except (WorklistError, OSError, KeyError) as exc:
            print(f"benchlink orders import: {args.file}: {exc}", file=sys.stderr)
            return 2
        print(f"imported {count} order(s) from {args.file}")
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
