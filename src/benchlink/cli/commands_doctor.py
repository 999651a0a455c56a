"""`benchlink doctor`: the first thing support asks for, and the only thing IT has to run."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchlink.runtime.settings import Settings

Common = Callable[[argparse.ArgumentParser], None]


def register(sub: Any, common: Common) -> None:
    doctor = sub.add_parser(
        "doctor",
        help="check key, database, ports, serial ports, plugins and clock; print a fix for each failure",
        description="Check that this workstation can run Benchlink: database key (keyring or key file), "
        "database opens and passes its integrity check, configured TCP ports free or analyzers reachable, "
        "serial ports present, plugins loaded, system clock sane. Exit status 0 when every check passes.",
    )
    common(doctor)
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    doctor.add_argument("--bundle", type=Path, metavar="FILE",
                        help="also write a support zip without patient data or secrets: versions, masked "
                        "configuration, recent logs, device counters")
    doctor.set_defaults(handler=cmd_doctor)


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from benchlink.runtime.diagnostics import DiagnosticsError, format_checks, run_checks, write_bundle
    from benchlink.runtime.plugins import PluginManager

    plugins = PluginManager()
    checks = run_checks(settings, plugins=plugins)
    if args.json:
        print(json.dumps([asdict(c) for c in checks], indent=1))
    else:
        print(f"benchlink doctor — home {settings.home}, config {settings.config_file}")
        print(format_checks(checks))
    if args.bundle is not None:
        try:
            members = write_bundle(settings, args.bundle, checks, plugins=plugins)
        except DiagnosticsError as exc:
            print(f"benchlink doctor: {exc}", file=sys.stderr)
            return 2
        print(f"support bundle written to {args.bundle} ({len(members)} files, "
              "no patient data, secrets masked)", file=sys.stderr)
    return 0 if all(c.ok for c in checks) else 1
