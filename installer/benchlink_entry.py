"""Entry point of the frozen application (PyInstaller needs a script, not a console_scripts entry)."""

from __future__ import annotations

import multiprocessing
import sys

from benchlink.storage.writer_process import CHILD_FLAG

if __name__ == "__main__":
    multiprocessing.freeze_support()
    if sys.argv[1:2] == [CHILD_FLAG]:
        # The database writer re-runs this executable as its child process (no Python around).
        from benchlink.storage.writer_process import child_entry

        child_entry()
        raise SystemExit(0)
    from benchlink.cli.main import main

    raise SystemExit(main())
