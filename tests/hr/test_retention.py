"""Retention of attendance and audit rows (sync_server/retention.py), on SQLite and PostgreSQL:
what is older than the settings keep goes, nothing newer, and 0 keeps everything."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import structlog

from sync_server import app as server_app
from sync_server import audit, retention
from sync_server.config import RetentionConfig, ServerConfig
from sync_server.db import Database, audit_log, corrections, epoch_us, events, leaves
from tests.reports.helpers import event_row

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
JAKARTA = ZoneInfo("Asia/Jakarta")


def _fill(db: Database) -> dict[str, uuid.UUID]:
    """Attendance around the 730-day cutoff and audit rows around the 1095-day one."""
    cutoff = NOW - timedelta(days=730)
    old = event_row("p1", "in", cutoff - timedelta(seconds=1))
    new = event_row("p1", "in", cutoff + timedelta(seconds=1))
    with db.write() as conn:
        conn.execute(sa.insert(events), [old, new])
        base = {
            "person_id": "p1",
            "reason": "r",
            "created_by": "siti",
            "kind": None,
            "at": None,
            "effective_us": None,
            "event_id": None,
        }
        conn.execute(
            sa.insert(corrections),
            [
                # an added punch before the cutoff, and one after
                {
                    **base,
                    "action": "add",
                    "kind": "out",
                    "at": cutoff - timedelta(hours=1),
                    "effective_us": epoch_us(cutoff - timedelta(hours=1)),
                    "created_at": cutoff - timedelta(hours=1),
                },
                {
                    **base,
                    "action": "add",
                    "kind": "out",
                    "at": cutoff + timedelta(hours=1),
                    "effective_us": epoch_us(cutoff + timedelta(hours=1)),
                    "created_at": cutoff + timedelta(hours=1),
                },
                # a void of the old event (goes with it), and an old void of a kept event
                {
                    **base,
                    "action": "void",
                    "event_id": old["id"],
                    "created_at": cutoff - timedelta(minutes=1),
                },
                {
                    **base,
                    "action": "void",
                    "event_id": new["id"],
                    "created_at": cutoff - timedelta(days=1),
                },
            ],
        )
        leave = {"person_id": "p1", "kind": "sick", "created_at": NOW, "created_by": "siti"}
        last_day = cutoff.astimezone(JAKARTA).date()
        conn.execute(
            sa.insert(leaves),
            [
                {**leave, "start_day": date(2024, 11, 1), "end_day": last_day - timedelta(1)},
                # ends on the cutoff's own day: part of it is still kept
                {**leave, "start_day": date(2024, 11, 20), "end_day": last_day},
            ],
        )
        audit_cutoff = NOW - timedelta(days=1095)
        for at in (audit_cutoff - timedelta(seconds=1), audit_cutoff + timedelta(seconds=1)):
            audit.record(
                conn, actor="siti", action="create", entity="person", entity_id="p1", now=at
            )
    return {"old": old["id"], "new": new["id"]}


def _count(db: Database, table: sa.Table) -> int:
    with db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_what_is_older_than_the_settings_keep_goes_and_nothing_newer(db: Database) -> None:
    ids = _fill(db)
    pruned = retention.apply(db, RetentionConfig(), now=NOW, zone=JAKARTA)
    assert pruned == retention.Pruned(events=1, corrections=2, leaves=1, audit=1)
    with db.read() as conn:
        assert conn.execute(sa.select(events.c.id)).scalars().all() == [ids["new"]]
        kept = conn.execute(sa.select(corrections.c.action, corrections.c.event_id)).all()
        assert sorted((a, e) for a, e in kept) == sorted([("add", None), ("void", ids["new"])])
        assert conn.execute(sa.select(leaves.c.start_day)).scalars().all() == [date(2024, 11, 20)]
        [row] = conn.execute(sa.select(audit_log.c.at)).scalars().all()
        assert row > NOW - timedelta(days=1095)
    # Again: nothing more to delete.
    assert retention.apply(db, RetentionConfig(), now=NOW, zone=JAKARTA) == retention.Pruned()


def test_zero_keeps_everything(db: Database) -> None:
    _fill(db)
    forever = RetentionConfig(events_days=0, audit_days=0)
    assert retention.apply(db, forever, now=NOW + timedelta(days=10_000), zone=JAKARTA) == (
        retention.Pruned()
    )
    assert (_count(db, events), _count(db, corrections), _count(db, leaves)) == (2, 4, 2)
    assert _count(db, audit_log) == 2


def test_each_setting_is_applied_on_its_own(db: Database) -> None:
    _fill(db)
    only_audit = RetentionConfig(events_days=0, audit_days=1)
    pruned = retention.apply(db, only_audit, now=NOW, zone=JAKARTA)
    assert pruned == retention.Pruned(audit=2)
    assert _count(db, events) == 2


def test_the_servers_hourly_prune_applies_it_and_logs_one_line_with_counts(
    db: Database, db_url: str
) -> None:
    _fill(db)
    settings = ServerConfig(database_url=db_url, retention=RetentionConfig(audit_days=1))
    with structlog.testing.capture_logs() as logs:
        asyncio.run(server_app._prune(db, settings))
    [line] = [entry for entry in logs if entry["event"] == "pruned"]
    # The real clock is used: the fixture's rows are all far older than a day.
    assert line["audit"] == 2
    assert line["events"] >= 1
    assert line["events_days"] == 730
    assert json.dumps(line, default=str)  # plain values only
