"""All-or-nothing file writes: a temp file beside the target, fsync, then ``os.replace``.

An export that fails or is cancelled half-way must not leave a truncated CSV that someone
later imports as if it were complete. Writing to a temporary file in the *same directory*
keeps the final rename atomic (same filesystem) on POSIX and Windows.

The temporary file is an implementation detail, so an operating-system error about it (a
missing folder, a read-only place, a full disk, a target that is a folder) is turned into an
:class:`~benchlink.exporters.errors.ExportError` that names the destination the user chose and
what to do about it; the CLI and the GUI show that message as it is.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final

from benchlink.exporters.errors import ExportError

#: Errors a write into an open file can hit that say something about the destination, not the caller.
_DISK_FULL: Final = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG})
_NOT_ALLOWED: Final = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


@contextlib.contextmanager
def atomic_write(path: Path | str) -> Iterator[IO[bytes]]:
    """Yield a binary file whose content replaces ``path`` only if the block completes.

    On any exception (including :class:`~benchlink.exporters.errors.ExportCancelled`) the
    temporary file is removed and ``path`` keeps its previous content, or stays absent. The
    file is created owner-readable only (``mkstemp``), which suits exports holding PHI.
    Raises :class:`~benchlink.exporters.errors.ExportError` when the destination cannot be
    written; it is checked before any row is produced where that is possible.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise ExportError(f"cannot write {target}: it is a folder; name a file inside it instead")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise ExportError(explain_write_error(target, exc)) from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            try:
                yield handle
            except OSError as exc:
                if exc.errno not in _DISK_FULL:
                    raise
                raise ExportError(explain_write_error(target, exc)) from exc
            _flush(handle, target)
        _replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_directory(directory)


def explain_write_error(target: Path, exc: OSError, *, replacing: bool = False) -> str:
    """One line naming the file the user chose (never the hidden temp file) and what to do."""
    directory = target.parent if str(target.parent) else Path(".")
    reason = exc.strerror or type(exc).__name__
    code = exc.errno
    if code == errno.EISDIR or target.is_dir():
        return f"cannot write {target}: it is a folder; name a file inside it instead"
    if code == errno.ENOTDIR or (directory.exists() and not directory.is_dir()):
        return f"cannot write {target}: {directory} is not a folder; choose another place to save"
    if code == errno.ENOENT and not directory.exists():
        return f"cannot write {target}: the folder {directory} does not exist; create it or choose another place"
    if code in _DISK_FULL:
        return f"cannot write {target}: the disk is full ({reason}); free some space or choose another place"
    if replacing and code in _NOT_ALLOWED:
        return (f"cannot replace {target} ({reason}); close it if another program such as Excel has it open, "
                "or choose another file name")
    if code in _NOT_ALLOWED or code == errno.ENOENT:
        detail = "" if code == errno.ENOENT else f" ({reason})"
        return (f"cannot write {target}: the folder {directory} does not accept new files{detail}; "
                "choose a folder you can write to")
    return f"cannot write {target} ({reason}); choose another place to save"


def _flush(handle: IO[bytes], target: Path) -> None:
    """Flush and fsync so the rename publishes complete content; a failure here is the disk's."""
    try:
        handle.flush()
        os.fsync(handle.fileno())
    except OSError as exc:
        raise ExportError(explain_write_error(target, exc)) from exc


def _replace(tmp: Path, target: Path) -> None:
    try:
        os.replace(tmp, target)
    except OSError as exc:
        raise ExportError(explain_write_error(target, exc, replacing=True)) from exc


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
