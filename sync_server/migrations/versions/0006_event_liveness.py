"""Events: liveness evidence from the terminal and the admin review of flagged events.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: events of terminals that do not run the check, and every row written before.
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("liveness_score", sa.Float, nullable=True))
        batch.add_column(sa.Column("liveness_passed", sa.Boolean, nullable=True))
        batch.add_column(sa.Column("liveness_reasons", sa.Text, nullable=True))
        batch.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reviewed_by", sa.String(64), nullable=True))
    op.create_index(
        "ix_events_flagged_corrected_time",
        "events",
        ["corrected_time"],
        sqlite_where=sa.text("liveness_passed = 0"),
        postgresql_where=sa.text("liveness_passed = false"),
    )


def downgrade() -> None:
    op.drop_index("ix_events_flagged_corrected_time", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("reviewed_by")
        batch.drop_column("reviewed_at")
        batch.drop_column("liveness_reasons")
        batch.drop_column("liveness_passed")
        batch.drop_column("liveness_score")
