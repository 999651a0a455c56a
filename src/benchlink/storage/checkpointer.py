"""WAL checkpoints off the commit path, and a WAL that stays bounded under sustained load.

SQLite's automatic checkpoint runs inside whichever COMMIT pushes the WAL past 1,000 pages: that
commit then copies the WAL into the database file and fsyncs it, and every analyzer waiting for
that batch's ACK waits too. With nine indexes on ``results`` a batch dirties hundreds of pages, so
under load every few commits paid for a checkpoint (a quarter of the writer's time, and its worst
latencies). The writer process turns the automatic checkpoint off on its connection and runs this
thread instead: PASSIVE checkpoints on a second connection, which never block a writer or reader.

A PASSIVE checkpoint alone never lets the WAL start over while commits keep coming: SQLite rewinds
the log only when a write transaction begins with every frame already copied, and with a commit
every few milliseconds some frame always is not. At 10,000 results/s the file grew by ~110 MB a
second (900 MB in an 8-second benchmark) and would have filled the disk within hours. So once the
WAL passes ``restart_frames`` this thread repeats PASSIVE until only a short tail is left, and the
writer copies that tail itself (:meth:`after_commit`) between two of its transactions. Nobody else
writes, so the log is then complete in the database file and the writer's next transaction rewinds
it. A RESTART checkpoint from this thread would do the same, but it holds the write lock, and the
writer's busy handler then sleeps in steps of 1, 2, 5, 10 ms: measured, p99 rose from ~85 to
~120 ms at 10,000 results/s. The writer's own PASSIVE takes no lock anybody waits for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

#: 32,768 frames of 4 KiB pages: the WAL is rewound once it passes ~128 MiB.
RESTART_FRAMES = 32_768
#: The PASSIVE rounds stop once no more than this many frames wait to be copied.
SHORT_TAIL = 512
#: How many PASSIVE rounds may chase a writer that commits faster than the copy keeps up.
MAX_ROUNDS = 8


class WalCheckpointer:
    """``connect`` opens a DBAPI connection to the same database; it is called on the thread."""

    def __init__(self, connect: Callable[[], Any], *, interval: float = 0.5,
                 restart_frames: int = RESTART_FRAMES) -> None:
        self._connect = connect
        self._interval = interval
        self._restart_frames = restart_frames
        self._tail_ready = False
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.checkpoints = 0
        self.rewinds = 0
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
                    self._checkpoint(conn)
                except Exception as exc:  # noqa: BLE001 - retried at the next poke; commits go on
                    self.last_error = f"{type(exc).__name__}: {exc}"
                if stopping:
                    return
                # Let commits accumulate: one checkpoint per interval moves many commits' pages at once.
                threading.Event().wait(self._interval)
        finally:
            if conn is not None:
                conn.close()

    def after_commit(self, writer: Any) -> None:
        """Called by the writer after each commit, with its own connection (no transaction open)."""
        self._wake.set()
        if not self._tail_ready:
            return
        self._tail_ready = False
        try:
            busy, log, copied = writer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except Exception as exc:  # noqa: BLE001 - the batch is committed already; it must not fail now
            self.last_error = f"{type(exc).__name__}: {exc}"
            return
        if not busy and log == copied:
            self.rewinds += 1

    def _checkpoint(self, conn: Any) -> None:
        _busy, log, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.checkpoints += 1
        if log < self._restart_frames:
            return
        rounds = 1
        while log - copied > SHORT_TAIL and rounds < MAX_ROUNDS:
            _busy, log, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            rounds += 1
        if log - copied <= SHORT_TAIL:
            self._tail_ready = True
