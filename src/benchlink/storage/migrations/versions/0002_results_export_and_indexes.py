"""Export tracking and the results indexes behind the paged results view.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02

Adds ``results.exported_at`` and the ``exports`` log, plus one ``(column, received_at, id)`` index
per results filter so a keyset page stays an index range walk at a million rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_INDEXES: tuple[tuple[str, list[str]], ...] = (
    ("ix_results_message_id", ["message_id"]),
    ("ix_results_received_at_id", ["received_at", "id"]),
    ("ix_results_device_received", ["device", "received_at", "id"]),
    ("ix_results_sample_id_received", ["sample_id", "received_at", "id"]),
    ("ix_results_patient_id_received", ["patient_id", "received_at", "id"]),
    ("ix_results_instrument_code_received", ["instrument_code", "received_at", "id"]),
    ("ix_results_lis_code_received", ["lis_code", "received_at", "id"]),
    ("ix_results_flags_received", ["flags", "received_at", "id"]),
    ("ix_results_kind_received", ["kind", "received_at", "id"]),
)


def upgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("exported_at", sa.DateTime, nullable=True))
    for name, columns in _INDEXES:
        op.create_index(name, "results", columns)
    op.create_index(
        "ix_results_unexported",
        "results",
        ["received_at", "id"],
        sqlite_where=sa.text("exported_at IS NULL"),
        postgresql_where=sa.text("exported_at IS NULL"),
    )
    op.create_table(
        "exports",
        sa.Column("id", ID, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("destination", sa.Text, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("first_result_id", ID, nullable=True),
        sa.Column("last_result_id", ID, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("exports")
    op.drop_index("ix_results_unexported", "results")
    for name, _columns in _INDEXES:
        op.drop_index(name, "results")
    with op.batch_alter_table("results") as batch:
        batch.drop_column("exported_at")
