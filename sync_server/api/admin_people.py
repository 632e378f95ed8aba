"""Admin: people, enrolment photos and imported templates."""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from edge.protocol import decode_template
from sync_server import audit, people
from sync_server.api.params import IdPath
from sync_server.deps import AdminRoute, Services, admin, services
from sync_server.errors import ApiError, error_responses
from sync_server.feed import template_bytes
from sync_server.schemas import (
    ChangeVersion,
    Deleted,
    DuplicateWarning,
    GroupName,
    PersonCreate,
    PersonInfo,
    PersonList,
    PersonUpdate,
    PhotoAccepted,
    TemplatesImport,
    TemplatesImported,
)

log = structlog.get_logger(__name__)

router = APIRouter(
    prefix="/admin/people",
    tags=["admin: people"],
    dependencies=[Depends(admin)],
    route_class=AdminRoute,
    responses=error_responses(401, 403, 404, 413, 429),
)

ServicesDep = Annotated[Services, Depends(services)]
PersonIdPath = IdPath

# templates.id is an INTEGER column: 32 bits on PostgreSQL. A larger id cannot exist, and
# passing one to the database fails there (OverflowError on SQLite) instead of answering 404.
MAX_ROW_ID = 2**31 - 1
TemplateIdPath = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]

PHOTO_FIELD = "photo"
_IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/bmp", "image/tiff", "image/gif")


@router.post(
    "",
    status_code=201,
    response_model=PersonInfo,
    summary="Create a person (terminals learn of them with their first template)",
    description="With `consent`, the person's consent to face templates is recorded in the "
    "same step (collected by `admin token` unless `collected_by` names someone; the site's "
    "text version unless `text_version` gives one). Without it, photos and templates are "
    "refused with 409 consent_missing until `POST /people/{id}/consent`.",
    responses=error_responses(409),
)
def create_person(body: PersonCreate, svc: ServicesDep) -> PersonInfo:
    return people.create(
        svc.db,
        body,
        actor=audit.API_ACTOR,
        consent_version=svc.settings.privacy.consent_text_version,
    )


@router.get("", response_model=PersonList, summary="All people, optionally of one group")
def list_people(svc: ServicesDep, group: Annotated[GroupName | None, Query()] = None) -> PersonList:
    return PersonList(people=people.list_people(svc.db, group))


@router.get("/{person_id}", response_model=PersonInfo, summary="One person and their templates")
def get_person(person_id: PersonIdPath, svc: ServicesDep) -> PersonInfo:
    with svc.db.read() as conn:
        return people.load(conn, person_id)


@router.patch(
    "/{person_id}",
    response_model=PersonInfo,
    summary="Rename a person or move them to another group",
    description="Moving sends a tombstone to the old group's terminals and the person with "
    "their templates to the new group's.",
)
def update_person(person_id: PersonIdPath, body: PersonUpdate, svc: ServicesDep) -> PersonInfo:
    info, _version = people.update(svc.db, person_id, body, actor=audit.API_ACTOR)
    return info


@router.delete(
    "/{person_id}",
    response_model=Deleted,
    summary="Delete a person and their templates",
    description="Every terminal of their group drops their templates on its next pull. Their "
    "past attendance events stay.",
)
def delete_person(person_id: PersonIdPath, svc: ServicesDep) -> Deleted:
    version = people.delete(svc.db, person_id, actor=audit.API_ACTOR)
    log.info("person_deleted", person_id=person_id, version=version)
    return Deleted(id=person_id, version=version)


@router.delete(
    "/{person_id}/templates/{template_id}",
    response_model=ChangeVersion,
    summary="Delete one template",
)
def delete_template(
    person_id: PersonIdPath, template_id: TemplateIdPath, svc: ServicesDep
) -> ChangeVersion:
    return ChangeVersion(
        version=people.delete_template(svc.db, person_id, template_id, actor=audit.API_ACTOR)
    )


@router.post(
    "/{person_id}/templates",
    status_code=201,
    response_model=TemplatesImported,
    summary="Import templates computed elsewhere",
    description="For moving enrolments between servers or from `hadir enrol`; no quality "
    "checks are possible without the photo, so prefer photo upload. Refused with 409 "
    "consent_missing for a person without consent on record.",
    responses=error_responses(409),
)
def import_templates(
    person_id: PersonIdPath, body: TemplatesImport, svc: ServicesDep
) -> TemplatesImported:
    vectors = [decode_template(t) for t in body.templates]
    warnings: list[DuplicateWarning] = []
    for vector in vectors:
        neighbours = svc.enroller.neighbours(svc.db, vector, person_id)
        warnings.extend(people.duplicate_warnings(neighbours))
    ids, count, version = people.add_templates(
        svc.db,
        person_id,
        [people.NewTemplate(template_bytes(v), None, body.source) for v in vectors],
        actor=audit.API_ACTOR,
    )
    return TemplatesImported(
        person_id=person_id, template_ids=ids, templates=count, version=version, warnings=warnings
    )


_PHOTO_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The photo: a multipart form with the file in field `photo`, or the "
        "image itself as the body (Content-Type image/jpeg, image/png, ...).",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [PHOTO_FIELD],
                    "properties": {PHOTO_FIELD: {"type": "string", "format": "binary"}},
                }
            },
            **{t: {"schema": {"type": "string", "format": "binary"}} for t in _IMAGE_TYPES},
        },
    }
}


ForceQuery = Annotated[
    bool,
    Query(
        description="Store the photo even when its face is farther than the matching threshold "
        "from all of the person's templates (refused otherwise with 422 not_same_person). Only "
        "for a photo known to show this person, e.g. with a beard since or twenty years older."
    ),
]


@router.post(
    "/{person_id}/photos",
    status_code=201,
    response_model=PhotoAccepted,
    summary="Enrol a photo: the server computes the template",
    description="Runs the terminals' recognition code on the photo. Unusable photos are "
    "refused with 422 and a reason: unreadable, too_large, too_small, no_face, "
    "several_faces, or a quality problem of the face (too_small, blurred, turned_away, "
    "tilted, too_dark, too_bright); nothing is stored then. A face farther than the matching "
    "threshold from every template the person already has is refused with 422 "
    "not_same_person, the distance in the detail, unless `force=true`. An accepted photo may "
    "carry warnings: other people closer than the matching threshold. The same photo twice "
    "answers 200 with the existing template. A person without consent on record (never "
    "given, or withdrawn) is refused with 409 consent_missing before the photo is looked at.",
    openapi_extra=_PHOTO_BODY,
    responses={
        200: {"model": PhotoAccepted, "description": "This photo was already enrolled."},
        **error_responses(409, 415, 422),
    },
)
async def upload_photo(
    person_id: PersonIdPath, request: Request, svc: ServicesDep, force: ForceQuery = False
) -> Any:
    data, name = await _read_photo(request)
    answer = await people.enrol_photo(
        svc, person_id, data, name, force=force, actor=audit.API_ACTOR
    )
    if not answer.created:
        return JSONResponse(answer.model_dump(mode="json"), status_code=200)
    return answer


async def _read_photo(request: Request) -> tuple[bytes, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        async with request.form(max_files=1, max_fields=4) as form:
            upload = form.get(PHOTO_FIELD)
            if not isinstance(upload, UploadFile):
                raise ApiError(
                    422,
                    "missing_photo",
                    f"the multipart form needs the photo as a file in field {PHOTO_FIELD!r}",
                )
            return await upload.read(), (upload.filename or "photo")[:200]
    if content_type.startswith("image/") or content_type == "application/octet-stream":
        name = request.query_params.get("filename") or "photo"
        return await request.body(), name[:200]
    raise ApiError(
        415,
        "unsupported_media_type",
        "send multipart/form-data with a 'photo' file, or the image with an image/* type",
    )
