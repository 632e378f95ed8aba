"""The month an HR officer signs: working calendar, leave, corrections, consent, audit trail,
and each admin account's language.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The kinds of leave a site starts with (admins add, relabel and retire them).
LEAVE_KINDS = [
    {"code": "sick", "label_en": "Sick", "label_id": "Sakit", "active": True},
    {"code": "annual", "label_en": "Annual leave", "label_id": "Cuti", "active": True},
    {"code": "permission", "label_en": "Permission", "label_id": "Izin", "active": True},
    {"code": "duty", "label_en": "Official duty", "label_id": "Dinas luar", "active": True},
    {"code": "other", "label_en": "Other", "label_id": "Lainnya", "active": True},
]


def upgrade() -> None:
    when = sa.DateTime(timezone=True)
    op.create_table(
        "work_weeks",
        sa.Column("group_name", sa.String(64), primary_key=True),
        sa.Column("weekdays", sa.String(7), nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "days_off",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
    )
    kinds = op.create_table(
        "leave_kinds",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("label_en", sa.String(64), nullable=False),
        sa.Column("label_id", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    op.bulk_insert(kinds, LEAVE_KINDS)
    op.create_table(
        "leaves",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), sa.ForeignKey("leave_kinds.code"), nullable=False),
        sa.Column("start_day", sa.Date, nullable=False),
        sa.Column("end_day", sa.Date, nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("created_at", when, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
    )
    op.create_index("ix_leaves_person_id_start_day", "leaves", ["person_id", "start_day"])
    op.create_index("ix_leaves_start_day_end_day", "leaves", ["start_day", "end_day"])
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(8), nullable=True),
        sa.Column("at", when, nullable=True),
        sa.Column("effective_us", sa.BigInteger, nullable=True),
        sa.Column("event_id", sa.Uuid, nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("revoked_at", when, nullable=True),
        sa.Column("revoked_by", sa.String(64), nullable=True),
    )
    op.create_index(
        "ix_corrections_person_id_effective_us", "corrections", ["person_id", "effective_us"]
    )
    op.create_index("ix_corrections_event_id", "corrections", ["event_id"])
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.String(64), nullable=False),
        sa.Column("given_at", when, nullable=False),
        sa.Column("collected_by", sa.String(64), nullable=False),
        sa.Column("text_version", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("withdrawn_at", when, nullable=True),
        sa.Column("withdrawn_by", sa.String(64), nullable=True),
    )
    op.create_index("ix_consents_person_id", "consents", ["person_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", when, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(200), nullable=False),
        sa.Column("before", sa.Text, nullable=True),
        sa.Column("after", sa.Text, nullable=True),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_entity_entity_id", "audit_log", ["entity", "entity_id"])
    with op.batch_alter_table("admin_accounts") as batch:
        batch.add_column(sa.Column("locale", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("admin_accounts") as batch:
        batch.drop_column("locale")
    for table in ("audit_log", "consents", "corrections", "leaves", "leave_kinds"):
        op.drop_table(table)
    op.drop_table("days_off")
    op.drop_table("work_weeks")
