"""Admin API: corrections of attendance (an added punch, a voided event, a revocation) and
the audit trail (read and export only: no route edits or deletes an audit row).

The rules are in sync_server/corrections.py and docs/corrections.md. Changes made here are
recorded as by ``admin token`` (audit.API_ACTOR).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse

from edge.clock import utc_now
from edge.protocol import ID_MAX_LENGTH, MAX_COUNT
from sync_server import audit, catalogue, corrections
from sync_server.api.reports import AcceptLanguage, CsvLangQuery
from sync_server.deps import AdminRoute, Services, admin, services
from sync_server.errors import error_responses
from sync_server.http_files import AUDIT_CSV_NAME, csv_download
from sync_server.schemas.corrections import (
    AuditList,
    CorrectionAdd,
    CorrectionCreate,
    CorrectionInfo,
    CorrectionList,
    CorrectionRevoke,
)

log = structlog.get_logger(__name__)

router = APIRouter(
    prefix="/admin",
    tags=["admin: corrections"],
    dependencies=[Depends(admin)],
    route_class=AdminRoute,
    responses=error_responses(401, 403, 404, 429),
)

ServicesDep = Annotated[Services, Depends(services)]
CorrectionIdPath = Annotated[int, Path(ge=1, le=MAX_COUNT)]
FromDay = Annotated[
    date | None,
    Query(alias="from", description="First calendar day, YYYY-MM-DD (site zone), included."),
]
ToDay = Annotated[
    date | None,
    Query(alias="to", description="Last calendar day, YYYY-MM-DD (site zone), included."),
]
BeforeId = Annotated[
    int | None,
    Query(
        ge=1,
        le=2**62,
        description="Only rows older than this id (the previous page's next_before_id).",
    ),
]
Limit = Annotated[int, Query(ge=1, le=1000, description="Most rows returned.")]
TextFilter = Annotated[str | None, Query(min_length=1, max_length=ID_MAX_LENGTH)]


@router.get(
    "/corrections",
    response_model=CorrectionList,
    summary="Corrections, newest first",
    description="Filters: person, and the calendar days (site zone) of the punch added or "
    "the event voided. Revoked corrections are listed too (live false) unless "
    "include_revoked=false.",
    responses=error_responses(422),
)
def list_corrections(
    svc: ServicesDep,
    person: TextFilter = None,
    first: FromDay = None,
    last: ToDay = None,
    include_revoked: Annotated[bool, Query(description="List revoked ones too.")] = True,
    before_id: BeforeId = None,
    limit: Limit = corrections.PAGE_SIZE,
) -> CorrectionList:
    with svc.db.read() as conn:
        return corrections.list_corrections(
            conn,
            tz=svc.site_zone,
            person_id=person,
            first=first,
            last=last,
            include_revoked=include_revoked,
            limit=limit,
            before_id=before_id,
        )


@router.post(
    "/corrections",
    status_code=201,
    response_model=CorrectionInfo,
    summary="Add a missing punch, or void a wrong event",
    description="action add: person_id, kind (in/out), day and time on the site's wall "
    "clock, reason. action void: event_id (person_id optional: then it must be the event's "
    "person), reason. Raw events are never changed; the correction is its own row and an "
    "audit row records it.",
    responses=error_responses(409, 422),
)
def create_correction(body: CorrectionCreate, svc: ServicesDep) -> CorrectionInfo:
    now = utc_now()
    if isinstance(body, CorrectionAdd):
        made = corrections.add_punch(svc.db, body, tz=svc.site_zone, actor=audit.API_ACTOR, now=now)
    else:
        made = corrections.void_event(
            svc.db, body, tz=svc.site_zone, actor=audit.API_ACTOR, now=now
        )
    log.info("correction_created", correction_id=made.id, action=made.action)
    return made


@router.get(
    "/corrections/{correction_id}",
    response_model=CorrectionInfo,
    summary="One correction",
)
def get_correction(correction_id: CorrectionIdPath, svc: ServicesDep) -> CorrectionInfo:
    with svc.db.read() as conn:
        return corrections.load(conn, correction_id, svc.site_zone)


@router.post(
    "/corrections/{correction_id}/revoke",
    response_model=CorrectionInfo,
    summary="Revoke a correction (it stays listed and counts for nothing)",
    responses=error_responses(409, 422),
)
def revoke_correction(
    correction_id: CorrectionIdPath, body: CorrectionRevoke, svc: ServicesDep
) -> CorrectionInfo:
    made = corrections.revoke(
        svc.db,
        correction_id,
        body.reason,
        tz=svc.site_zone,
        actor=audit.API_ACTOR,
        now=utc_now(),
    )
    log.info("correction_revoked", correction_id=correction_id)
    return made


EntityFilter = Annotated[
    str | None,
    Query(max_length=32, description="person, shift, correction, ... (audit.ENTITIES)."),
]
EntityIdFilter = Annotated[str | None, Query(min_length=1, max_length=200)]
ActorFilter = Annotated[
    str | None, Query(min_length=1, max_length=64, description="A username, or 'admin token'.")
]


@router.get(
    "/audit",
    response_model=AuditList,
    summary="The audit trail, newest first",
    description="Who changed what and when, with the row before and after. Filters: entity, "
    "entity_id, actor, from/to (calendar days, site zone). Page back with before_id. "
    "Read only: nothing in the product edits or deletes audit rows.",
    responses=error_responses(422),
)
def list_audit(
    svc: ServicesDep,
    entity: EntityFilter = None,
    entity_id: EntityIdFilter = None,
    actor: ActorFilter = None,
    first: FromDay = None,
    last: ToDay = None,
    before_id: BeforeId = None,
    limit: Limit = corrections.PAGE_SIZE,
) -> AuditList:
    where = corrections.AuditFilter(entity, entity_id, actor, first, last)
    with svc.db.read() as conn:
        return corrections.audit_page(
            conn, where, tz=svc.site_zone, limit=limit, before_id=before_id
        )


@router.get(
    "/audit.csv",
    summary="The audit trail as CSV (streamed), newest first",
    description="The same filters as GET /audit; columns id, at (ISO 8601, site offset), "
    "actor, action, entity, entity_id, before, after (JSON). The header is in `lang`, else "
    "the `Accept-Language` header's language, else English (the column names above); the "
    "cells are the same in every language.",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **error_responses(422)},
)
def export_audit(
    svc: ServicesDep,
    entity: EntityFilter = None,
    entity_id: EntityIdFilter = None,
    actor: ActorFilter = None,
    first: FromDay = None,
    last: ToDay = None,
    lang: CsvLangQuery = None,
    accept_language: AcceptLanguage = None,
) -> StreamingResponse:
    where = corrections.AuditFilter(entity, entity_id, actor, first, last)
    locale = lang or catalogue.negotiate(accept_language)
    # Refuse a bad filter now, as a 422, not halfway through a streamed 200.
    corrections.check_entity(entity)
    corrections.day_bounds(first, last, svc.site_zone)
    chunks = corrections.audit_csv(svc.db, where, tz=svc.site_zone, locale=locale)
    return csv_download(chunks, AUDIT_CSV_NAME, locale=locale, vary="Accept-Language")
