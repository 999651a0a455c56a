"""The audit chain detects edits, deletions and reordering done behind the application's back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy
from sqlalchemy import delete, select, update

from benchlink.storage.audit import AuditLog
from benchlink.storage.schema import audit, audit_head
from benchlink.storage.store import Store

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def _fill(store: Store, n: int = 10) -> AuditLog:
    log = store.audit()
    for i in range(n):
        new_id = log.append(
            f"user{i % 3}",
            "mapping.edit",
            f"mapping:{i}",
            {"lis": f"old{i}"},
            {"lis": f"new{i}", "é": "ü"},
            at=T0 + timedelta(seconds=i, microseconds=123),
        )
        assert new_id == i + 1
    return log


def _sql(store: Store, stmt: sqlalchemy.Executable) -> None:
    with store.engine.begin() as conn:
        conn.execute(stmt)


def test_untouched_chain_verifies(store: Store) -> None:
    log = _fill(store)
    report = log.verify(batch=3)
    assert report.ok and report.checked == 10 and report.first_bad_id is None


def test_empty_chain_verifies(store: Store) -> None:
    report = store.audit().verify()
    assert report.ok and report.checked == 0


def test_edit_is_detected(store: Store) -> None:
    log = _fill(store)
    _sql(store, update(audit).where(audit.c.id == 4).values(after='{"lis":"forged"}'))
    report = log.verify()
    assert not report.ok and report.first_bad_id == 4 and "modified" in report.reason
    assert report.checked == 3


def test_edit_of_actor_and_time_is_detected(store: Store) -> None:
    log = _fill(store)
    _sql(store, update(audit).where(audit.c.id == 7).values(at=T0 + timedelta(days=1)))
    assert log.verify().first_bad_id == 7
    _sql(store, update(audit).where(audit.c.id == 2).values(actor="mallory"))
    assert log.verify().first_bad_id == 2


def test_rehashed_edit_is_detected_by_the_next_link(store: Store) -> None:
    """A forger who recomputes the edited row's hash still breaks the following row's prev_hash."""
    log = _fill(store)
    with store.engine.connect() as conn:
        row = conn.execute(select(audit).where(audit.c.id == 5)).one()
    from benchlink.storage.audit import entry_hash

    forged = entry_hash(
        row.prev_hash,
        entry_id=5,
        at=row.at,
        actor="mallory",
        action=row.action,
        target=row.target,
        before=row.before,
        after=row.after,
    )
    _sql(store, update(audit).where(audit.c.id == 5).values(actor="mallory", hash=forged))
    report = log.verify()
    assert not report.ok and report.first_bad_id == 6 and "link" in report.reason


def test_deleted_row_is_detected(store: Store) -> None:
    log = _fill(store)
    _sql(store, delete(audit).where(audit.c.id == 6))
    report = log.verify()
    assert not report.ok and report.first_bad_id == 7 and "6" in report.reason and "deleted" in report.reason


def test_deleted_newest_rows_are_detected(store: Store) -> None:
    log = _fill(store)
    _sql(store, delete(audit).where(audit.c.id >= 9))
    report = log.verify()
    assert not report.ok and report.first_bad_id == 9 and "deleted" in report.reason


def test_swapped_rows_are_detected(store: Store) -> None:
    log = _fill(store)
    with store.engine.connect() as conn:
        r3 = conn.execute(select(audit).where(audit.c.id == 3)).one()._asdict()
        r8 = conn.execute(select(audit).where(audit.c.id == 8)).one()._asdict()
    for row, into in ((r3, 8), (r8, 3)):
        values = {k: v for k, v in row.items() if k != "id"}
        _sql(store, update(audit).where(audit.c.id == into).values(**values))
    report = log.verify()
    assert not report.ok and report.first_bad_id == 3


def test_appending_after_tamper_does_not_heal(store: Store) -> None:
    log = _fill(store)
    _sql(store, update(audit).where(audit.c.id == 2).values(target="elsewhere"))
    log.append("x", "y", "z", None, None)
    assert log.verify().first_bad_id == 2


def test_head_reset_with_forged_tail_is_detected(store: Store) -> None:
    log = _fill(store)
    _sql(store, update(audit_head).values(last_id=12))
    report = log.verify()
    assert not report.ok and report.first_bad_id == 11


def test_append_inside_caller_transaction_rolls_back_with_it(store: Store) -> None:
    log = store.audit()
    try:
        with store.engine.begin() as conn:
            log.append("a", "b", "c", None, {"k": 1}, conn=conn)
            raise RuntimeError("caller failed")
    except RuntimeError:
        pass
    assert log.search() == []
    assert log.append("a", "b", "c", None, None) == 1
    assert log.verify().ok


def test_search_filters_and_pages(store: Store) -> None:
    log = _fill(store)
    mine = log.search(actor="user1")
    assert [e.id for e in mine] == [8, 5, 2]
    assert mine[0].after == {"lis": "new7", "é": "ü"}
    assert [e.id for e in log.search(before_id=3)] == [2, 1]
    assert [e.id for e in log.search(limit=2)] == [10, 9]
