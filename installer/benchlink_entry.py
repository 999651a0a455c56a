"""Entry point of the frozen application (PyInstaller needs a script, not a console_scripts entry)."""

from __future__ import annotations

import multiprocessing

from benchlink.cli.main import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    raise SystemExit(main())
