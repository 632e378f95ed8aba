"""Initial schema: terminals, heartbeats, people, templates, enrolment feed, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Migrations keep their own copy of the types: later code changes must not rewrite history.
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    counters = op.create_table(
        "counters",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_counters"),
    )
    op.bulk_insert(counters, [{"name": "enrolment", "value": 0}])

    op.create_table(
        "terminals",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("group_name", sa.String(64), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("reset_below", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_terminals"),
        sa.UniqueConstraint("token_hash", name="uq_terminals_token_hash"),
    )
    op.create_table(
        "heartbeats",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=False),
        sa.Column("wall_time", TS, nullable=False),
        sa.Column("monotonic", sa.Float, nullable=False),
        sa.Column("boot_id", sa.String(64), nullable=False),
        sa.Column("clock_synced", sa.Boolean, nullable=False),
        sa.Column("clock_offset_s", sa.Float, nullable=False),
        sa.Column("software_version", sa.String(64), nullable=False),
        sa.Column("enrolment_version", sa.BigInteger, nullable=False),
        sa.Column("backlog", sa.Integer, nullable=False),
        sa.Column("backlog_oldest_age_s", sa.Float, nullable=True),
        sa.Column("camera_state", sa.String(32), nullable=False),
        sa.Column("fps", sa.Float, nullable=False),
        sa.Column("recognition_latency_ms", sa.Float, nullable=True),
        sa.PrimaryKeyConstraint("device_id", name="pk_heartbeats"),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["terminals.id"],
            name="fk_heartbeats_device_id_terminals",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "clock_refs",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("boot_id", sa.String(64), nullable=False),
        sa.Column("ref_wall", TS, nullable=False),
        sa.Column("ref_monotonic", sa.Float, nullable=False),
        sa.Column("synced", sa.Boolean, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("device_id", "boot_id", name="pk_clock_refs"),
    )
    op.create_table(
        "people",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("group_name", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_people"),
    )
    op.create_table(
        "templates",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(64), nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("photo_sha256", sa.String(64), nullable=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_templates"),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name="fk_templates_person_id_people",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "person_id", "photo_sha256", name="uq_templates_person_id_photo_sha256"
        ),
    )
    op.create_index("ix_templates_person_id", "templates", ["person_id"])
    op.create_table(
        "changes",
        sa.Column("group_name", sa.String(64), nullable=False),
        sa.Column("person_id", sa.String(64), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("changed_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("group_name", "person_id", name="pk_changes"),
        sa.UniqueConstraint("version", name="uq_changes_version"),
    )
    op.create_index("ix_changes_group_name_version", "changes", ["group_name", "version"])
    op.create_table(
        "events",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("person_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("wall_time", TS, nullable=False),
        sa.Column("clock_synced", sa.Boolean, nullable=False),
        sa.Column("monotonic", sa.Float, nullable=False),
        sa.Column("boot_id", sa.String(64), nullable=False),
        sa.Column("distance", sa.Float, nullable=False),
        sa.Column("margin", sa.Float, nullable=False),
        sa.Column("corrected_time", TS, nullable=False),
        sa.Column("time_source", sa.String(24), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("person_known", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_person_id_corrected_time", "events", ["person_id", "corrected_time"])
    op.create_index("ix_events_corrected_time", "events", ["corrected_time"])
    op.create_table(
        "rejected_events",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rejected_events"),
        sa.UniqueConstraint(
            "event_id", "device_id", "reason", name="uq_rejected_events_event_id_device_id_reason"
        ),
    )
    op.create_table(
        "auth_failures",
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("window_start", TS, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("client", name="pk_auth_failures"),
    )


def downgrade() -> None:
    for table in (
        "auth_failures",
        "rejected_events",
        "events",
        "changes",
        "templates",
        "people",
        "clock_refs",
        "heartbeats",
        "terminals",
        "counters",
    ):
        op.drop_table(table)
