"""The hash-chained, append-only audit trail (guarantee 6).

Each entry's hash is SHA-256 over the previous entry's hash and a canonical JSON form of the
entry itself, *including its id*. So editing a row breaks its own hash, deleting one leaves a
gap in the ids, and moving rows breaks the links. ``audit_head`` remembers the tip of the chain so
that deleting the newest entries is noticed too. An attacker able to rewrite the whole chain and
the head can still forge it; the chain makes tampering evident, it does not prevent it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy
from sqlalchemy import insert, select, update

from benchlink.storage.database import WRITE_OPTION
from benchlink.storage.schema import GENESIS_HASH, audit, audit_head


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class AuditReport:
    """Outcome of :meth:`AuditLog.verify`; ``first_bad_id`` is the first entry that fails."""

    ok: bool
    checked: int
    first_bad_id: int | None
    reason: str


def canonical_json(value: Mapping[str, Any] | None) -> str | None:
    """One byte-exact JSON text per value: sorted keys, no spaces, UTF-8 kept as is."""
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _timestamp(at: datetime) -> str:
    # Microsecond precision survives both SQLite and PostgreSQL; tz is normalised to UTC.
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    prev_hash: str,
    *,
    entry_id: int,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    before: str | None,
    after: str | None,
) -> str:
    """The chain link: SHA-256 of the previous hash and the entry's canonical form."""
    body = canonical_json(
        {
            "id": entry_id,
            "at": _timestamp(at),
            "actor": actor,
            "action": action,
            "target": target,
            "before": before,
            "after": after,
        }
    )
    assert body is not None
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


class AuditLog:
    """Append and verify the audit chain; no method updates or deletes an entry."""

    def __init__(self, engine: sqlalchemy.Engine) -> None:
        self._engine = engine

    def append(
        self,
        actor: str,
        action: str,
        target: str,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
        *,
        conn: sqlalchemy.Connection | None = None,
        at: datetime | None = None,
    ) -> int:
        """Add one entry and return its id. Pass ``conn`` to join the caller's transaction."""
        if conn is not None:
            return self._append(conn, actor, action, target, before, after, at)
        with self._engine.connect().execution_options(**{WRITE_OPTION: True}) as own, own.begin():
            return self._append(own, actor, action, target, before, after, at)

    def _append(
        self,
        conn: sqlalchemy.Connection,
        actor: str,
        action: str,
        target: str,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
        at: datetime | None,
    ) -> int:
        # FOR UPDATE serialises appenders on PostgreSQL; SQLite has one writer anyway.
        head = conn.execute(select(audit_head).where(audit_head.c.id == 1).with_for_update()).first()
        if head is None:
            conn.execute(insert(audit_head).values(id=1, last_id=0, last_hash=GENESIS_HASH))
            last_id, last_hash = 0, GENESIS_HASH
        else:
            last_id, last_hash = int(head.last_id), str(head.last_hash)
        # Truncate to microseconds and drop tz exactly as storage will, so the hash matches on reread.
        when = (at or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
        new_id = last_id + 1
        before_text, after_text = canonical_json(before), canonical_json(after)
        digest = entry_hash(
            last_hash,
            entry_id=new_id,
            at=when,
            actor=actor,
            action=action,
            target=target,
            before=before_text,
            after=after_text,
        )
        conn.execute(
            insert(audit).values(
                id=new_id,
                at=when,
                actor=actor,
                action=action,
                target=target,
                before=before_text,
                after=after_text,
                prev_hash=last_hash,
                hash=digest,
            )
        )
        moved = conn.execute(
            update(audit_head)
            .where(audit_head.c.id == 1, audit_head.c.last_id == last_id)
            .values(last_id=new_id, last_hash=digest)
        )
        if moved.rowcount != 1:
            raise RuntimeError("audit chain head moved during append (concurrent writer); retry the action")
        return new_id

    def _rows(self, batch: int) -> Iterator[sqlalchemy.Row[Any]]:
        last = 0
        while True:
            with self._engine.connect() as conn:
                rows = conn.execute(
                    select(audit).where(audit.c.id > last).order_by(audit.c.id).limit(batch)
                ).all()
            if not rows:
                return
            yield from rows
            last = int(rows[-1].id)

    def verify(self, *, batch: int = 5000) -> AuditReport:
        """Walk the whole chain; report the first entry that was edited, moved or follows a deletion."""
        expected_id, prev = 1, GENESIS_HASH
        checked = 0
        for row in self._rows(batch):
            rid = int(row.id)
            if rid != expected_id:
                missing = f"{expected_id}" if rid == expected_id + 1 else f"{expected_id}..{rid - 1}"
                return AuditReport(
                    False, checked, rid, f"entry {missing} missing before entry {rid} (deleted)"
                )
            if row.prev_hash != prev:
                return AuditReport(
                    False,
                    checked,
                    rid,
                    f"entry {rid} does not link to entry {rid - 1} (rows moved, or the previous one edited)",
                )
            recomputed = entry_hash(
                prev,
                entry_id=rid,
                at=row.at,
                actor=row.actor,
                action=row.action,
                target=row.target,
                before=row.before,
                after=row.after,
            )
            if recomputed != row.hash:
                return AuditReport(False, checked, rid, f"entry {rid} was modified after it was written")
            prev = row.hash
            expected_id += 1
            checked += 1
        with self._engine.connect() as conn:
            head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).first()
        last_id = expected_id - 1
        if head is not None and (int(head.last_id) != last_id or head.last_hash != prev):
            if int(head.last_id) > last_id:
                return AuditReport(
                    False,
                    checked,
                    last_id + 1,
                    f"the newest entries {last_id + 1}..{int(head.last_id)} were deleted",
                )
            return AuditReport(
                False,
                checked,
                int(head.last_id) + 1,
                "the chain continues past its recorded head (entries inserted by hand)",
            )
        if head is None and checked:
            return AuditReport(False, checked, None, "the chain head record is missing")
        return AuditReport(True, checked, None, f"{checked} entries verified")

    def search(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        action_prefix: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Newest first, keyset paged with ``before_id``."""
        stmt = select(audit)
        if actor is not None:
            stmt = stmt.where(audit.c.actor == actor)
        if action is not None:
            stmt = stmt.where(audit.c.action == action)
        if action_prefix is not None:  # "quarantine" finds quarantine.retried and quarantine.dismissed
            stmt = stmt.where(audit.c.action.startswith(action_prefix, autoescape=True))
        if target is not None:
            stmt = stmt.where(audit.c.target == target)
        if since is not None:
            stmt = stmt.where(audit.c.at >= since)
        if until is not None:
            stmt = stmt.where(audit.c.at < until)
        if before_id is not None:
            stmt = stmt.where(audit.c.id < before_id)
        with self._engine.connect() as conn:
            rows = conn.execute(stmt.order_by(audit.c.id.desc()).limit(limit)).all()
        return [
            AuditEntry(
                id=int(r.id),
                at=r.at,
                actor=r.actor,
                action=r.action,
                target=r.target,
                before=json.loads(r.before) if r.before is not None else None,
                after=json.loads(r.after) if r.after is not None else None,
                prev_hash=r.prev_hash,
                hash=r.hash,
            )
            for r in rows
        ]
