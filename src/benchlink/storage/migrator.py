"""Schema upgrades, run from code: the app migrates its own database on start.

No alembic.ini exists at runtime; the script directory ships inside the package and the engine's
connection is handed to ``env.py`` directly, so the key never appears in a config file.

Alembic is imported only when an upgrade is actually due. A service restarting on a database that
is already current (nearly every start) reads one row of ``alembic_version`` and never loads
Alembic and Mako, which keeps ~15 MB out of every long-running process.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy

from benchlink.storage.database import WRITE_OPTION

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: The newest file in ``migrations/versions``; a test holds it equal to Alembic's own head.
HEAD_REVISION = "0004"


def _config(conn: sqlalchemy.Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def _recorded_revision(engine: sqlalchemy.Engine) -> str | None:
    """``alembic_version`` read with plain SQL; ``None`` when the table does not exist yet."""
    if not sqlalchemy.inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    return str(rows[0]) if len(rows) == 1 else None


def migrate(engine: sqlalchemy.Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` in one transaction (all or nothing on both backends)."""
    if revision == "head" and _recorded_revision(engine) == HEAD_REVISION:
        return
    from alembic import command

    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
        command.upgrade(_config(conn), revision)


def current_revision(engine: sqlalchemy.Engine) -> str | None:
    """The revision the database is at; ``None`` for an empty database."""
    return _recorded_revision(engine)


def head_revision() -> str:
    """The newest revision this build of Benchlink knows (asked of Alembic, not the constant)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head
