"""Schema upgrades, run from code: the app migrates its own database on start.

No alembic.ini exists at runtime; the script directory ships inside the package and the engine's
connection is handed to ``env.py`` directly, so the key never appears in a config file.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from benchlink.storage.database import WRITE_OPTION

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _config(conn: sqlalchemy.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def migrate(engine: sqlalchemy.Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` in one transaction (all or nothing on both backends)."""
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
        command.upgrade(_config(conn), revision)


def current_revision(engine: sqlalchemy.Engine) -> str | None:
    """The revision the database is at; ``None`` for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    """The newest revision this build of Benchlink knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head
