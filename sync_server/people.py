"""People and their templates. Every change publishes to the feed in the same transaction,
and writes its audit row there too (who: ``actor``, the web username or ``audit.API_ACTOR``).

Templates are made only for a person whose consent is on record (:mod:`sync_server.consent`);
withdrawing it erases them through the same path as deleting the person.

Enrolling photos (the API's upload and the admin web's form) is here too: the server runs the
terminals' recognition code on them, refuses unusable ones with a reason and warns of faces
close to someone else's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import sqlalchemy as sa
import structlog
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Connection

from edge.clock import utc_now
from edge.errors import ImageError
from edge.recognize.types import Descriptor
from edge.wording import plural
from sync_server import audit, consent, feed
from sync_server.config import PrivacyConfig
from sync_server.db import Database, people, templates
from sync_server.deps import Services
from sync_server.domain_errors import (
    ConflictError,
    DomainError,
    NotFoundError,
    PersonNotFoundError,
    UnacceptableError,
)
from sync_server.enrolment import Neighbour, consensus, nearest_distance
from sync_server.feed import template_bytes
from sync_server.schemas import (
    ConsentWithdrawn,
    DuplicateWarning,
    PersonCreate,
    PersonInfo,
    PersonUpdate,
    PhotoAccepted,
    TemplateInfo,
)

log = structlog.get_logger(__name__)

# PersonUpsert carries at most 64 templates; more would not reach the terminals.
MAX_TEMPLATES = 64
NOT_SAME_PERSON = "not_same_person"
# The site's consent text version when the caller has no settings at hand (tests, tools).
DEFAULT_CONSENT_VERSION = PrivacyConfig().consent_text_version
FORCE_HINT = (
    "a photo of someone else? If it really is them, enrol it with force (API force=true, "
    "hadir person add --force-photo, the web form's 'enrol anyway' box)"
)


@dataclass(frozen=True, slots=True)
class NewTemplate:
    vector: bytes
    photo_sha256: str | None
    source: str


def load(conn: Connection, person_id: str, *, lock: bool = False) -> PersonInfo:
    query = sa.select(people).where(people.c.id == person_id)
    if lock:
        # PostgreSQL: concurrent changes to one person take turns (SQLite locks the database).
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise PersonNotFoundError(person_id)
    rows = conn.execute(
        sa.select(
            templates.c.id, templates.c.source, templates.c.photo_sha256, templates.c.created_at
        )
        .where(templates.c.person_id == person_id)
        .order_by(templates.c.id)
    ).all()
    return PersonInfo(
        id=row.id,
        name=row.name,
        group=row.group_name,
        created_at=row.created_at,
        updated_at=row.updated_at,
        templates=[TemplateInfo(**r._mapping) for r in rows],
        consent=consent.current(conn, person_id),
    )


def _audit_person(info: PersonInfo) -> dict[str, object]:
    return {"id": info.id, "name": info.name, "group": info.group}


def list_people(db: Database, group: str | None) -> list[PersonInfo]:
    with db.read() as conn:
        query = sa.select(people.c.id).order_by(people.c.id)
        if group is not None:
            query = query.where(people.c.group_name == group)
        ids = conn.execute(query).scalars().all()
        return [load(conn, person_id) for person_id in ids]


def create(
    db: Database,
    body: PersonCreate,
    *,
    actor: str = audit.API_ACTOR,
    consent_version: str = DEFAULT_CONSENT_VERSION,
    channel: consent.Channel | None = None,
) -> PersonInfo:
    """Create a person, with their consent when ``body`` carries it (``consent_version``: the
    site's text version, for a consent that names none; ``channel``: the web's own)."""
    now = utc_now()
    with db.write() as conn:
        # ON CONFLICT rather than look-then-insert: two processes may create the same id.
        created = conn.execute(
            db.insert(people)
            .values(
                id=body.id, name=body.name, group_name=body.group, created_at=now, updated_at=now
            )
            .on_conflict_do_nothing(index_elements=[people.c.id])
            .returning(people.c.id)
        ).first()
        if created is None:
            raise ConflictError("person_exists", f"person {body.id!r} already exists")
        audit.record(
            conn,
            actor=actor,
            action="create",
            entity="person",
            entity_id=body.id,
            now=now,
            after={"id": body.id, "name": body.name, "group": body.group},
        )
        if body.consent is not None:
            given = consent.grant(
                body.consent, actor=actor, default_version=consent_version, channel=channel
            )
            consent.record(conn, body.id, given, actor=actor, now=now)
        # No templates yet: terminals learn about the person with the first template.
        return load(conn, body.id)


def update(
    db: Database, person_id: str, body: PersonUpdate, *, actor: str = audit.API_ACTOR
) -> tuple[PersonInfo, int | None]:
    with db.write() as conn:
        before = load(conn, person_id, lock=True)
        values: dict[str, object] = {}
        if body.name is not None and body.name != before.name:
            values["name"] = body.name
        if body.group is not None and body.group != before.group:
            values["group_name"] = body.group
        version = None
        if values:
            now = utc_now()
            values["updated_at"] = now
            conn.execute(sa.update(people).where(people.c.id == person_id).values(values))
            after = before.model_copy(
                update={"name": body.name or before.name, "group": body.group or before.group}
            )
            audit.record(
                conn,
                actor=actor,
                action="update",
                entity="person",
                entity_id=person_id,
                now=now,
                before=_audit_person(before),
                after=_audit_person(after),
            )
            if "group_name" in values:
                # Tombstone for the old group's terminals, full entry for the new group's.
                feed.publish(db, conn, person_id, before.group)
            version = feed.publish(db, conn, person_id, body.group or before.group)
        return load(conn, person_id), version


def delete(db: Database, person_id: str, *, actor: str = audit.API_ACTOR) -> int | None:
    """Delete a person and their templates; their consent ends with them (so the same id
    enrolled again needs a consent of its own). Attendance stays (retention applies)."""
    now = utc_now()
    with db.write() as conn:
        before = load(conn, person_id, lock=True)
        _erase_templates(conn, before, actor=actor, now=now)
        consent.end(conn, person_id, actor=actor, now=now)
        conn.execute(sa.delete(people).where(people.c.id == person_id))
        audit.record(
            conn,
            actor=actor,
            action="delete",
            entity="person",
            entity_id=person_id,
            now=now,
            before=_audit_person(before),
        )
        return feed.publish(db, conn, person_id, before.group)


def withdraw_consent(
    db: Database, person_id: str, *, actor: str = audit.API_ACTOR
) -> ConsentWithdrawn:
    """The person withdraws their consent: it ends, and their templates are erased from the
    server and, through the enrolment feed, from every terminal of their group. The person
    and their attendance stay. Withdrawing again changes nothing."""
    now = utc_now()
    with db.write() as conn:
        person = load(conn, person_id, lock=True)
        ended = consent.end(conn, person_id, actor=actor, now=now)
        deleted = _erase_templates(conn, person, actor=actor, now=now)
        version = None
        if deleted:
            conn.execute(sa.update(people).where(people.c.id == person_id).values(updated_at=now))
            version = feed.publish(db, conn, person_id, person.group)
    log.info(
        "consent_withdrawn",
        person_id=person_id,
        consents=len(ended),
        templates_deleted=deleted,
        version=version,
    )
    return ConsentWithdrawn(
        person_id=person_id, withdrawn=ended, templates_deleted=deleted, version=version
    )


def _erase_templates(conn: Connection, person: PersonInfo, *, actor: str, now: datetime) -> int:
    """Delete all of a person's templates (the caller publishes the change); one audit row
    each, without the vector."""
    conn.execute(sa.delete(templates).where(templates.c.person_id == person.id))
    for item in person.templates:
        audit.record(
            conn,
            actor=actor,
            action="delete",
            entity="template",
            entity_id=str(item.id),
            now=now,
            before=_audit_template(person.id, item),
        )
    return len(person.templates)


def _audit_template(person_id: str, item: TemplateInfo) -> dict[str, object]:
    return {
        "person_id": person_id,
        "id": item.id,
        "source": item.source,
        "photo_sha256": item.photo_sha256,
        "created_at": item.created_at,
    }


def find_photo(db: Database, person_id: str, photo_sha256: str) -> tuple[int, int] | None:
    """(template id, template count) when this exact photo is already enrolled for the person."""
    with db.read() as conn:
        load(conn, person_id)
        found = conn.execute(
            sa.select(templates.c.id).where(
                templates.c.person_id == person_id, templates.c.photo_sha256 == photo_sha256
            )
        ).scalar_one_or_none()
        if found is None:
            return None
        return int(found), _count(conn, person_id)


def template_count(db: Database, person_id: str) -> int:
    with db.read() as conn:
        load(conn, person_id)
        return _count(conn, person_id)


def add_templates(
    db: Database,
    person_id: str,
    new: list[NewTemplate],
    *,
    same_person_within: float | None = None,
    actor: str = audit.API_ACTOR,
) -> tuple[list[int], int, int]:
    """Store templates; returns (their ids, the person's template count, feed version).

    Refused (``ConflictError`` consent_missing) unless the person's consent is on record,
    checked in the transaction of the insert, so a withdrawal at the same time wins.

    With ``same_person_within``, a template farther than that from every template the person
    already has is refused (``UnacceptableError`` not_same_person), checked in the same
    transaction as the insert so two uploads at once cannot both slip past it.
    """
    now = utc_now()
    with db.write() as conn:
        person = load(conn, person_id, lock=True)
        consent.require(conn, person_id)
        if len(person.templates) + len(new) > MAX_TEMPLATES:
            raise ConflictError(
                "too_many_templates",
                f"{person_id} has {plural(len(person.templates), 'template')}; at most "
                f"{MAX_TEMPLATES} are allowed (delete some first)",
            )
        if same_person_within is not None:
            _check_same_person(conn, person_id, new, same_person_within)
        known = {t.photo_sha256 for t in person.templates if t.photo_sha256}
        ids: list[int] = []
        for item in new:
            if item.photo_sha256 is not None and item.photo_sha256 in known:
                raise ConflictError("photo_exists", "this photo is already enrolled")
            ids.append(
                int(
                    conn.execute(
                        sa.insert(templates)
                        .values(
                            person_id=person_id,
                            vector=item.vector,
                            photo_sha256=item.photo_sha256,
                            source=item.source[:200],
                            created_at=now,
                        )
                        .returning(templates.c.id)
                    ).scalar_one()
                )
            )
            audit.record(
                conn,
                actor=actor,
                # A photo's template has the photo's digest; an imported one has none.
                action="create" if item.photo_sha256 is not None else "import",
                entity="template",
                entity_id=str(ids[-1]),
                now=now,
                after=_audit_template(
                    person_id,
                    TemplateInfo(
                        id=ids[-1],
                        source=item.source[:200],
                        photo_sha256=item.photo_sha256,
                        created_at=now,
                    ),
                ),
            )
        conn.execute(sa.update(people).where(people.c.id == person_id).values(updated_at=now))
        version = feed.publish(db, conn, person_id, person.group)
        assert version is not None
        return ids, _count(conn, person_id), version


def delete_template(
    db: Database, person_id: str, template_id: int, *, actor: str = audit.API_ACTOR
) -> int | None:
    now = utc_now()
    with db.write() as conn:
        person = load(conn, person_id, lock=True)
        deleted = conn.execute(
            sa.delete(templates).where(
                templates.c.id == template_id, templates.c.person_id == person_id
            )
        ).rowcount
        if not deleted:
            raise NotFoundError("unknown_template", f"{person_id} has no template {template_id}")
        conn.execute(sa.update(people).where(people.c.id == person_id).values(updated_at=now))
        audit.record(
            conn,
            actor=actor,
            action="delete",
            entity="template",
            entity_id=str(template_id),
            now=now,
            before=next(
                _audit_template(person_id, t) for t in person.templates if t.id == template_id
            ),
        )
        return feed.publish(db, conn, person_id, person.group)


def _check_same_person(
    conn: Connection, person_id: str, new: list[NewTemplate], threshold: float
) -> None:
    stored = list(
        conn.execute(sa.select(templates.c.vector).where(templates.c.person_id == person_id))
        .scalars()
        .all()
    )
    if not stored:
        return  # a person's first face has nothing of theirs to be compared with
    for item in new:
        distance = nearest_distance(stored, item.vector)
        if not distance <= threshold:
            raise UnacceptableError(
                NOT_SAME_PERSON,
                f"the face is {distance:.3f} from the nearest of {person_id}'s "
                f"{plural(len(stored), 'template')}, over the matching threshold {threshold}: "
                + FORCE_HINT,
            )


def _count(conn: Connection, person_id: str) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count())
            .select_from(templates)
            .where(templates.c.person_id == person_id)
        ).scalar_one()
    )


# --- photos ---------------------------------------------------------------------------------------


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
    error: DomainError | None = None


async def enrol_photo(
    svc: Services,
    person_id: str,
    data: bytes,
    name: str,
    *,
    force: bool = False,
    actor: str = audit.API_ACTOR,
) -> PhotoAccepted:
    """Compute a template from a photo and store it.

    Raises :class:`UnacceptableError` with the reason for an unusable photo or, unless
    ``force``, a face that is not the person's (nothing stored), :class:`PersonNotFoundError`
    for an unknown person, :class:`ConflictError` when the person has the most templates
    allowed, or consent_missing without the person's consent on record (checked before the
    photo is looked at). The same photo twice answers ``created=False``
    with the existing template.
    """
    await run_in_threadpool(_check_consent, svc, person_id, name)
    prepared = await _prepare(svc, person_id, data, name)
    if isinstance(prepared, PhotoAccepted):
        return prepared
    return await _store(svc, person_id, prepared, force=force, actor=actor)


async def enrol_photos(
    svc: Services,
    person_id: str,
    photos: Sequence[tuple[bytes, str]],
    *,
    force: bool = False,
    actor: str = audit.API_ACTOR,
) -> list[PhotoOutcome]:
    """Several photos of one person in one go (the admin web's upload); outcomes in order.

    For a person without templates yet, the photos are first checked against each other:
    the face most of them agree on (:func:`sync_server.enrolment.consensus`) anchors the rest,
    so a wrong photo is refused wherever it is in the upload. Then each is stored as
    :func:`enrol_photo` stores one, anchor first.
    """
    outcomes: dict[int, PhotoOutcome] = {}
    fresh: list[tuple[int, _Described]] = []
    if photos:
        try:
            await run_in_threadpool(_check_consent, svc, person_id, photos[0][1])
        except DomainError as exc:
            # No face is computed for a person who has not consented: all refused alike.
            return [PhotoOutcome(name, error=exc) for _, name in photos]
    for index, (data, name) in enumerate(photos):
        try:
            prepared = await _prepare(svc, person_id, data, name)
        except DomainError as exc:
            outcomes[index] = PhotoOutcome(name, error=exc)
            continue
        if isinstance(prepared, PhotoAccepted):
            outcomes[index] = PhotoOutcome(name, answer=prepared)
        else:
            fresh.append((index, prepared))
    if not force and len(fresh) > 1:
        try:
            enrolled = await run_in_threadpool(template_count, svc.db, person_id)
        except DomainError as exc:  # deleted meanwhile
            outcomes.update((index, PhotoOutcome(d.name, error=exc)) for index, d in fresh)
            fresh = []
        else:
            if not enrolled:
                fresh = _refuse_outliers(svc, person_id, fresh, outcomes)
    for index, described in fresh:
        if index in outcomes:
            continue
        try:
            answer = await _store(svc, person_id, described, force=force, actor=actor)
        except DomainError as exc:
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
        error = UnacceptableError(
            NOT_SAME_PERSON,
            f"the face is {distance:.3f} from the one in {anchor_name} (the face most photos "
            f"of this upload agree on), over the matching threshold {threshold}: " + FORCE_HINT,
        )
        _rejected(svc, person_id, described.name, error)
        outcomes[index] = PhotoOutcome(described.name, error=error)
    return [fresh[anchor], *(item for k, item in enumerate(fresh) if k != anchor)]


async def _prepare(
    svc: Services, person_id: str, data: bytes, name: str
) -> PhotoAccepted | _Described:
    """The existing answer for a photo already enrolled, else the photo's descriptor."""
    digest = hashlib.sha256(data).hexdigest()
    existing = await run_in_threadpool(find_photo, svc.db, person_id, digest)
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
        error = UnacceptableError(exc.reason, str(exc))
        _rejected(svc, person_id, name, error)
        raise error from exc
    return _Described(name, digest, descriptor)


def _check_consent(svc: Services, person_id: str, name: str) -> None:
    """Refuse a photo of a person without consent before computing anything from it (the
    insert checks again, in its transaction)."""
    with svc.db.read() as conn:
        load(conn, person_id)
        try:
            consent.require(conn, person_id)
        except DomainError as exc:
            _rejected(svc, person_id, name, exc)
            raise


async def _store(
    svc: Services, person_id: str, photo: _Described, *, force: bool, actor: str
) -> PhotoAccepted:
    neighbours = await run_in_threadpool(
        svc.enroller.neighbours, svc.db, photo.descriptor, person_id
    )
    try:
        ids, count, version = await run_in_threadpool(
            partial(
                add_templates,
                svc.db,
                person_id,
                [NewTemplate(template_bytes(photo.descriptor), photo.digest, photo.name)],
                same_person_within=None if force else svc.enroller.config.matching.threshold,
                actor=actor,
            )
        )
    except DomainError as exc:
        if exc.reason == NOT_SAME_PERSON:
            _rejected(svc, person_id, photo.name, exc)
        raise
    svc.metrics.photos.labels("accepted").inc()
    warnings = duplicate_warnings(neighbours)
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


def _rejected(svc: Services, person_id: str, name: str, error: DomainError) -> None:
    svc.metrics.photos.labels(error.reason).inc()
    log.info(
        "photo_rejected", person_id=person_id, photo=name, reason=error.reason, detail=error.detail
    )


def duplicate_warnings(neighbours: list[Neighbour]) -> list[DuplicateWarning]:
    """Warnings for other people closer than the matching threshold to a new face."""
    return [
        DuplicateWarning(
            person_id=n.person_id,
            distance=round(n.distance, 4),
            detail=f"the face is {n.distance:.3f} from {n.person_id}, under the matching "
            "threshold: the same person enrolled twice, a twin, or the wrong photo",
        )
        for n in neighbours
    ]
