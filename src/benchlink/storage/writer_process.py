"""Group commit in a child process, so the database work runs on another CPU core.

Why a process and not the writer thread: the sqlite3 driver releases the GIL around every
``sqlite3_step`` and takes it back afterwards, so an ``executemany`` of 500 result rows is 500
GIL hand-overs with the event-loop thread. With 200 analyzers busy, each hand-over waits for the
loop's switch interval, commits crawl, and both threads spend their time queueing for the GIL
instead of working (``serve`` used 0.8 of 2 cores at its ceiling). A child process has its own
interpreter: the parent pickles one batch, the child commits it, one reply settles every waiter.

The parent keeps the whole contract of :class:`~benchlink.storage.writer.GroupCommitWriter`
(bounded queue, drain on stop, a poisoned message isolated, futures settled only after COMMIT).
What crosses the pipe is plain tuples, never the key in argv or the environment: the database URL
(with the key) is sent once over the pipe after the child starts.

If the child dies, the batch in flight fails (its messages were never ACKed, so analyzers
retransmit) and the next batch starts a fresh child.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from benchlink.storage.checkpointer import WalCheckpointer
from benchlink.storage.inbound_sql import CommitOutcome, InboundMessage, InboundSql, WireMessage, to_wire
from benchlink.storage.sqlite_pragmas import connection_pragmas, key_pragma
from benchlink.storage.writer import GroupCommitWriter, Settled, commit_isolated

if TYPE_CHECKING:
    import sqlalchemy

#: The writer commits appends; it needs far less decrypted page cache than a reader scanning results.
WRITER_CACHE_KIB = 8 * 1024


class WriterProcessError(RuntimeError):
    """The writer process could not start, or died; the message was not stored and must not be ACKed."""


class CommitFailed(RuntimeError):
    """A commit failed inside the writer process; the text names the original error."""


def writer_target(engine: sqlalchemy.Engine) -> dict[str, Any] | None:
    """How the child opens the same database without SQLAlchemy (key included, sent over the pipe
    only); ``None`` for in-memory SQLite, which exists inside this process alone."""
    url = engine.url
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.database in (None, "", ":memory:"):
            return None
        password = url.password or ""
        if not (password.startswith("x'") and password.endswith("'")):
            return None  # not the raw-key form this package writes; keep the thread writer
        return {"backend": "sqlite", "path": url.database, "key_hex": password[2:-1]}
    if backend == "postgresql":
        return {"backend": "postgresql", "conninfo": url.set(drivername="postgresql").render_as_string(
            hide_password=False)}
    return None


def open_raw(target: Mapping[str, Any], *, cache_kib: int = WRITER_CACHE_KIB, wal_autocheckpoint: int = 0) -> Any:
    """A DBAPI connection to ``target`` in autocommit mode, set up as the engine's connections are."""
    if target["backend"] == "sqlite":
        import sqlcipher3

        conn = sqlcipher3.connect(target["path"], isolation_level=None, check_same_thread=False, timeout=30.0)
        conn.execute(key_pragma(target["key_hex"]))
        for pragma in connection_pragmas(cache_kib, wal_autocheckpoint):
            conn.execute(pragma)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # proves the key opens it
        return conn
    import psycopg

    return psycopg.connect(target["conninfo"], autocommit=True)


def _commit_raw(conn: Any, sql: InboundSql, batch: Sequence[WireMessage]) -> list[CommitOutcome]:
    """One transaction, as ``Store.commit_inbound`` runs it (BEGIN IMMEDIATE on SQLite)."""
    if not batch:
        return []
    cur = conn.cursor()
    try:
        cur.execute("BEGIN IMMEDIATE" if sql.dialect_name == "sqlite" else "BEGIN")
        try:
            outcomes = sql.commit_wire(cur, batch)
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")
        return outcomes
    finally:
        cur.close()


def _encode_settled(item: Settled) -> tuple[Any, ...]:
    if isinstance(item, BaseException):
        return ("err", f"{type(item).__name__}: {item}")
    return ("ok", item.message_id, item.duplicate, item.quarantine_id)


def _decode_settled(item: tuple[Any, ...]) -> Settled:
    if item[0] == "err":
        return CommitFailed(item[1])
    return CommitOutcome(item[1], item[2], item[3])


#: argv[1] that makes a frozen (PyInstaller) build run :func:`child_entry` instead of the CLI.
CHILD_FLAG = "--benchlink-db-writer-child"
_LENGTH = struct.Struct(">I")


def _send(stream: IO[bytes], obj: object) -> None:
    payload = pickle.dumps(obj, protocol=5)
    stream.write(_LENGTH.pack(len(payload)) + payload)
    stream.flush()


def _recv(stream: IO[bytes]) -> Any:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("the other end of the database writer pipe closed")
    (size,) = _LENGTH.unpack(head)
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError("the database writer pipe closed mid-message")
    return pickle.loads(payload)


def child_command() -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable, CHILD_FLAG]
    return [sys.executable, "-c", "from benchlink.storage.writer_process import child_entry; child_entry()"]


def child_entry() -> None:
    """The child's whole life: open the database, then commit batches until told to stop or orphaned.

    Requests arrive on stdin and replies leave on stdout; anything else the child prints goes to
    stderr so it cannot corrupt the pipe.
    """
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr
    # Ctrl-C and a service manager's SIGTERM reach the whole process group; the parent decides when
    # the queue is drained, so the child only ever stops on its say-so or when the pipe closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        config = _recv(requests)
        conn = open_raw(config["target"], cache_kib=config.get("cache_kib", WRITER_CACHE_KIB))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        _send(replies, ("failed", f"{type(exc).__name__}: {exc}"))
        return
    sql = InboundSql.for_backend(config["target"]["backend"])
    checkpointer = (WalCheckpointer(lambda: open_raw(config["target"], cache_kib=1024))
                    if sql.dialect_name == "sqlite" else None)

    def commit(batch: Sequence[WireMessage]) -> list[CommitOutcome]:
        return _commit_raw(conn, sql, batch)

    if checkpointer is not None:
        checkpointer.start()
    _send(replies, ("ready", os.getpid()))
    try:
        while True:
            try:
                request = _recv(requests)
            except (EOFError, OSError):
                break  # the parent is gone; nothing uncommitted was ever acknowledged
            if request[0] == "stop":
                _send(replies, ("stopped",))
                break
            settled = commit_isolated(commit, request[1])
            try:
                _send(replies, ("done", [_encode_settled(s) for s in settled]))
            except OSError:
                break
            if checkpointer is not None:
                # After the reply, so the WAL tail it may copy never delays this batch's ACKs.
                checkpointer.after_commit(conn)
    finally:
        if checkpointer is not None:
            checkpointer.stop()
        conn.close()


class ProcessStoreWriter(GroupCommitWriter):
    """Same contract as :class:`~benchlink.storage.writer.StoreWriter`; the commit runs in a child."""

    def __init__(self, target: Mapping[str, Any], *, max_batch: int = 500, max_queue: int = 10_000,
                 cache_kib: int = WRITER_CACHE_KIB) -> None:
        super().__init__(max_batch=max_batch, max_queue=max_queue)
        self._target = dict(target)
        self._cache_kib = cache_kib
        self._process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def child_pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def _open(self) -> None:
        self._spawn()

    def _spawn(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        process = subprocess.Popen(child_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        assert process.stdin is not None and process.stdout is not None
        try:
            _send(process.stdin, {"target": self._target, "cache_kib": self._cache_kib})
            status = _recv(process.stdout)
        except (EOFError, OSError) as exc:
            process.kill()
            process.wait(10)
            raise WriterProcessError(
                f"the database writer process exited while starting (exit code {process.returncode}): {exc}; "
                "its error is on stderr above"
            ) from None
        if status[0] != "ready":
            process.wait(10)
            raise WriterProcessError(f"the database writer process could not open the database: {status[1]}")
        self._process = process

    def _commit_batch(self, batch: Sequence[InboundMessage]) -> list[Settled]:
        if self._process is None:
            self.restarts += 1
            self._spawn()
        process = self._process
        assert process is not None and process.stdin is not None and process.stdout is not None
        try:
            _send(process.stdin, ("commit", [to_wire(m) for m in batch]))
            reply = _recv(process.stdout)
        except (EOFError, OSError) as exc:
            code = self._reap()
            raise WriterProcessError(
                f"the database writer process died (exit code {code}) with {len(batch)} message(s) in "
                f"flight; they were not acknowledged and the analyzers will resend them ({exc})"
            ) from None
        return [_decode_settled(item) for item in reply[1]]

    def _reap(self) -> int | None:
        process, self._process = self._process, None
        if process is None:
            return None
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        return process.returncode

    def _close(self) -> None:
        process = self._process
        if process is not None and process.stdin is not None and process.stdout is not None:
            try:
                _send(process.stdin, ("stop",))
                _recv(process.stdout)
            except (EOFError, OSError):
                pass
        self._reap()
