"""Docs contract (datasette's test_plugin_hooks_are_documented): every hook has a section."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchlink.core import hookspecs

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("benchlink_") and callable(getattr(hookspecs, name)))


def _documented() -> set[str]:
    return set(re.findall(r"^###\s+(benchlink_\w+)\s*$", DOC.read_text(encoding="utf-8"), re.MULTILINE))


def test_hookspecs_are_discovered() -> None:
    assert "benchlink_register_drivers" in HOOKS and len(HOOKS) >= 7


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hook_is_documented(hook: str) -> None:
    assert hook in _documented(), f"hook {hook} has no '### {hook}' section in docs/plugins.md"


def test_docs_document_no_hook_that_does_not_exist() -> None:
    assert _documented() <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hookspec_has_a_docstring(hook: str) -> None:
    assert (getattr(hookspecs, hook).__doc__ or "").strip()
