"""Replay: derive results again from the verbatim raw messages (guarantee 2).

After a mapping fix or a driver upgrade, every stored message is decoded again and its results
are replaced. The raw bytes are never touched. Storage does not import drivers: the caller hands
in ``decode(device, data) -> results`` (the CLI builds it from the plugin manager), and
optionally the mapping table to apply.

Idempotent by construction: a message whose new results equal the stored ones (every column but
the id) is left alone, so a second run changes nothing. A result whose content is unchanged
keeps its ``exported_at``; a changed one becomes unexported, because the LIS has the old value
and must get the corrected one. A message the new decoder cannot decode keeps its old results
(a broken driver must not erase data); it is counted as failed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy

from benchlink.core.mapping import MappingTable
from benchlink.core.model import Result
from benchlink.storage.commit_sql import RESULT_COLUMNS, CommitSql
from benchlink.storage.database import WRITE_OPTION

DecodeFn = Callable[[str, bytes], tuple[Result, ...]]
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ReplayFilter:
    device: str | None = None
    since: datetime | None = None
    include_quarantined: bool = False


@dataclass(slots=True)
class ReplayReport:
    """What one replay run did (also the ``after`` of its audit entry)."""

    messages: int = 0  # raw messages looked at
    replaced: int = 0  # messages whose results changed
    unchanged: int = 0
    failed: int = 0  # decode raised: old results kept
    fragments_skipped: int = 0
    quarantine_retried: int = 0
    results_before: int = 0  # of the replaced messages
    results_after: int = 0
    errors: list[str] = field(default_factory=list)  # first few, "message <id>: <error>"


@dataclass(frozen=True, slots=True)
class _Raw:
    id: int
    device: str
    data: bytes
    received_at: Any  # as stored (encoded): reused verbatim for the results rows
    quarantined: bool


_MAX_ERRORS = 20


class Replayer:
    """Runs replays against one engine; audit entries go through ``audit``."""

    def __init__(self, engine: sqlalchemy.Engine, audit: Any) -> None:
        self._engine = engine
        self._audit = audit
        self._sql = CommitSql(engine.dialect)
        self._mark = self._sql.mark

    # ------------------------------------------------------------------ selection
    def _where(self, flt: ReplayFilter) -> tuple[str, list[Any]]:
        states = "'ok', 'empty', 'quarantined'" if flt.include_quarantined else "'ok', 'empty'"
        clauses = ["direction = 'in'", f"decode_status IN ({states})"]
        params: list[Any] = []
        if flt.device is not None:
            clauses.append(f"device = {self._mark}")
            params.append(flt.device)
        if flt.since is not None:
            clauses.append(f"received_at >= {self._mark}")
            params.append(self._sql.at(flt.since))
        return " AND ".join(clauses), params

    def count(self, flt: ReplayFilter) -> int:
        where, params = self._where(flt)
        with self._engine.connect() as conn:
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cur.execute(f"SELECT count(*) FROM raw_messages WHERE {where}", params)
            return int(cur.fetchone()[0])

    def _batch(self, flt: ReplayFilter, after: int, size: int) -> tuple[list[_Raw], int, int]:
        """The next ``size`` candidates after id ``after``; also (fragments skipped, last id)."""
        where, params = self._where(flt)
        sql = (
            "SELECT r.id, r.device, r.data, r.received_at, r.link_meta, r.decode_status, "
            "(SELECT count(*) FROM quarantine q WHERE q.message_id = r.id AND q.state = 'open') "
            f"FROM raw_messages r WHERE {where} AND r.id > {self._mark} ORDER BY r.id LIMIT {int(size)}"
        )
        with self._engine.connect() as conn:
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cur.execute(sql, [*params, after])
            rows = cur.fetchall()
        out: list[_Raw] = []
        fragments = 0
        for rid, device, data, received_at, link_meta, status, open_q in rows:
            try:
                meta = json.loads(link_meta or "{}")
            except ValueError:
                meta = {}
            if isinstance(meta, dict) and "fragment" in meta:
                fragments += 1
                continue
            if status == "quarantined" and not open_q:
                continue  # dismissed or already retried: an operator decided, leave it
            out.append(_Raw(int(rid), device, bytes(data), received_at, status == "quarantined"))
        last = int(rows[-1][0]) if rows else after
        return out, fragments, last

    # ------------------------------------------------------------------ run
    def run(
        self,
        decode: DecodeFn,
        flt: ReplayFilter = ReplayFilter(),
        *,
        mapping: MappingTable | None = None,
        actor: str,
        batch: int = 200,
        progress: ProgressFn | None = None,
    ) -> ReplayReport:
        total = self.count(flt)
        report = ReplayReport()
        after = 0
        done = 0
        while True:
            raws, fragments, last = self._batch(flt, after, batch)
            report.fragments_skipped += fragments
            if last == after:
                break
            after = last
            decoded: list[tuple[_Raw, list[tuple[Any, ...]]]] = []
            for raw in raws:
                report.messages += 1
                try:
                    results = decode(raw.device, raw.data)
                    if mapping is not None:
                        results = tuple(mapping.apply(raw.device, r) for r in results)
                    rows = [self._sql.result_row(raw.id, raw.device, raw.received_at, r) for r in results]
                except Exception as exc:  # noqa: BLE001 - any driver failure: keep old results, report
                    report.failed += 1
                    if len(report.errors) < _MAX_ERRORS:
                        report.errors.append(f"message {raw.id}: {type(exc).__name__}: {exc}")
                    continue
                decoded.append((raw, rows))
            if decoded:
                self._apply(decoded, report, actor)
            done += fragments + len(raws)
            if progress is not None:
                progress(min(done, total), total)
        self._audit.append(
            actor,
            "replay",
            "results",
            {"filter": {"device": flt.device, "since": flt.since, "quarantined": flt.include_quarantined}},
            {k: v for k, v in asdict(report).items() if k != "errors"} | {"errors": report.errors[:5]},
        )
        return report

    def _apply(self, decoded: Sequence[tuple[_Raw, list[tuple[Any, ...]]]], report: ReplayReport,
               actor: str) -> None:
        """One transaction per batch: compare with what is stored, replace what differs."""
        ids = [raw.id for raw, _ in decoded]
        marks = ", ".join([self._mark] * len(ids))
        cols = ", ".join(RESULT_COLUMNS)
        with self._engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cur.execute(f"SELECT {cols} FROM results WHERE message_id IN ({marks}) ORDER BY id", ids)
            old: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
            for row in cur.fetchall():
                old[int(row[0])].append(tuple(row))
            replace_ids: list[int] = []
            inserts: list[tuple[Any, ...]] = []
            for raw, rows in decoded:
                before = old.get(raw.id, [])
                if not raw.quarantined and [r[:-1] for r in before] == [r[:-1] for r in rows]:
                    report.unchanged += 1
                    continue
                # Unchanged content keeps its export stamp; changed content must be exported again.
                stamps: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
                for r in before:
                    stamps[r[1:-1]].append(r[-1])
                for r in rows:
                    kept = stamps.get(r[1:-1])
                    inserts.append((*r[:-1], kept.pop(0) if kept else None))
                replace_ids.append(raw.id)
                report.replaced += 1
                report.results_before += len(before)
                report.results_after += len(rows)
            if replace_ids:
                marks = ", ".join([self._mark] * len(replace_ids))
                cur.execute(f"DELETE FROM results WHERE message_id IN ({marks})", replace_ids)
                self._sql.insert_results(cur, inserts)
            for raw, _ in decoded:
                if raw.quarantined:
                    self._retry_quarantine(conn, cur, raw.id, actor)
                    report.quarantine_retried += 1

    def _retry_quarantine(self, conn: sqlalchemy.Connection, cur: Any, message_id: int, actor: str) -> None:
        m = self._mark
        cur.execute(f"UPDATE raw_messages SET decode_status = 'ok' WHERE id = {m}", (message_id,))
        cur.execute(f"SELECT id FROM quarantine WHERE message_id = {m} AND state = 'open' ORDER BY id",
                    (message_id,))
        qids = [int(r[0]) for r in cur.fetchall()]
        now = self._sql.at(datetime.now().astimezone())
        for qid in qids:
            cur.execute(f"UPDATE quarantine SET state = 'retried', updated_at = {m} WHERE id = {m}", (now, qid))
            self._audit.append(actor, "quarantine.retried", f"quarantine:{qid}", {"state": "open"},
                               {"state": "retried", "by": "replay", "message_id": message_id}, conn=conn)

