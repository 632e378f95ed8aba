"""Events the terminal's liveness check flagged, and their review by an admin.

A terminal in liveness ``flag`` mode records a face that looked like a photo or a screen
and sends the event with ``liveness.passed`` false: the punch counts, but a person should
look at it. Such an event "needs review" until an admin marks it reviewed (who and when
are kept). The JSON admin API, the admin web and the CLI all go through this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from sync_server import audit
from sync_server.db import Database, events, people
from sync_server.domain_errors import ConflictError, NotFoundError
from sync_server.reports import DayRow
from sync_server.schemas import EventInfo, ReviewItem

# reviewed_by of a review made with the API's admin token; no web account can have this
# name (usernames have no spaces). The audit trail's actor for the API.
ADMIN_TOKEN_REVIEWER = audit.API_ACTOR

# Spelled as the partial index ix_events_flagged_corrected_time is, so both databases use it.
FLAGGED = events.c.liveness_passed == sa.false()
OPEN = sa.and_(FLAGGED, events.c.reviewed_at.is_(None))


def needs_review(row: RowMapping) -> bool:
    return row["liveness_passed"] is False and row["reviewed_at"] is None


def _values(row: RowMapping, fields: Iterable[str]) -> dict[str, Any]:
    values = {k: v for k, v in row.items() if k in fields}
    reasons = row["liveness_reasons"]
    values["liveness_reasons"] = None if reasons is None else [r for r in reasons.split(",") if r]
    values["needs_review"] = needs_review(row)
    return values


def event_info(row: RowMapping) -> EventInfo:
    """An events row as the API answers it."""
    return EventInfo.model_validate(_values(row, EventInfo.model_fields))


def review_item(row: RowMapping) -> ReviewItem:
    """A row of :func:`review_query` as the API answers it."""
    return ReviewItem.model_validate(_values(row, ReviewItem.model_fields))


def open_count(conn: Connection) -> int:
    query = sa.select(sa.func.count()).select_from(events).where(OPEN)
    return int(conn.execute(query).scalar_one())


def review_query(
    *,
    include_reviewed: bool = False,
    device_id: str | None = None,
    person_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 1000,
) -> sa.Select[Any]:
    """Flagged events (open ones only unless ``include_reviewed``), oldest first, with the
    person's name."""
    query = (
        sa.select(events, people.c.name.label("person_name"))
        .select_from(events.outerjoin(people, people.c.id == events.c.person_id))
        .where(FLAGGED if include_reviewed else OPEN)
        .order_by(events.c.corrected_time, events.c.id)
        .limit(limit)
    )
    return filtered(query, device_id=device_id, person_id=person_id, start=start, end=end)


def filtered(
    query: sa.Select[Any],
    *,
    device_id: str | None = None,
    person_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> sa.Select[Any]:
    """``query`` limited to one terminal, one person and a corrected-time range, where given."""
    if device_id is not None:
        query = query.where(events.c.device_id == device_id)
    if person_id is not None:
        query = query.where(events.c.person_id == person_id)
    if start is not None:
        query = query.where(events.c.corrected_time >= start)
    if end is not None:
        query = query.where(events.c.corrected_time < end)
    return query


def mark_reviewed(db: Database, event_id: UUID, by: str, now: datetime) -> ReviewItem:
    """Mark a flagged event reviewed by ``by`` at ``now``. Marking it again changes nothing
    (the first review stands), so a form sent twice is harmless."""
    with db.write() as conn:
        marked = conn.execute(
            sa.update(events)
            .where(events.c.id == event_id, OPEN)
            .values(reviewed_at=now, reviewed_by=by)
        ).rowcount
        if marked:
            # Only the review's own two fields change; a second click writes no audit row.
            audit.record(
                conn,
                actor=by,
                action="review",
                entity="event",
                entity_id=str(event_id),
                now=now,
                before={"reviewed_at": None, "reviewed_by": None},
                after={"reviewed_at": now, "reviewed_by": by},
            )
        query = review_query(include_reviewed=True).where(events.c.id == event_id)
        row = conn.execute(query).first()
        if row is None:
            exists = conn.execute(sa.select(events.c.id).where(events.c.id == event_id)).first()
            if exists is None:
                raise NotFoundError("unknown_event", f"no event {event_id}")
            raise ConflictError(
                "not_flagged",
                f"event {event_id} passed the liveness check (or was recorded without one): "
                "there is nothing to review",
            )
    return review_item(row._mapping)


def open_in_day(conn: Connection, rows: Sequence[DayRow]) -> dict[str, int]:
    """Per person of a day view: how many of their events in their shift day's window need
    review. One query over the flagged events (the partial index), not the day's events."""
    if not rows:
        return {}
    lo = min(r.window_start for r in rows)
    hi = max(r.window_end for r in rows)
    flagged: dict[str, list[datetime]] = {}
    query = sa.select(events.c.person_id, events.c.corrected_time).where(
        OPEN, events.c.corrected_time >= lo, events.c.corrected_time < hi
    )
    for person_id, at in conn.execute(query):
        flagged.setdefault(person_id, []).append(at)
    found = {}
    for r in rows:
        count = sum(1 for at in flagged.get(r.person_id, ()) if r.window_start <= at < r.window_end)
        if count:
            found[r.person_id] = count
    return found
