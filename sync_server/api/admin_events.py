"""Admin: stored attendance events, the events that were rejected, and the review of events
whose liveness check failed (sync_server/review.py)."""

from __future__ import annotations

import json
from typing import Annotated
from uuid import UUID

import sqlalchemy as sa
import structlog
from fastapi import APIRouter, Depends, Query

from edge.clock import utc_now
from edge.protocol import WireTime
from sync_server import review
from sync_server.db import events, rejected_events
from sync_server.deps import AdminRoute, Services, admin, services
from sync_server.errors import error_responses
from sync_server.schemas import (
    EventList,
    RejectedEventInfo,
    RejectedEventList,
    ReviewItem,
    ReviewList,
)

log = structlog.get_logger(__name__)

router = APIRouter(
    prefix="/admin/events",
    tags=["admin: events"],
    dependencies=[Depends(admin)],
    route_class=AdminRoute,
    responses=error_responses(401, 403, 429),
)

ServicesDep = Annotated[Services, Depends(services)]
Limit = Annotated[int, Query(ge=1, le=5000, description="Most rows returned.")]
DeviceFilter = Annotated[str | None, Query(max_length=64)]
PersonFilter = Annotated[str | None, Query(max_length=64)]
StartFilter = Annotated[
    WireTime | None, Query(description="corrected_time >= start; with UTC offset, 1970-2199")
]
EndFilter = Annotated[
    WireTime | None, Query(description="corrected_time < end; with UTC offset, 1970-2199")
]


@router.get(
    "",
    response_model=EventList,
    summary="Stored events, oldest first by corrected time",
)
def list_events(
    svc: ServicesDep,
    device_id: DeviceFilter = None,
    person_id: PersonFilter = None,
    start: StartFilter = None,
    end: EndFilter = None,
    limit: Limit = 1000,
) -> EventList:
    query = review.filtered(
        sa.select(events).order_by(events.c.corrected_time, events.c.id).limit(limit),
        device_id=device_id,
        person_id=person_id,
        start=start,
        end=end,
    )
    with svc.db.read() as conn:
        rows = conn.execute(query).all()
    return EventList(events=[review.event_info(r._mapping) for r in rows])


@router.get(
    "/review",
    response_model=ReviewList,
    summary="Events needing review: the terminal's liveness check failed, oldest first",
    description="Events a terminal in liveness flag mode recorded although the face looked "
    "like a photo or a screen (liveness.passed false), not yet marked reviewed. "
    "include_reviewed=true lists the reviewed ones too.",
)
def list_review(
    svc: ServicesDep,
    include_reviewed: Annotated[
        bool, Query(description="Also list flagged events already reviewed.")
    ] = False,
    device_id: DeviceFilter = None,
    person_id: PersonFilter = None,
    start: StartFilter = None,
    end: EndFilter = None,
    limit: Limit = 1000,
) -> ReviewList:
    query = review.review_query(
        include_reviewed=include_reviewed,
        device_id=device_id,
        person_id=person_id,
        start=start,
        end=end,
        limit=limit,
    )
    with svc.db.read() as conn:
        rows = conn.execute(query).all()
        count = review.open_count(conn)
    return ReviewList(
        open=count, events=[review.review_item(r._mapping) for r in rows]
    )


@router.post(
    "/{event_id}/review",
    response_model=ReviewItem,
    summary="Mark a flagged event reviewed",
    description="Records who (reviewed_by: 'admin token' for this API) and when (server "
    "time). Marking a reviewed event again changes nothing: the first review stands.",
    responses=error_responses(404, 409),
)
def mark_reviewed(event_id: UUID, svc: ServicesDep) -> ReviewItem:
    item = review.mark_reviewed(svc.db, event_id, review.ADMIN_TOKEN_REVIEWER, utc_now())
    log.info("event_reviewed", event_id=str(event_id), reviewed_by=item.reviewed_by)
    return item


@router.get(
    "/rejected",
    response_model=RejectedEventList,
    summary="Events the server refused, with the reason and the event as sent",
)
def list_rejected(
    svc: ServicesDep,
    device_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 1000,
) -> RejectedEventList:
    query = sa.select(rejected_events).order_by(rejected_events.c.id).limit(limit)
    if device_id is not None:
        query = query.where(rejected_events.c.device_id == device_id)
    with svc.db.read() as conn:
        rows = conn.execute(query).all()
    return RejectedEventList(
        rejected=[
            RejectedEventInfo(
                event_id=r.event_id,
                device_id=r.device_id,
                reason=r.reason,
                detail=r.detail,
                received_at=r.received_at,
                event=json.loads(r.payload),
            )
            for r in rows
        ]
    )
