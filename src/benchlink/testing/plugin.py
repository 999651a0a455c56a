"""``benchlink.testing``: the pytest plugin vendors use to test a driver with no analyzer.

Installed as a ``pytest11`` entry point, so its fixtures are available in any project that
has Benchlink installed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CORPUS_ENV = "BENCHLINK_CORPUS"


def corpus_root() -> Path | None:
    """The shared corpus of real captures, or None when it is not beside this checkout."""
    configured = os.environ.get(CORPUS_ENV)
    candidates = [Path(configured)] if configured else []
    here = Path.cwd()
    candidates += [here / ".." / "shared" / "corpus", here / "shared" / "corpus"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    return None


@pytest.fixture(scope="session")
def benchlink_corpus() -> Path:
    """Path to the real-capture corpus; skips the test with a reason when it is absent."""
    root = corpus_root()
    if root is None:
        pytest.skip(f"capture corpus not found: set {CORPUS_ENV} or place shared/corpus beside the checkout")
    return root
