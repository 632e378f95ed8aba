"""Events: whether the person belonged to another group than the recording terminal's.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows written before were never checked: false, as for a person of the terminal's group.
    with op.batch_alter_table("events") as batch:
        batch.add_column(
            sa.Column("other_group", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("other_group")
