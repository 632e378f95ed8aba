"""Admin: stored attendance events and the events that were rejected."""

from __future__ import annotations

import json
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query

from edge.protocol import WireTime
from sync_server.db import events, rejected_events
from sync_server.deps import AdminRoute, Services, admin, services
from sync_server.errors import error_responses
from sync_server.schemas import EventInfo, EventList, RejectedEventInfo, RejectedEventList

router = APIRouter(
    prefix="/admin/events",
    tags=["admin: events"],
    dependencies=[Depends(admin)],
    route_class=AdminRoute,
    responses=error_responses(401, 403, 429),
)

ServicesDep = Annotated[Services, Depends(services)]
Limit = Annotated[int, Query(ge=1, le=5000, description="Most rows returned.")]


@router.get(
    "",
    response_model=EventList,
    summary="Stored events, oldest first by corrected time",
)
def list_events(
    svc: ServicesDep,
    device_id: Annotated[str | None, Query(max_length=64)] = None,
    person_id: Annotated[str | None, Query(max_length=64)] = None,
    start: Annotated[
        WireTime | None, Query(description="corrected_time >= start; with UTC offset, 1970-2199")
    ] = None,
    end: Annotated[
        WireTime | None, Query(description="corrected_time < end; with UTC offset, 1970-2199")
    ] = None,
    limit: Limit = 1000,
) -> EventList:
    query = sa.select(events).order_by(events.c.corrected_time, events.c.id).limit(limit)
    if device_id is not None:
        query = query.where(events.c.device_id == device_id)
    if person_id is not None:
        query = query.where(events.c.person_id == person_id)
    if start is not None:
        query = query.where(events.c.corrected_time >= start)
    if end is not None:
        query = query.where(events.c.corrected_time < end)
    with svc.db.read() as conn:
        rows = conn.execute(query).all()
    return EventList(
        events=[
            EventInfo.model_validate(
                {k: v for k, v in r._mapping.items() if k in EventInfo.model_fields}
            )
            for r in rows
        ]
    )


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
