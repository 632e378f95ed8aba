"""Admin: people, enrolment photos and imported templates."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from edge.errors import ImageError
from edge.protocol import decode_template
from edge.recognize.types import Descriptor
from sync_server import people
from sync_server.deps import AdminRoute, Services, admin, services
from sync_server.enrolment import Neighbour, consensus
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
PersonIdPath = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]

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
    responses=error_responses(409),
)
def create_person(body: PersonCreate, svc: ServicesDep) -> PersonInfo:
    return people.create(svc.db, body)


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
    info, _version = people.update(svc.db, person_id, body)
    return info


@router.delete(
    "/{person_id}",
    response_model=Deleted,
    summary="Delete a person and their templates",
    description="Every terminal of their group drops their templates on its next pull. Their "
    "past attendance events stay.",
)
def delete_person(person_id: PersonIdPath, svc: ServicesDep) -> Deleted:
    version = people.delete(svc.db, person_id)
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
    return ChangeVersion(version=people.delete_template(svc.db, person_id, template_id))


@router.post(
    "/{person_id}/templates",
    status_code=201,
    response_model=TemplatesImported,
    summary="Import templates computed elsewhere",
    description="For moving enrolments between servers or from `hadir enrol`; no quality "
    "checks are possible without the photo, so prefer photo upload.",
    responses=error_responses(409),
)
def import_templates(
    person_id: PersonIdPath, body: TemplatesImport, svc: ServicesDep
) -> TemplatesImported:
    vectors = [decode_template(t) for t in body.templates]
    warnings: list[DuplicateWarning] = []
    for vector in vectors:
        warnings.extend(_warnings(svc.enroller.neighbours(svc.db, vector, person_id)))
    ids, count, version = people.add_templates(
        svc.db,
        person_id,
        [people.NewTemplate(template_bytes(v), None, body.source) for v in vectors],
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
    "answers 200 with the existing template.",
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
    answer = await enrol_photo(svc, person_id, data, name, force=force)
    if not answer.created:
        return JSONResponse(answer.model_dump(mode="json"), status_code=200)
    return answer


@dataclass(frozen=True, slots=True)
class _Described:
    name: str
    digest: str
    descriptor: Descriptor


@dataclass(frozen=True, slots=True)
class PhotoOutcome:
    """One photo of an upload of several: its answer, or the error that refused it."""

    name: str
    answer: PhotoAccepted | None = None
    error: ApiError | None = None


async def enrol_photo(
    svc: Services, person_id: str, data: bytes, name: str, *, force: bool = False
) -> PhotoAccepted:
    """Compute a template from a photo and store it.

    Raises :class:`ApiError` 422 with the reason for an unusable photo or, unless ``force``,
    a face that is not the person's (nothing stored), 404 for an unknown person, 409 when the
    person has the most templates allowed. The same photo twice answers ``created=False``
    with the existing template.
    """
    prepared = await _prepare(svc, person_id, data, name)
    if isinstance(prepared, PhotoAccepted):
        return prepared
    return await _store(svc, person_id, prepared, force=force)


async def enrol_photos(
    svc: Services, person_id: str, photos: Sequence[tuple[bytes, str]], *, force: bool = False
) -> list[PhotoOutcome]:
    """Several photos of one person in one go (the admin web's upload); outcomes in order.

    For a person without templates yet, the photos are first checked against each other:
    the face most of them agree on (:func:`sync_server.enrolment.consensus`) anchors the rest,
    so a wrong photo is refused wherever it is in the upload. Then each is stored as
    :func:`enrol_photo` stores one, anchor first.
    """
    outcomes: dict[int, PhotoOutcome] = {}
    fresh: list[tuple[int, _Described]] = []
    for index, (data, name) in enumerate(photos):
        try:
            prepared = await _prepare(svc, person_id, data, name)
        except ApiError as exc:
            outcomes[index] = PhotoOutcome(name, error=exc)
            continue
        if isinstance(prepared, PhotoAccepted):
            outcomes[index] = PhotoOutcome(name, answer=prepared)
        else:
            fresh.append((index, prepared))
    if not force and len(fresh) > 1:
        try:
            enrolled = await run_in_threadpool(people.template_count, svc.db, person_id)
        except ApiError as exc:  # deleted meanwhile
            outcomes.update((index, PhotoOutcome(d.name, error=exc)) for index, d in fresh)
            fresh = []
        else:
            if not enrolled:
                fresh = _refuse_outliers(svc, person_id, fresh, outcomes)
    for index, described in fresh:
        if index in outcomes:
            continue
        try:
            answer = await _store(svc, person_id, described, force=force)
        except ApiError as exc:
            outcomes[index] = PhotoOutcome(described.name, error=exc)
        else:
            outcomes[index] = PhotoOutcome(described.name, answer=answer)
    return [outcomes[index] for index in range(len(photos))]


def _refuse_outliers(
    svc: Services,
    person_id: str,
    fresh: list[tuple[int, _Described]],
    outcomes: dict[int, PhotoOutcome],
) -> list[tuple[int, _Described]]:
    """Refuse (into ``outcomes``) the photos far from the upload's consensus face; returns
    the photos to store, the anchor first so the others are checked against it when stored."""
    threshold = svc.enroller.config.matching.threshold
    anchor, distances = consensus([d.descriptor for _, d in fresh], threshold)
    anchor_name = fresh[anchor][1].name
    for (index, described), distance in zip(fresh, distances, strict=True):
        if distance <= threshold:
            continue
        error = ApiError(
            422,
            people.NOT_SAME_PERSON,
            f"the face is {distance:.3f} from the one in {anchor_name} (the face most photos "
            f"of this upload agree on), over the matching threshold {threshold}: "
            + people.FORCE_HINT,
        )
        _rejected(svc, person_id, described.name, error)
        outcomes[index] = PhotoOutcome(described.name, error=error)
    return [fresh[anchor], *(item for k, item in enumerate(fresh) if k != anchor)]


async def _prepare(
    svc: Services, person_id: str, data: bytes, name: str
) -> PhotoAccepted | _Described:
    """The existing answer for a photo already enrolled, else the photo's descriptor."""
    digest = hashlib.sha256(data).hexdigest()
    existing = await run_in_threadpool(people.find_photo, svc.db, person_id, digest)
    if existing is not None:
        template_id, count = existing
        return PhotoAccepted(
            person_id=person_id,
            template_id=template_id,
            created=False,
            templates=count,
            version=None,
            warnings=[],
        )
    try:
        descriptor: Descriptor = await svc.enroller.describe_async(data, name)
    except ImageError as exc:
        error = ApiError(422, exc.reason, str(exc))
        _rejected(svc, person_id, name, error)
        raise error from exc
    return _Described(name, digest, descriptor)


async def _store(
    svc: Services, person_id: str, photo: _Described, *, force: bool
) -> PhotoAccepted:
    neighbours = await run_in_threadpool(
        svc.enroller.neighbours, svc.db, photo.descriptor, person_id
    )
    try:
        ids, count, version = await run_in_threadpool(
            partial(
                people.add_templates,
                svc.db,
                person_id,
                [people.NewTemplate(template_bytes(photo.descriptor), photo.digest, photo.name)],
                same_person_within=None if force else svc.enroller.config.matching.threshold,
            )
        )
    except ApiError as exc:
        if exc.reason == people.NOT_SAME_PERSON:
            _rejected(svc, person_id, photo.name, exc)
        raise
    svc.metrics.photos.labels("accepted").inc()
    warnings = _warnings(neighbours)
    log.info(
        "photo_enrolled",
        person_id=person_id,
        template_id=ids[0],
        version=version,
        forced=force,
        warnings=[w.person_id for w in warnings],
    )
    return PhotoAccepted(
        person_id=person_id,
        template_id=ids[0],
        created=True,
        templates=count,
        version=version,
        warnings=warnings,
    )


def _rejected(svc: Services, person_id: str, name: str, error: ApiError) -> None:
    svc.metrics.photos.labels(error.reason).inc()
    log.info(
        "photo_rejected", person_id=person_id, photo=name, reason=error.reason, detail=error.detail
    )


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


def _warnings(neighbours: list[Neighbour]) -> list[DuplicateWarning]:
    return [
        DuplicateWarning(
            person_id=n.person_id,
            distance=round(n.distance, 4),
            detail=f"the face is {n.distance:.3f} from {n.person_id}, under the matching "
            "threshold: the same person enrolled twice, a twin, or the wrong photo",
        )
        for n in neighbours
    ]
