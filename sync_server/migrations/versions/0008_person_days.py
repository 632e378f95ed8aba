"""Each person's events folded per shift day, for the month summary and the site chart.

Empty at first: the server's background job folds everyone (sync_server/reports/person_days.py),
and until it has, the reports sort those people's events as before.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_days",
        sa.Column("person_id", sa.String(64), primary_key=True),
        sa.Column("day", sa.Integer, primary_key=True),
        sa.Column("first_in_us", sa.BigInteger, nullable=True),
        sa.Column("last_out_us", sa.BigInteger, nullable=True),
        sa.Column("last_in_us", sa.BigInteger, nullable=True),
        sa.Column("first_us", sa.BigInteger, nullable=False),
        sa.Column("last_us", sa.BigInteger, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
    )
    op.create_index("ix_person_days_first_us", "person_days", ["first_us"])
    op.create_table(
        "person_day_basis",
        sa.Column("person_id", sa.String(64), primary_key=True),
        sa.Column("zone", sa.String(64), nullable=True),
        sa.Column("anchor_us", sa.BigInteger, nullable=True),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("person_day_basis")
    op.drop_index("ix_person_days_first_us", table_name="person_days")
    op.drop_table("person_days")
