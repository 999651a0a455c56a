"""Suite-wide setup: headless Qt, and helpers to run the real ``benchlink`` command."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("BENCHLINK_NO_KEYRING", "1")
