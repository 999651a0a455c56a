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

import sqlalchemy


class WalCheckpointer:
    def __init__(self, engine: sqlalchemy.Engine, *, interval: float = 0.5) -> None:
        self._engine = engine
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
        while True:
            self._wake.wait()
            stopping = self._stopping
            self._wake.clear()
            self.checkpoint()
            if stopping:
                return
            # Let commits accumulate: one checkpoint per interval moves many commits' pages at once.
            threading.Event().wait(self._interval)

    def checkpoint(self) -> None:
        try:
            raw = self._engine.raw_connection()
            try:
                cur = raw.driver_connection.cursor()  # type: ignore[union-attr]
                cur.execute("PRAGMA wal_checkpoint(PASSIVE)")
                cur.fetchall()
                cur.close()
            finally:
                raw.close()
            self.checkpoints += 1
        except Exception as exc:  # noqa: BLE001 - a failed checkpoint is retried next time; commits go on
            self.last_error = f"{type(exc).__name__}: {exc}"
