"""One engine per home: a second `serve` or window on the same home is refused, not started.

Two engines on one home both listen for the same analyzers: the second found the demo port taken
and quietly moved, and for real devices it fought the first for serial ports and wrote into the same
status file, so `benchlink status` showed whichever wrote last. The lock is an OS file lock, so a
process that crashes or is killed releases it with no stale file to clean up.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO

LOCK_NAME = "engine.lock"
HOLDER_NAME = "engine.lock.json"


class InstanceLockedError(RuntimeError):
    """Another Benchlink engine holds this home."""


def _try_lock(file: IO[str]) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            file.seek(0)
            msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _holder(path: Path) -> str:
    """Who holds it, from the sidecar the holder wrote (best effort: the lock is what counts)."""
    try:
        info = json.loads(path.with_name(HOLDER_NAME).read_text(encoding="utf-8"))
        return f"{info['what']} (pid {int(info['pid'])})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another Benchlink"


class InstanceLock:
    def __init__(self, home: Path, what: str) -> None:
        self.path = home / LOCK_NAME
        self._what = what
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise InstanceLockedError naming the holder and what to do."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = self.path.open("a+", encoding="utf-8")
        if not _try_lock(file):
            file.close()
            raise InstanceLockedError(
                f"{_holder(self.path)} is already running on {self.path.parent}; two engines on one home "
                "would fight over the same analyzers. Stop it first, or give this one its own folder with --home.")
        self._file = file
        holder = {"pid": os.getpid(), "what": self._what}
        self.path.with_name(HOLDER_NAME).write_text(json.dumps(holder), encoding="utf-8")

    def release(self) -> None:
        if self._file is None:
            return
        self.path.with_name(HOLDER_NAME).unlink(missing_ok=True)
        self._file.close()  # closing the descriptor releases the lock on every platform
        self._file = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()
