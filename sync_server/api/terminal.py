"""Endpoints a terminal calls with its own token: events, enrolment changes, heartbeat."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from edge.clock import utc_now
from edge.protocol import (
    MAX_VERSION,
    BatchResult,
    EnrolmentPage,
    EventBatch,
    EventStatus,
    Heartbeat,
    HeartbeatAck,
)
from sync_server import feed
from sync_server.auth import Terminal, client_address
from sync_server.db import heartbeats
from sync_server.deps import Services, TerminalRoute, services, terminal
from sync_server.errors import ApiError, error_responses
from sync_server.ingest import ingest_batch, remember_ref
from sync_server.schemas import TerminalSelf
from sync_server.timefix import ClockRef

log = structlog.get_logger(__name__)

router = APIRouter(
    tags=["terminal"], responses=error_responses(401, 403, 413, 429), route_class=TerminalRoute
)

TerminalDep = Annotated[Terminal, Depends(terminal)]
ServicesDep = Annotated[Services, Depends(services)]


def _same_device(terminal: Terminal, device_id: str, what: str) -> None:
    if device_id != terminal.id:
        raise ApiError(
            403,
            "wrong_device",
            f"{what} says device {device_id!r} but the token belongs to {terminal.id!r}",
        )


@router.post(
    "/events",
    response_model=BatchResult,
    summary="Upload a batch of attendance events",
    description="Idempotent by event id. The answer lists every event id in request order as "
    "accepted, duplicate (already stored: both mean the terminal may forget it), rejected "
    "with a reason, or conflict (the id was sent before with other content; the first stands). "
    "Rejected and conflicting events are stored for an admin; the terminal keeps and reports "
    "them and does not resend them. A batch naming another terminal is refused as a whole "
    "(403) and nothing is stored.",
)
def post_events(batch: EventBatch, who: TerminalDep, svc: ServicesDep) -> Response:
    received_at = utc_now()
    _same_device(who, batch.device_id, "the batch")
    for event in batch.events:
        _same_device(who, event.device_id, f"event {event.id}")
    result, counts = ingest_batch(
        svc.db,
        batch,
        received_at,
        max_future_skew_s=svc.settings.max_future_skew_s,
        group=who.group,
    )
    svc.metrics.batches.inc()
    for status in EventStatus:
        if counts[status]:
            svc.metrics.events.labels(status.value).inc(counts[status])
    # Per batch at debug: terminals push every few seconds. Rejections need a human.
    refused = counts[EventStatus.REJECTED] + counts[EventStatus.CONFLICT]
    emit = log.warning if refused else log.debug
    emit(
        "events_ingested",
        device_id=who.id,
        accepted=counts[EventStatus.ACCEPTED],
        duplicate=counts[EventStatus.DUPLICATE],
        rejected=counts[EventStatus.REJECTED],
        conflict=counts[EventStatus.CONFLICT],
    )
    # Serialised directly: the model is already valid, re-validating 500 results is waste.
    return Response(result.model_dump_json(), media_type="application/json")


@router.get(
    "/enrolment/changes",
    response_model=EnrolmentPage,
    summary="Enrolment changes of the terminal's group since a version",
    description="Upserts carry the person's full current template set; deletes are "
    "tombstones. Apply the page in one transaction, store `version`, and ask again while "
    "`more`. `reset` means: drop every local template, store version 0, ask from 0.",
)
def get_changes(
    who: TerminalDep,
    svc: ServicesDep,
    since: Annotated[
        int, Query(ge=0, le=MAX_VERSION, description="The version the terminal holds.")
    ] = 0,
    limit: Annotated[
        int | None, Query(ge=1, le=1000, description="Most changes in the page.")
    ] = None,
) -> Response:
    if since == 0 and who.reset_below:
        feed.acknowledge_reset(svc.db, who)
        who = Terminal(who.id, who.group, 0)
    size = min(limit or svc.settings.enrolment_page_size, svc.settings.enrolment_page_size)
    page = feed.read_page(svc.db, who, since, size)
    return Response(page.model_dump_json(), media_type="application/json")


@router.post(
    "/heartbeat",
    response_model=HeartbeatAck,
    summary="Report the terminal's health",
    description="Stored as the terminal's latest state for the admin view. The answer tells "
    "the terminal the server's clock and whether enrolment changes are waiting.",
)
def post_heartbeat(
    beat: Heartbeat, who: TerminalDep, svc: ServicesDep, request: Request
) -> HeartbeatAck:
    received_at = utc_now()
    _same_device(who, beat.device_id, "the heartbeat")
    offset = (beat.wall_time - received_at).total_seconds()
    values = {
        "received_at": received_at,
        "client_ip": client_address(request),
        "wall_time": beat.wall_time,
        "monotonic": beat.monotonic,
        "boot_id": beat.boot_id,
        "clock_synced": beat.clock_synced,
        "clock_offset_s": offset,
        "software_version": beat.software_version,
        "enrolment_version": beat.enrolment_version,
        "backlog": beat.backlog,
        "backlog_oldest_age_s": beat.backlog_oldest_age_s,
        "camera_state": beat.camera_state,
        "fps": beat.fps,
        "recognition_latency_ms": beat.recognition_latency_ms,
        "store_state": beat.store_state,
        "store_errors": beat.store_errors,
        "store_last_error": beat.store_last_error,
    }
    ref = (
        ClockRef(beat.wall_time, beat.monotonic, True)
        if beat.clock_synced
        else ClockRef(received_at, beat.monotonic, False)
    )
    db = svc.db
    with db.write() as conn:
        stmt = db.insert(heartbeats).values(device_id=who.id, **values)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=[heartbeats.c.device_id], set_=values)
        )
        remember_ref(db, conn, who.id, beat.boot_id, ref, received_at)
        waiting = max(feed.group_version(conn, who.group), who.reset_below)
    svc.metrics.heartbeats.inc()
    return HeartbeatAck(server_time=received_at, clock_offset_s=offset, enrolment_version=waiting)


@router.get(
    "/terminal",
    response_model=TerminalSelf,
    summary="Who the token belongs to",
    description="For `hadir diagnose`: checks the server is reachable and the token valid.",
)
def get_self(who: TerminalDep) -> TerminalSelf:
    return TerminalSelf(id=who.id, group=who.group, server_time=utc_now())
