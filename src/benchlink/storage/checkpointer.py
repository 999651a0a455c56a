"""WAL checkpoints off the commit path.

SQLite's automatic checkpoint runs inside whichever COMMIT pushes the WAL past 1,000 pages: that
commit then copies the WAL into the database file and fsyncs it, and every analyzer waiting for
that batch's ACK waits too. With nine indexes on ``results`` a batch dirties hundreds of pages, so
under load every few commits paid for a checkpoint (a quarter of the writer's time, and its worst
latencies). The writer process turns the automatic checkpoint off on its connection and runs this
thread instead: PASSIVE checkpoints on a second connection, which never block a writer or reader.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class WalCheckpointer:
    """``connect`` opens a DBAPI connection to the same database; it is called on the thread."""

    def __init__(self, connect: Callable[[], Any], *, interval: float = 0.5) -> None:
        self._connect = connect
        self._interval = interval
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.checkpoints = 0
        self.last_error = ""

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="benchlink-wal-checkpoint", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Called after a commit: there is WAL content to move."""
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread after one last checkpoint, so a clean shutdown leaves a short WAL."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)

    def _run(self) -> None:
        conn: Any = None
        try:
            while True:
                self._wake.wait()
                stopping = self._stopping
                self._wake.clear()
                try:
                    if conn is None:
                        conn = self._connect()
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except Exception as exc:  # noqa: BLE001 - retried at the next poke; commits go on
                    self.last_error = f"{type(exc).__name__}: {exc}"
                if stopping:
                    return
                # Let commits accumulate: one checkpoint per interval moves many commits' pages at once.
                threading.Event().wait(self._interval)
        finally:
            if conn is not None:
                conn.close()
