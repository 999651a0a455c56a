"""``benchlink.testing``: the pytest plugin vendors use to test a driver with no analyzer.

Installed as a ``pytest11`` entry point, so these fixtures exist in any project that has
Benchlink installed:

* ``benchlink_corpus``: the shared real-capture corpus (skips with a reason when absent);
* ``link_pair``: a factory of two ASTM link ends on a simulated wire and clock;
* ``replay``: ``replay(driver, capture_bytes_or_path)`` -> :class:`ReplayReport`;
* ``memory_store``: a migrated, encrypted in-memory :class:`~benchlink.storage.store.Store`;
* ``plugin_manager``: the application's plugin manager (built-ins and installed plugins);
* ``driver_conformance``: ``driver_conformance(driver, samples)`` fails the test with every
  problem the conformance suite finds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from benchlink.core.driver import Driver
from benchlink.testing.conformance import check_driver
from benchlink.testing.replay import ReplayReport, replay_capture

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


@pytest.fixture
def link_pair() -> Callable[..., Any]:
    """``link_pair(**kwargs)`` -> :class:`benchlink.protocols.astm.linkpair.LinkPair`.

    Keyword arguments go to ``LinkPair``; ``tolerances=("oversize_frames",)`` and
    ``timers={...}`` build the host end the way a driver's ``info`` asks for;
    ``max_text_per_frame=N`` makes the instrument end frame like the analyzer (a simulator
    profile's ``max_text_per_frame``).
    """
    from benchlink.protocols.astm.link import AstmLink, Role
    from benchlink.protocols.astm.linkpair import LinkPair
    from benchlink.protocols.astm.tolerances import LinkTimers, LinkTolerances

    def make(*, tolerances: Sequence[str] = (), timers: dict[str, Any] | None = None,
             max_text_per_frame: int | None = None, **kwargs: Any) -> LinkPair:
        if max_text_per_frame is not None:
            kwargs.setdefault("instrument", AstmLink(Role.INSTRUMENT, max_text_per_frame=max_text_per_frame,
                                                     max_frame_bytes=max(64 * 1024, max_text_per_frame + 16)))
        if tolerances or timers:
            host = AstmLink(Role.HOST, tolerances=LinkTolerances(**{t: True for t in tolerances}),
                            timers=LinkTimers(**(timers or {})))
            kwargs.setdefault("host", host)
        return LinkPair(**kwargs)

    return make


@pytest.fixture
def replay() -> Callable[..., ReplayReport]:
    """``replay(driver, capture, encoding=None)``: decode every message of a capture."""
    return replay_capture


@pytest.fixture
def memory_store() -> Iterator[Any]:
    from benchlink.testing.memstore import memory_store as make

    store = make()
    yield store
    store.engine.dispose()


@pytest.fixture(scope="session")
def plugin_manager() -> Any:
    from benchlink.runtime.plugins import PluginManager

    return PluginManager()


@pytest.fixture
def driver_conformance() -> Callable[[Driver, Sequence[bytes]], None]:
    def run(driver: Driver, samples: Sequence[bytes]) -> None:
        problems = check_driver(driver, samples)
        if problems:
            pytest.fail(f"driver {driver.info.name!r} is not conformant:\n  " + "\n  ".join(problems), pytrace=False)

    return run
