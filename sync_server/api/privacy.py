"""Admin API: a person's consent to face templates, and the export of their data
(docs/privacy.md)."""

from __future__ import annotations

from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import Response

from edge.clock import utc_now
from sync_server import audit, consent, people, person_export
from sync_server.api.params import IdPath
from sync_server.deps import AdminRoute, Services, admin, services
from sync_server.errors import error_responses
from sync_server.schemas import ConsentGive, ConsentInfo, ConsentWithdrawn

log = structlog.get_logger(__name__)

router = APIRouter(
    prefix="/admin",
    tags=["admin: privacy"],
    dependencies=[Depends(admin)],
    route_class=AdminRoute,
    responses=error_responses(401, 403, 404, 429),
)

ServicesDep = Annotated[Services, Depends(services)]


@router.post(
    "/people/{person_id}/consent",
    status_code=201,
    response_model=ConsentInfo,
    summary="Record the person's consent to face templates",
    description="The person has read and accepted the consent text. Collected by `admin "
    "token` unless `collected_by` names who collected it; the site's "
    "`privacy.consent_text_version` unless `text_version` gives another. A consent already "
    "in force for the same text is answered as it is (nothing new recorded).",
)
def give_consent(
    person_id: IdPath,
    svc: ServicesDep,
    body: Annotated[ConsentGive | None, Body()] = None,
) -> ConsentInfo:
    given = consent.grant(
        body or ConsentGive(),
        actor=audit.API_ACTOR,
        default_version=svc.settings.privacy.consent_text_version,
        channel=None,
    )
    info = consent.give(svc.db, person_id, given, actor=audit.API_ACTOR)
    log.info("consent_given", person_id=person_id, text_version=info.text_version)
    return info


_WITHDRAW_DESCRIPTION = (
    "The consent ends and the person's templates are deleted from the server and, through the "
    "enrolment feed, from every terminal of their group at its next pull (`version`). The "
    "person and their attendance stay, as long as the retention settings keep attendance. "
    "Withdrawing again changes nothing."
)


@router.delete(
    "/people/{person_id}/consent",
    response_model=ConsentWithdrawn,
    summary="Withdraw the person's consent: their templates are erased everywhere",
    description=_WITHDRAW_DESCRIPTION,
)
def withdraw_consent(person_id: IdPath, svc: ServicesDep) -> ConsentWithdrawn:
    return people.withdraw_consent(svc.db, person_id, actor=audit.API_ACTOR)


@router.post(
    "/people/{person_id}/consent/withdraw",
    response_model=ConsentWithdrawn,
    summary="Withdraw the person's consent (the same as DELETE .../consent)",
    description=_WITHDRAW_DESCRIPTION,
)
def withdraw_consent_post(person_id: IdPath, svc: ServicesDep) -> ConsentWithdrawn:
    return people.withdraw_consent(svc.db, person_id, actor=audit.API_ACTOR)


@router.get(
    "/people/{person_id}/export",
    summary="Everything held about a person (JSON, or a zip of CSVs)",
    description="Profile, consent history, templates (count and dates only, never the "
    "vectors), attendance events, corrections, leave and the audit rows about them. "
    "`format=json`: one document; `format=csv`: a zip of one CSV per section "
    "(docs/privacy.md). A person deleted since is exported with what remains; 404 when "
    "nothing at all is held.",
    responses={
        200: {
            "content": {"application/json": {}, "application/zip": {}},
            "description": "The export, as a download.",
        }
    },
)
def export_person(
    person_id: IdPath,
    svc: ServicesDep,
    format: Annotated[
        Literal["json", "csv"], Query(description="json: one document; csv: a zip of CSVs.")
    ] = "json",
) -> Response:
    now = utc_now()
    with svc.db.read() as conn:
        data = person_export.collect(conn, person_id, now)
    log.info("person_exported", person_id=person_id, format=format)
    return Response(
        person_export.render(data, format),
        media_type=person_export.media_type(format),
        headers={
            "Content-Disposition": "attachment; "
            f'filename="{person_export.filename(person_id, format, now)}"'
        },
    )
