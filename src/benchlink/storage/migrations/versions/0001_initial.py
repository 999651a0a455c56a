"""Initial schema: raw messages, quarantine, results, reference data, users, audit chain.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Written out by hand (not generated from ``schema.metadata``, which describes head) so that this
revision builds the same database forever.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column[int]:
    return sa.Column("id", ID, primary_key=True)


def upgrade() -> None:
    op.create_table(
        "devices",
        _id(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("protocol", sa.String(20), nullable=False, server_default=""),
        sa.Column("settings", sa.Text, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("name", name="uq_devices_name"),
    )
    op.create_table(
        "raw_messages",
        _id(),
        sa.Column("device", sa.String(100), nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("protocol", sa.String(20), nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("link_meta", sa.Text, nullable=False, server_default="{}"),
        sa.Column("decode_status", sa.String(20), nullable=False),
        sa.Column("session", sa.String(100), nullable=False, server_default=""),
        sa.UniqueConstraint("device", "direction", "sha256", name="uq_raw_messages_device_direction_sha256"),
    )
    op.create_index("ix_raw_messages_received_at", "raw_messages", ["received_at"])
    op.create_table(
        "quarantine",
        _id(),
        sa.Column(
            "message_id",
            ID,
            sa.ForeignKey("raw_messages.id", name="fk_quarantine_message_id_raw_messages"),
            nullable=True,
        ),
        sa.Column("device", sa.String(100), nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("state", sa.String(10), nullable=False, server_default="open"),
        sa.Column("updated_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_quarantine_state_id", "quarantine", ["state", "id"])
    op.create_table(
        "patients",
        _id(),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("birth_date", sa.String(20), nullable=False, server_default=""),
        sa.Column("sex", sa.String(10), nullable=False, server_default=""),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("patient_id", name="uq_patients_patient_id"),
    )
    op.create_table(
        "samples",
        _id(),
        sa.Column("sample_id", sa.String(64), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("collected_at", sa.DateTime, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("sample_id", name="uq_samples_sample_id"),
    )
    op.create_table(
        "orders",
        _id(),
        sa.Column("sample_id", sa.String(64), nullable=False),
        sa.Column("test", sa.String(64), nullable=False),
        sa.Column("priority", sa.String(4), nullable=False, server_default="R"),
        sa.Column("patient_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("patient_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("device", sa.String(100), nullable=False, server_default=""),
        sa.Column("state", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_orders_sample_id_state", "orders", ["sample_id", "state"])
    op.create_table(
        "results",
        _id(),
        sa.Column(
            "message_id",
            ID,
            sa.ForeignKey("raw_messages.id", name="fk_results_message_id_raw_messages"),
            nullable=False,
        ),
        sa.Column("device", sa.String(100), nullable=False),
        sa.Column("sample_id", sa.String(64), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("patient_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("birth_date", sa.String(20), nullable=False, server_default=""),
        sa.Column("instrument_code", sa.String(64), nullable=False),
        sa.Column("lis_code", sa.String(64), nullable=False, server_default=""),
        sa.Column("test_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("numeric_value", sa.Float, nullable=True),
        sa.Column("comparator", sa.String(4), nullable=False, server_default=""),
        sa.Column("units", sa.String(40), nullable=False, server_default=""),
        sa.Column("reference_range", sa.String(80), nullable=False, server_default=""),
        sa.Column("flags", sa.String(20), nullable=False, server_default=""),
        sa.Column("status", sa.String(10), nullable=False, server_default=""),
        sa.Column("kind", sa.String(12), nullable=False, server_default="patient"),
        sa.Column("observed_at", sa.DateTime, nullable=True),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("instrument", sa.String(100), nullable=False, server_default=""),
    )
    op.create_table(
        "mappings",
        _id(),
        sa.Column("device", sa.String(100), nullable=False),
        sa.Column("instrument_code", sa.String(64), nullable=False),
        sa.Column("lis_code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("units", sa.String(40), nullable=False, server_default=""),
        sa.Column("factor", sa.Float, nullable=False, server_default=sa.text("1.0")),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("valid_from", sa.DateTime, nullable=False),
        sa.Column("retired", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.UniqueConstraint(
            "device", "instrument_code", "version", name="uq_mappings_device_instrument_code_version"
        ),
    )
    op.create_table(
        "users",
        _id(),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False, server_default=""),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "audit",
        sa.Column("id", ID, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("before", sa.Text, nullable=True),
        sa.Column("after", sa.Text, nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_action_id", "audit", ["action", "id"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_id", ID, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "last_id": 0, "last_hash": "0" * 64}])


def downgrade() -> None:
    for name in (
        "audit_head",
        "audit",
        "users",
        "mappings",
        "results",
        "orders",
        "samples",
        "patients",
        "quarantine",
        "raw_messages",
        "devices",
    ):
        op.drop_table(name)
