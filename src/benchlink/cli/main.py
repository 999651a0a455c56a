"""The ``benchlink`` command. Each subcommand lives in its own small module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from benchlink import __version__
from benchlink.cli import commands_data, commands_db, commands_doctor, commands_orders, commands_run, commands_users
from benchlink.cli.errors import EXIT_USAGE
from benchlink.runtime.settings import ConfigError, Settings, load_settings


def _options(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument("--home", type=Path, default=default,
                        help="folder for config.toml, database, logs, exports (BENCHLINK_HOME)")
    parser.add_argument("--config", type=Path, default=default,
                        help="configuration file, which must exist (BENCHLINK_CONFIG; default: HOME/config.toml, "
                        "absent on a first start)")
    parser.add_argument("--demo", action="store_true", default=default, help="add the built-in simulated analyzer")
    parser.add_argument("--user", default=default,
                        help="who runs a command that changes data (BENCHLINK_USER; password from BENCHLINK_PASSWORD "
                        "or a prompt; services use BENCHLINK_TOKEN)")


def _common(parser: argparse.ArgumentParser) -> None:
    """The global options again on each subcommand; SUPPRESS so that a value given before the
    subcommand is not overwritten by the subcommand's own default."""
    _options(parser, argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchlink",
        description="Benchlink connects laboratory analyzers (ASTM, HL7) to your LIS. "
        "Without a command it opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"benchlink {__version__}")
    _options(parser, None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands_run.register(sub, _common)
    commands_data.register(sub, _common)
    commands_orders.register(sub, _common)
    commands_users.register(sub, _common)
    commands_doctor.register(sub, _common)
    commands_db.register(sub, _common)
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    return load_settings(home=args.home, config_file=args.config, demo=args.demo)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "gui"])
    try:
        settings = settings_from(args)
    except ConfigError as exc:
        print(f"benchlink: configuration error: {exc}", file=sys.stderr)
        if args.command == "gui" and getattr(args, "quit_after", None) is None:
            # Started from an icon there is no console: the window must say why it is not opening.
            from benchlink.gui.app import show_start_refused

            show_start_refused(f"configuration error: {exc}")
        return EXIT_USAGE
    handler = args.handler
    return int(handler(args, settings))
