"""Migrations: 0001 -> head keeps data, and head equals schema.metadata on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from benchlink.storage.migrator import current_revision, head_revision, migrate
from benchlink.storage.schema import metadata
from benchlink.storage.store import ResultFilter, Store

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def test_upgrade_from_0001_keeps_data(engine: sqlalchemy.Engine) -> None:
    migrate(engine, "0001")
    assert current_revision(engine) == "0001"
    cols = {c["name"] for c in inspect(engine).get_columns("results")}
    assert "exported_at" not in cols
    with engine.begin() as conn:
        mid = conn.execute(
            text(
                "INSERT INTO raw_messages (device, direction, protocol, received_at, data, sha256, "
                "link_meta, decode_status, session) "
                "VALUES ('d', 'in', 'astm', :t, :data, :sha, '{}', 'ok', '') RETURNING id"
            ),
            {"t": T0.replace(tzinfo=None), "data": b"H|old", "sha": "ab" * 32},
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO results (message_id, device, sample_id, instrument_code, value, received_at) "
                "VALUES (:m, 'd', 'S1', 'GLU', '5.5', :t)"
            ),
            {"m": mid, "t": T0.replace(tzinfo=None)},
        )
    store = Store(engine)
    store.migrate()
    assert current_revision(engine) == head_revision()
    (row,) = store.results_page(ResultFilter(exported=False))
    assert (row.sample_id, row.value, row.exported_at, row.received_at) == ("S1", "5.5", None, T0)
    raw = store.raw_message(row.message_id)
    assert raw is not None and raw.data == b"H|old"
    assert store.audit().verify().ok
    assert store.audit().append("a", "b", "c", None, None) == 1


def test_head_matches_schema_metadata(engine: sqlalchemy.Engine) -> None:
    migrate(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        diff = compare_metadata(ctx, metadata)
    assert diff == []


def test_fresh_database_has_no_revision(engine: sqlalchemy.Engine) -> None:
    assert current_revision(engine) is None


def test_the_head_constant_matches_alembics_head() -> None:
    """migrate() skips Alembic when the database records HEAD_REVISION; a new revision file must
    move the constant too, or databases would silently stay on the old schema."""
    from benchlink.storage.migrator import HEAD_REVISION

    assert head_revision() == HEAD_REVISION


def test_a_current_database_is_opened_without_loading_alembic(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from benchlink.storage.database import open_engine\n"
        "from benchlink.storage.migrator import migrate\n"
        f"engine = open_engine(None, path={str(tmp_path / 'a.db')!r}, key=bytes(32))\n"
        "migrate(engine)\n"
        "print('first', 'alembic' in sys.modules)\n"
    )
    first = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    second = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert first.stdout.strip() == "first True", first.stderr  # a new database is migrated by Alembic
    assert second.stdout.strip() == "first False", second.stderr  # a current one is not
