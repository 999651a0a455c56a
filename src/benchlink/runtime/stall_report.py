"""Every thread's stack on disk when stopping takes far longer than it should.

A workstation that does not exit when its window closes keeps the serial port and the listening
socket, so the next start cannot open them, and the operator can only kill it. Support then has
nothing to go on: the log stops at "closing". So stopping is watched: when it is still going after
``after`` seconds, :mod:`faulthandler` writes each thread's stack to ``stall-<what>-<pid>.txt`` in
the log folder, from its own C thread, so it works even when every Python thread is stuck. The
dump holds file names, line numbers and function names, never a variable's value, so no patient
data can reach it. ``benchlink doctor --bundle`` includes the newest reports.

faulthandler has one such timer per process, hence one watch at a time, kept at module level.
"""

from __future__ import annotations

import atexit
import faulthandler
import os
from pathlib import Path
from typing import IO

import structlog

_log = structlog.get_logger("benchlink.stall")

#: A clean stop takes under 2 s; draining a full writer queue takes a few. Past this, it is stuck.
STALL_AFTER = 20.0
#: The prefix `benchlink doctor --bundle` looks for in the log folder.
REPORT_GLOB = "stall-*.txt"

_armed: tuple[Path, IO[str], float] | None = None


def arm(log_dir: Path, what: str, after: float = STALL_AFTER) -> None:
    """Start watching; a report is written if :func:`disarm` is not called within ``after`` s."""
    global _armed
    disarm()
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        path = log_dir / f"stall-{what}-{os.getpid()}.txt"
        file = path.open("w", encoding="utf-8")
    except OSError as exc:  # an unwritable log folder must not stop the shutdown it watches
        _log.warning("stall_watch_not_armed", error=str(exc))
        return
    file.write(f"Benchlink: {what} was still running {after:g} s after it began; each thread's stack follows.\n")
    file.flush()
    faulthandler.dump_traceback_later(after, repeat=False, file=file)
    _armed = (path, file, after)


def disarm() -> Path | None:
    """Stop watching; returns the report's path when one was written (and logs it), else None."""
    global _armed
    if _armed is None:
        return None
    path, file, after = _armed
    _armed = None
    faulthandler.cancel_dump_traceback_later()
    file.close()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if "(most recent call first)" not in text:
        path.unlink(missing_ok=True)
        return None
    _log.warning("stop_stalled", seconds=after, report=str(path),
                 fix="send `benchlink doctor --bundle` to support: it includes this report")
    return path


def disarm_at_exit() -> None:
    """Keep watching through the interpreter's own shutdown, then disarm.

    Python joins every worker thread (thread pools' included) before it runs atexit callbacks, so a
    worker stuck in a query holds the process there, after the app's own stop code has returned.
    """
    atexit.register(disarm)
