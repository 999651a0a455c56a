"""All-or-nothing file writes: a temp file beside the target, fsync, then ``os.replace``.

An export that fails or is cancelled half-way must not leave a truncated CSV that someone
later imports as if it were complete. Writing to a temporary file in the *same directory*
keeps the final rename atomic (same filesystem) on POSIX and Windows.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_write(path: Path | str) -> Iterator[IO[bytes]]:
    """Yield a binary file whose content replaces ``path`` only if the block completes.

    On any exception (including :class:`~benchlink.exporters.errors.ExportCancelled`) the
    temporary file is removed and ``path`` keeps its previous content, or stays absent. The
    file is created owner-readable only (``mkstemp``), which suits exports holding PHI.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
