from __future__ import annotations

import os
from pathlib import Path

import pytest

_DEFAULT_CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def corpus_root() -> Path:
    return Path(os.environ.get("BENCHLINK_CORPUS", str(_DEFAULT_CORPUS)))


@pytest.fixture
def hl7_corpus() -> Path:
    root = corpus_root() / "hl7"
    if not root.is_dir():
        pytest.skip(f"HL7 corpus not found at {root}; set BENCHLINK_CORPUS to the shared corpus folder")
    return root
