"""The documentation site builds strictly, and its reference pages cannot drift from the code."""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchlink.cli.main import build_parser
from benchlink.cli.reference import render_cli_reference
from benchlink.protocols.astm.tolerances import LinkTolerances
from benchlink.runtime.limits import EdgeLimits
from benchlink.runtime.settings import DeviceConfig, TransportConfig
from benchlink.runtime.settings_doc import render_configuration, undocumented

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _commands(parser: argparse.ArgumentParser, prefix: str = "benchlink") -> list[str]:
    """Every command path of the parser, walked independently of the renderer under test."""
    found: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(f"{prefix} {name}")
                found += _commands(sub, f"{prefix} {name}")
    return found


def _nav_pages() -> list[str]:
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text[text.index("\nnav:"):]
    return re.findall(r":\s*([\w./-]+\.md)\s*$", nav, re.MULTILINE)


def test_every_setting_has_a_description() -> None:
    assert undocumented() == [], "describe these in src/benchlink/runtime/settings_doc.py"


def test_configuration_reference_is_generated_and_current() -> None:
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    stale = "docs/configuration.md is stale: run `python docs/gen_reference.py`"
    assert page == render_configuration(), stale
    for cls, skip in ((DeviceConfig, {"transport", "limits"}), (TransportConfig, set()), (EdgeLimits, set()),
                      (LinkTolerances, set())):
        for field in dataclasses.fields(cls):
            if field.name not in skip:
                assert f"| `{field.name}` |" in page, f"{cls.__name__}.{field.name} missing from the page"
    assert "| `baudrate` | `9600` |" in page and "| `receive_timeout` | `30` |" in page


def test_cli_reference_is_generated_and_has_a_section_per_command() -> None:
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert page == render_cli_reference(), "docs/cli.md is stale: run `python docs/gen_reference.py`"
    headings = set(re.findall(r"^## `(benchlink[\w -]*)`$", page, re.MULTILINE))
    commands = _commands(build_parser())
    assert {"benchlink doctor", "benchlink serve", "benchlink export"} <= set(commands)
    missing = [c for c in commands if c not in headings]
    assert missing == [], f"commands without a reference section: {missing}"
    doctor = page[page.index("## `benchlink doctor`"):]
    assert "`--bundle` `FILE`" in doctor


def test_every_page_is_in_the_nav_and_every_nav_page_exists() -> None:
    nav = _nav_pages()
    assert {"operator-guide.md", "admin-guide.md", "troubleshooting.md", "cli.md", "configuration.md",
            "release-notes.md", "plugins.md", "performance.md", "administration.md"} <= set(nav)
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    assert [p for p in pages if p not in nav] == [], "add these pages to the nav in mkdocs.yml"
    assert [p for p in nav if not (DOCS / p).exists()] == [], "nav names pages that do not exist yet"


def test_guides_cover_what_the_issue_asks_for() -> None:
    admin = (DOCS / "admin-guide.md").read_text(encoding="utf-8")
    for topic in ("## Running as a service", "## The database key", "## PostgreSQL", "## Backups",
                  "## Upgrades", "### Building the Windows installer", "not a cross-compiler"):
        assert topic in admin, topic
    trouble = (DOCS / "troubleshooting.md").read_text(encoding="utf-8")
    for topic in ("## Checksum errors", "## No ENQ", "## Wrong baud rate or parity", "## Excel and CSV",
                  "## Keyring on Linux"):
        assert topic in trouble, topic
    operator = (DOCS / "operator-guide.md").read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", operator)
    assert images and all((DOCS / image).is_file() for image in images), images


def test_mkdocs_strict_build(tmp_path: Path) -> None:
    pytest.importorskip("material", reason="mkdocs-material is not installed (pip install mkdocs-material)")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-4000:]
    for page in _nav_pages():
        assert (site / page.replace(".md", ".html")).is_file(), page
    cli_html = (site / "cli.html").read_text(encoding="utf-8")
    for command in _commands(build_parser()):
        assert command in cli_html, command
    assert (site / "screenshots" / "main-window.png").is_file()
