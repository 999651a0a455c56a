"""Fewer, wider results indexes: faster inserts, and combined filters stay index-only.

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04

Every results index costs one b-tree insert per result, and the hot write path stores ten
results per message. The ``flags`` and ``kind`` indexes go: both columns now trail the
``received_at`` and ``device`` indexes instead, where SQLite checks them inside the index walk
(no table lookup per rejected row). The two test-code indexes gain ``device`` and ``flags`` so
"device + test + flag" is answered from the index alone (it took ~300-650 ms at 1,000,000
results by looking up every lis_code match in the table; it now takes a few ms).
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_OLD: dict[str, list[str]] = {
    "ix_results_received_at_id": ["received_at", "id"],
    "ix_results_device_received": ["device", "received_at", "id"],
    "ix_results_instrument_code_received": ["instrument_code", "received_at", "id"],
    "ix_results_lis_code_received": ["lis_code", "received_at", "id"],
    "ix_results_flags_received": ["flags", "received_at", "id"],
    "ix_results_kind_received": ["kind", "received_at", "id"],
}
_NEW: dict[str, list[str]] = {
    "ix_results_received_at_id": ["received_at", "id", "flags", "kind"],
    "ix_results_device_received": ["device", "received_at", "id", "flags", "kind"],
    "ix_results_instrument_code_received": ["instrument_code", "received_at", "id", "device", "flags"],
    "ix_results_lis_code_received": ["lis_code", "received_at", "id", "device", "flags"],
}


def upgrade() -> None:
    for name in _OLD:
        op.drop_index(name, "results")
    for name, columns in _NEW.items():
        op.create_index(name, "results", columns)


def downgrade() -> None:
    for name in _NEW:
        op.drop_index(name, "results")
    for name, columns in _OLD.items():
        op.create_index(name, "results", columns)
