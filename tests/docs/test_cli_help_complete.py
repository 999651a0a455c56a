"""Every option and argument of every command says what it is for in `--help` (and so in docs/cli.md)."""

from __future__ import annotations

import argparse

from benchlink.cli.main import build_parser


def _undocumented(parser: argparse.ArgumentParser, path: str) -> list[str]:
    missing: list[str] = []
    for action in parser._actions:  # argparse has no public walk over a parser's arguments
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                missing += _undocumented(sub, f"{path} {name}")
        elif not action.help and not isinstance(action, argparse._HelpAction):
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_no_option_or_argument_is_left_without_help() -> None:
    assert _undocumented(build_parser(), "benchlink") == []
