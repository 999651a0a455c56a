"""Test kit for device drivers: conformance suite, capture replay, link pair, in-memory store.

The pytest fixtures live in :mod:`benchlink.testing.plugin` (a ``pytest11`` entry point).
"""

from __future__ import annotations

from benchlink.testing.conformance import DriverConformance, assert_conformant, check_driver
from benchlink.testing.replay import ReplayReport, replay_capture, split_capture

__all__ = ["DriverConformance", "ReplayReport", "assert_conformant", "check_driver", "replay_capture", "split_capture"]
