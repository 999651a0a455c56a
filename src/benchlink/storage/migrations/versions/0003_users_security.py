"""Users and roles: lockout counters, password age, last login and a hashed service token.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03

Existing user rows keep their data; the new columns start empty (no failures, no lock, no token).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_NEW_COLUMNS = ("failed_attempts", "locked_until", "password_changed_at", "last_login_at", "token_hash",
                "token_created_at")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("failed_attempts", sa.Integer, nullable=False, server_default=sa.text("0")))
        batch.add_column(sa.Column("locked_until", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("password_changed_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("last_login_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("token_hash", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("token_created_at", sa.DateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        for name in reversed(_NEW_COLUMNS):
            batch.drop_column(name)
