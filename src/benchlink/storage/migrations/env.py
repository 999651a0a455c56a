"""Alembic environment, driven programmatically by :func:`benchlink.storage.migrator.migrate`.

The caller hands over an open connection (inside its transaction) through
``config.attributes["connection"]``, so no alembic.ini and no URL with a key in it exist anywhere.
"""

from __future__ import annotations

from alembic import context

from benchlink.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through benchlink.storage.migrator.migrate(engine)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds the table
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
