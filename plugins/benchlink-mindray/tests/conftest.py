"""Shared paths for the Mindray plugin's tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def corpus_file(relative: str) -> Path:
    root = Path(os.environ.get("BENCHLINK_CORPUS", Path(__file__).resolve().parents[4] / "shared" / "corpus"))
    path = root / relative
    if not path.exists():
        pytest.skip(f"corpus capture absent: {path} (set BENCHLINK_CORPUS)")
    return path
