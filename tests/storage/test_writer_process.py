"""The database writer in a child process: same contract as the thread writer, plus what a second
process adds (the key stays off argv/environ, a dead child fails only its batch, an orphaned
child exits). Runs against the real SQLCipher file and the real PostgreSQL server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from tests.helpers import submit_from_threads

from benchlink.core.model import Result
from benchlink.storage.checkpointer import WalCheckpointer
from benchlink.storage.database import open_engine
from benchlink.storage.inbound_sql import InboundSql, to_wire
from benchlink.storage.store import CommitOutcome, InboundMessage, ResultFilter, Store
from benchlink.storage.writer import WriterStoppedError
from benchlink.storage.writer_process import (
    ProcessStoreWriter,
    WriterProcessError,
    _commit_raw,
    open_raw,
    writer_target,
)

MakeMessage = Callable[..., InboundMessage]
T0 = datetime(2025, 3, 1, tzinfo=UTC)


def _writer(store: Store, **kw: int) -> ProcessStoreWriter:
    target = writer_target(store.engine)
    assert target is not None
    writer = ProcessStoreWriter(target, **kw)
    writer.start()
    return writer


def test_commits_happen_in_another_process_and_are_grouped(store: Store, make_message: MakeMessage) -> None:
    writer = _writer(store)
    try:
        assert writer.child_pid is not None and writer.child_pid != os.getpid()
        futures: list[Future[CommitOutcome]] = submit_from_threads(
            lambda n, device: writer.submit(make_message(n, device=device, results=2)))
        _done, not_done = wait(futures, timeout=60)
        assert not not_done
        outcomes = [f.result() for f in futures]
    finally:
        writer.stop(timeout=60)
    assert len({o.message_id for o in outcomes}) == 200
    assert not any(o.duplicate for o in outcomes)
    assert writer.stats.items == 200
    assert writer.stats.batches < 200, "group commit should merge submissions into fewer transactions"
    assert store.count_results(ResultFilter()) == 400


def test_asyncio_commit_settles_every_waiter(store: Store, make_message: MakeMessage) -> None:
    writer = _writer(store)

    async def main() -> list[CommitOutcome]:
        return list(await asyncio.gather(*(writer.commit(make_message(i)) for i in range(40))))

    try:
        outcomes = asyncio.run(main())
        again = asyncio.run(main())  # the same bytes again: retransmits, recognised across the pipe
    finally:
        writer.stop(timeout=60)
    assert len({o.message_id for o in outcomes}) == 40 and not any(o.duplicate for o in outcomes)
    assert [o.message_id for o in again] == [o.message_id for o in outcomes]
    assert all(o.duplicate for o in again)
    assert store.count_results(ResultFilter()) == 120


def test_a_bad_message_fails_alone_with_the_childs_error(store: Store, make_message: MakeMessage) -> None:
    poison = InboundMessage(device="d", protocol="astm", data=b"p", received_at=T0,
                            results=(Result(sample_id="S", instrument_code="T", value=None),))  # type: ignore[arg-type]
    writer = _writer(store)
    try:
        good = [writer.submit(make_message(i)) for i in range(5)]
        bad = writer.submit(poison)
        more = writer.submit(make_message(7))
        assert all(f.result(timeout=60).message_id > 0 for f in [*good, more])
        error = bad.exception(timeout=60)
    finally:
        writer.stop(timeout=60)
    assert error is not None and "value" in str(error).lower()
    assert writer.stats.failed_items == 1
    assert store.count_results(ResultFilter()) == 18


def test_a_killed_child_fails_its_batch_and_the_next_batch_gets_a_new_child(
    store: Store, make_message: MakeMessage
) -> None:
    writer = _writer(store)
    try:
        assert writer.submit(make_message(1)).result(timeout=60).message_id > 0
        first = writer.child_pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        time.sleep(0.2)
        with pytest.raises(WriterProcessError, match="not acknowledged"):
            writer.submit(make_message(2)).result(timeout=60)
        outcome = writer.submit(make_message(3)).result(timeout=60)
        assert outcome.message_id > 0 and not outcome.duplicate
        assert writer.restarts == 1 and writer.child_pid not in (None, first)
    finally:
        writer.stop(timeout=60)
    stored = {r.sample_id for r in store.iter_results(ResultFilter())}
    assert stored == {"S00001", "S00003"}  # message 2 was refused, so its analyzer would resend it


def test_stop_drains_and_refuses_afterwards(store: Store, make_message: MakeMessage) -> None:
    writer = _writer(store, max_batch=7)
    futures = [writer.submit(make_message(i)) for i in range(30)]
    writer.stop(timeout=60)
    assert all(f.done() and f.exception() is None for f in futures)
    assert writer.stats.items == 30 and writer.stats.largest_batch <= 7
    assert writer.child_pid is None or not Path(f"/proc/{writer.child_pid}").exists()
    with pytest.raises(WriterStoppedError):
        writer.submit(make_message(99))


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc to read a child's argv")
def test_the_key_is_not_in_the_childs_argv_or_environment(tmp_path: Path) -> None:
    key = bytes(range(32))
    store = Store(open_engine(None, path=tmp_path / "k.db", key=key))
    store.migrate()
    writer = _writer(store)
    try:
        pid = writer.child_pid
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    finally:
        writer.stop(timeout=60)
    assert b"benchlink" in cmdline  # we did read the right process
    for blob in (cmdline, environ):
        assert key.hex().encode() not in blob and key.hex().upper().encode() not in blob


def test_an_orphaned_child_exits(tmp_path: Path) -> None:
    """SIGKILL the parent (as a crash would): the child sees its pipe close and ends by itself."""
    store = Store(open_engine(None, path=tmp_path / "o.db", key=bytes(32)))
    store.migrate()
    script = textwrap.dedent(f"""
        import os, signal
        from benchlink.storage.database import open_engine
        from benchlink.storage.store import Store
        from benchlink.storage.writer_process import ProcessStoreWriter, writer_target
        store = Store(open_engine(None, path={str(tmp_path / "o.db")!r}, key=bytes(32)))
        writer = ProcessStoreWriter(writer_target(store.engine))
        writer.start()
        print(writer.child_pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    parent = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert parent.returncode == -signal.SIGKILL, parent.stderr
    child = int(parent.stdout.split()[0])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.1)
    assert not _alive(child), f"writer child {child} outlived its parent"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[1].split()[0] == "Z")


def test_in_memory_databases_have_no_writer_target() -> None:
    assert writer_target(sqlalchemy.create_engine("sqlite://")) is None


def test_checkpoints_run_off_the_commit_path(tmp_path: Path, make_message: MakeMessage) -> None:
    """The writer's connection never checkpoints by itself; the checkpointer thread moves the WAL."""
    store = Store(open_engine(None, path=tmp_path / "w.db", key=bytes(32)))
    store.migrate()
    target = writer_target(store.engine)
    assert target is not None
    conn = open_raw(target)  # the connection the writer child commits on
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    sql = InboundSql.for_backend("sqlite")
    for i in range(0, 600, 100):
        _commit_raw(conn, sql, [to_wire(make_message(n, results=5)) for n in range(i, i + 100)])

    db, wal = tmp_path / "w.db", tmp_path / "w.db-wal"
    before = db.stat().st_size
    assert wal.stat().st_size > 1_000_000, "with autocheckpoint off, the WAL holds every commit"
    checkpointer = WalCheckpointer(lambda: open_raw(target), interval=0.01)
    checkpointer.start()
    checkpointer.poke()
    checkpointer.stop()
    assert checkpointer.checkpoints >= 1 and not checkpointer.last_error
    assert db.stat().st_size > before + 1_000_000, "the checkpoint copied the WAL into the database file"
    assert store.count_results(ResultFilter()) == 3000
    conn.close()


class _TailCopyFails:
    """The writer's connection, except that its own checkpoint hits a disk error."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, *args: Any) -> Any:
        if "wal_checkpoint" in sql:
            raise OSError("disk I/O error")
        return self._conn.execute(sql, *args)


def _wal_after_steady_commits(tmp_path: Path, make_message: MakeMessage, name: str, restart_frames: int,
                               hold_reader: bool = False, tail_fails: bool = False,
                               ) -> tuple[int, WalCheckpointer, Store]:
    """Commit 4,000 messages back to back, as a busy writer child does, with the checkpointer
    running; return the WAL file's size at the end."""
    store = Store(open_engine(None, path=tmp_path / name, key=bytes(32)))
    store.migrate()
    target = writer_target(store.engine)
    assert target is not None
    conn = open_raw(target)
    reader = None
    if hold_reader:  # a long read (an export, say) pins an old snapshot the whole time
        reader = open_raw(target)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM results").fetchone()
    checkpointer = WalCheckpointer(lambda: open_raw(target), interval=0.005, restart_frames=restart_frames)
    checkpointer.start()
    sql = InboundSql.for_backend("sqlite")
    try:
        for i in range(0, 4000, 20):
            _commit_raw(conn, sql, [to_wire(make_message(n, device=f"an-{n % 50}", results=4))
                                    for n in range(i, i + 20)])
            checkpointer.after_commit(_TailCopyFails(conn) if tail_fails else conn)
        size = (tmp_path / f"{name}-wal").stat().st_size
    finally:
        checkpointer.stop()
        if reader is not None:
            reader.execute("ROLLBACK")
            reader.close()
        conn.close()
    assert tail_fails or not checkpointer.last_error
    return size, checkpointer, store


def test_the_wal_is_rewound_while_commits_never_stop(tmp_path: Path, make_message: MakeMessage) -> None:
    """PASSIVE checkpoints alone never let the log start over under steady commits (it grew ~110 MB
    a second at 10,000 results/s); the writer copying the short tail itself lets it rewind."""
    grown, _, _ = _wal_after_steady_commits(tmp_path, make_message, "never.db", restart_frames=10**9)
    bounded, checkpointer, store = _wal_after_steady_commits(tmp_path, make_message, "bounded.db",
                                                             restart_frames=400)
    assert checkpointer.rewinds >= 2
    assert grown > 20_000_000, "without rewinds the WAL holds every frame ever written"
    assert bounded < grown / 4, (bounded, grown)
    assert store.count_results(ResultFilter()) == 16_000, "rewinding lost nothing"


def test_a_long_reader_delays_the_rewind_but_never_the_writer(tmp_path: Path, make_message: MakeMessage) -> None:
    _size, checkpointer, store = _wal_after_steady_commits(tmp_path, make_message, "pinned.db", restart_frames=400,
                                                           hold_reader=True)
    assert checkpointer.rewinds == 0, "frames the reader may still need cannot be overwritten"
    assert store.count_results(ResultFilter()) == 16_000


def test_a_failing_tail_copy_never_fails_a_committed_batch(tmp_path: Path, make_message: MakeMessage) -> None:
    """``after_commit`` runs after COMMIT: raising there would fail (and retry) messages that are stored."""
    _size, checkpointer, store = _wal_after_steady_commits(tmp_path, make_message, "failing.db", restart_frames=400,
                                                           tail_fails=True)
    assert "disk I/O error" in checkpointer.last_error and checkpointer.rewinds == 0
    assert store.count_results(ResultFilter()) == 16_000


def test_the_child_encodes_timestamps_exactly_as_sqlalchemy_does(engine: sqlalchemy.Engine) -> None:
    """The child writes rows without SQLAlchemy; its encoders must equal the bind processors the
    Core path uses, or its rows would sort and compare differently (both backends)."""
    from datetime import timedelta, timezone
    from zoneinfo import ZoneInfo

    from benchlink.storage.commit_sql import CommitSql

    core = CommitSql(engine.dialect)
    raw = InboundSql.for_backend(engine.dialect.name)
    values = [
        None,
        datetime(2025, 3, 1, 8, 30),
        datetime(2025, 3, 1, 8, 30, 0, 7),
        datetime(2025, 3, 30, 1, 59, 59, 999999, tzinfo=ZoneInfo("Europe/Berlin")),
        datetime(2025, 3, 30, 3, 0, tzinfo=ZoneInfo("Europe/Berlin")),
        datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2025, 1, 1, tzinfo=UTC),
    ]
    for value in values:
        assert raw.at(value) == core.at(value), value
        assert raw.instrument_at(value) == core.instrument_at(value), value
    assert raw.result_insert == core.result_insert and raw.raw_insert == core.raw_insert


def test_the_child_imports_no_sqlalchemy(tmp_path: Path) -> None:
    """What keeps the writer's interpreter small: it runs on the driver alone."""
    script = (
        "import sys\n"
        "import benchlink.storage.writer_process as w\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'sqlalchemy', 'alembic', 'structlog'}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
