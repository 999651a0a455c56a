"""The CLI reference page (docs/cli.md), generated from the real argparse parser.

Rendering the parser that ``benchlink`` itself uses is the only way the page cannot drift: a new
command or option appears in the manual the moment it exists, and the docs test fails until the
page is regenerated (``python docs/gen_reference.py``).
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Iterator

from benchlink.cli.errors import EXIT_CODES
from benchlink.cli.main import build_parser

WIDTH = 100
INTRO = """\
# Command-line reference

<!-- Generated from benchlink.cli.main.build_parser() by docs/gen_reference.py; do not edit. -->

`benchlink` without a command opens the window. Every command accepts the global options
`--home DIR`, `--config FILE` and `--demo` (see [Configuration](configuration.md) for precedence).
"""


def exit_status_section() -> list[str]:
    """The exit codes, from the one table the commands use, so a new code cannot go unlisted."""
    out = ["## Exit status", "", "| status | meaning |", "|---|---|"]
    out += [f"| {code} | {_escape(meaning)} |" for code, meaning in EXIT_CODES]
    return [*out, ""]


def subcommands(parser: argparse.ArgumentParser, prefix: str = "benchlink") -> Iterator[
        tuple[str, argparse.ArgumentParser, str]]:
    """Every (full name, parser, one-line help) below ``parser``, depth first, in declaration order."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: str(choice.help or "") for choice in action._choices_actions}
        for name, sub in action.choices.items():
            full = f"{prefix} {name}"
            yield full, sub, helps.get(name, "")
            yield from subcommands(sub, full)


def _usage(parser: argparse.ArgumentParser) -> str:
    parser.formatter_class = functools.partial(argparse.HelpFormatter, width=WIDTH)
    return parser.format_usage().strip()


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _option_rows(parser: argparse.ArgumentParser) -> list[str]:
    rows: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction | argparse._VersionAction):
            continue
        if action.dest in {"home", "config", "demo"} and action.option_strings:
            continue  # the global options, described once at the top
        if action.option_strings:
            names = ", ".join(f"`{o}`" for o in action.option_strings)
            if action.nargs != 0:
                names += f" `{action.metavar or action.dest.upper()}`"
        else:
            names = f"`{action.metavar or action.dest}`"
        text = str(action.help or "")
        if action.choices:
            text += (" — " if text else "") + "one of " + ", ".join(f"`{c}`" for c in action.choices)
        if action.required and action.option_strings:
            text += " (required)"
        default = action.default
        if default not in (None, False, argparse.SUPPRESS) and action.nargs != 0 and "default" not in text:
            text += f" (default `{default}`)"
        rows.append(f"| {names} | {_escape(text)} |")
    return rows


def render_cli_reference() -> str:
    parser = build_parser()
    out = [INTRO, *exit_status_section(), "## Global options", "", "| option | meaning |", "|---|---|"]
    for action in parser._actions:
        if action.option_strings and not isinstance(action, argparse._SubParsersAction):
            names = ", ".join(f"`{o}`" for o in action.option_strings)
            if action.nargs != 0 and not isinstance(action, argparse._VersionAction):
                names += f" `{action.metavar or action.dest.upper()}`"
            out.append(f"| {names} | {_escape(str(action.help))} |")
    out.append("")
    for full, sub, help_text in subcommands(parser):
        out += [f"## `{full}`", ""]
        if help_text:
            out += [help_text[0].upper() + help_text[1:] + ("" if help_text.endswith(".") else "."), ""]
        if sub.description and sub.description != help_text:
            out += [sub.description, ""]
        out += ["```", _usage(sub), "```", ""]
        rows = _option_rows(sub)
        if rows:
            out += ["| argument | meaning |", "|---|---|", *rows, ""]
    return "\n".join(out)
