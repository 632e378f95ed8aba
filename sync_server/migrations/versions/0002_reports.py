"""Reports: shifts, department and HR employee id of people, integer event time for day math.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

* ``people.department`` and ``people.employee_id`` (unique; null means "the person id").
* ``shifts``, ``group_shifts`` (a group's shift) and ``person_shifts`` (a person's override).
* ``events.effective_us``: ``corrected_time`` as integer microseconds since the Unix epoch,
  backfilled here and written by ingest from now on, with a covering index
  ``(person_id, effective_us, kind)`` for the day view and the monthly summary.

SQLite note: the people columns are added with plain ``ALTER TABLE ADD COLUMN``, never a batch
copy of ``people``: with foreign keys on, dropping the old ``people`` table during a copy would
cascade-delete every template. ``events`` has no foreign keys in or out, so its copy (to make
``effective_us`` NOT NULL after the backfill) is safe.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name

    op.add_column("people", sa.Column("department", sa.String(100), nullable=True))
    op.add_column("people", sa.Column("employee_id", sa.String(140), nullable=True))
    op.create_index("ix_people_employee_id", "people", ["employee_id"], unique=True)

    op.create_table(
        "shifts",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("start_time", sa.Time, nullable=False),
        sa.Column("end_time", sa.Time, nullable=False),
        sa.Column("grace_minutes", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_shifts"),
        sa.UniqueConstraint("name", name="uq_shifts_name"),
    )
    op.create_table(
        "group_shifts",
        sa.Column("group_name", sa.String(64), nullable=False),
        sa.Column("shift_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("group_name", name="pk_group_shifts"),
        sa.ForeignKeyConstraint(
            ["shift_id"], ["shifts.id"], name="fk_group_shifts_shift_id_shifts"
        ),
    )
    op.create_index("ix_group_shifts_shift_id", "group_shifts", ["shift_id"])
    op.create_table(
        "person_shifts",
        sa.Column("person_id", sa.String(64), nullable=False),
        sa.Column("shift_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("person_id", name="pk_person_shifts"),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name="fk_person_shifts_person_id_people",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shift_id"], ["shifts.id"], name="fk_person_shifts_shift_id_shifts"
        ),
    )
    op.create_index("ix_person_shifts_shift_id", "person_shifts", ["shift_id"])

    op.add_column("events", sa.Column("effective_us", sa.BigInteger, nullable=True))
    if dialect == "postgresql":
        # EXTRACT(EPOCH ...) is numeric (exact) on PostgreSQL 14+, and exact to the
        # microsecond on older versions for timestamps of this era.
        backfill = "CAST(ROUND(EXTRACT(EPOCH FROM corrected_time) * 1000000) AS BIGINT)"
    else:
        # SQLAlchemy stores 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): whole seconds from strftime
        # on the text without its fraction (strftime would round .999999 up to the next
        # second), the microseconds from the text.
        backfill = (
            "CAST(strftime('%s', substr(corrected_time, 1, 19)) AS INTEGER) * 1000000"
            " + CAST(COALESCE(NULLIF(substr(corrected_time, 21, 6), ''), '0') AS INTEGER)"
        )
    op.execute(f"UPDATE events SET effective_us = {backfill}")
    with op.batch_alter_table("events") as batch:
        batch.alter_column("effective_us", existing_type=sa.BigInteger, nullable=False)
    op.create_index(
        "ix_events_person_id_effective_us_kind", "events", ["person_id", "effective_us", "kind"]
    )


def downgrade() -> None:
    op.drop_index("ix_events_person_id_effective_us_kind", table_name="events")
    # Plain DROP COLUMN (SQLite 3.35+), never a batch copy; see the module docstring.
    op.drop_column("events", "effective_us")
    op.drop_index("ix_person_shifts_shift_id", table_name="person_shifts")
    op.drop_table("person_shifts")
    op.drop_index("ix_group_shifts_shift_id", table_name="group_shifts")
    op.drop_table("group_shifts")
    op.drop_table("shifts")
    op.drop_index("ix_people_employee_id", table_name="people")
    op.drop_column("people", "employee_id")
    op.drop_column("people", "department")
