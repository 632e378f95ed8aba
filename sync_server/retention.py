"""Retention of attendance and of the audit trail (``[retention]``, docs/privacy.md).

Run by the server's hourly prune (sync_server/app.py) with the clock passed in, so a test
can say what "now" is. Attendance is the terminals' events, the corrections of them and the
leave: all three go after ``events_days``, so the month a report shows is never half
deleted; the audit rows after ``audit_days``. 0 keeps them for ever.

Every server process runs it; deleting what another process already deleted is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from sync_server.config import RetentionConfig
from sync_server.db import Database, audit_log, corrections, epoch_us, events, leaves
from sync_server.reports import person_days


@dataclass(frozen=True, slots=True)
class Pruned:
    """How many rows one run deleted."""

    events: int = 0
    corrections: int = 0
    leaves: int = 0
    audit: int = 0


def apply(db: Database, settings: RetentionConfig, *, now: datetime, zone: ZoneInfo) -> Pruned:
    """Delete attendance older than ``events_days`` and audit rows older than ``audit_days``
    before ``now``; a day of leave counts on the site's calendar (``zone``)."""
    deleted = {"events": 0, "corrections": 0, "leaves": 0, "audit": 0}
    with db.write() as conn:
        if settings.events_days:
            cutoff = now - timedelta(days=settings.events_days)
            deleted["events"] = conn.execute(
                sa.delete(events).where(events.c.corrected_time < cutoff)
            ).rowcount
            # The reports' per-day rows of those events go with them.
            person_days.prune(conn, epoch_us(cutoff))
            # An added punch goes with the events of its time; a void goes when the event it
            # voided is gone and it is itself that old (a void of a kept event stays).
            deleted["corrections"] = conn.execute(
                sa.delete(corrections).where(
                    sa.or_(
                        sa.and_(corrections.c.action == "add", corrections.c.at < cutoff),
                        sa.and_(
                            corrections.c.action == "void",
                            corrections.c.created_at < cutoff,
                            ~sa.exists().where(events.c.id == corrections.c.event_id),
                        ),
                    )
                )
            ).rowcount
            last_day = cutoff.astimezone(zone).date()
            deleted["leaves"] = conn.execute(
                sa.delete(leaves).where(leaves.c.end_day < last_day)
            ).rowcount
        if settings.audit_days:
            cutoff = now - timedelta(days=settings.audit_days)
            deleted["audit"] = conn.execute(
                sa.delete(audit_log).where(audit_log.c.at < cutoff)
            ).rowcount
    return Pruned(**deleted)
