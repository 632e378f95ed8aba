"""Heartbeats: the terminal's store health (can it save attendance?).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: rows of terminals too old to report it, and every row written before.
    with op.batch_alter_table("heartbeats") as batch:
        batch.add_column(sa.Column("store_state", sa.String(8), nullable=True))
        batch.add_column(sa.Column("store_errors", sa.Integer, nullable=True))
        batch.add_column(sa.Column("store_last_error", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("heartbeats") as batch:
        batch.drop_column("store_last_error")
        batch.drop_column("store_errors")
        batch.drop_column("store_state")
