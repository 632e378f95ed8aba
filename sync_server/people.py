"""People and their templates. Every change publishes to the feed in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from edge.wording import plural
from sync_server import feed
from sync_server.db import Database, people, templates, utcnow
from sync_server.enrolment import nearest_distance
from sync_server.errors import ApiError
from sync_server.schemas import PersonCreate, PersonInfo, PersonUpdate, TemplateInfo

# PersonUpsert carries at most 64 templates; more would not reach the terminals.
MAX_TEMPLATES = 64
NOT_SAME_PERSON = "not_same_person"
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
        raise ApiError(404, "unknown_person", f"no person {person_id!r}")
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
    )


def list_people(db: Database, group: str | None) -> list[PersonInfo]:
    with db.read() as conn:
        query = sa.select(people.c.id).order_by(people.c.id)
        if group is not None:
            query = query.where(people.c.group_name == group)
        ids = conn.execute(query).scalars().all()
        return [load(conn, person_id) for person_id in ids]


def create(db: Database, body: PersonCreate) -> PersonInfo:
    now = utcnow()
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
            raise ApiError(409, "person_exists", f"person {body.id!r} already exists")
        # No templates yet: terminals learn about the person with the first template.
        return load(conn, body.id)


def update(db: Database, person_id: str, body: PersonUpdate) -> tuple[PersonInfo, int | None]:
    with db.write() as conn:
        before = load(conn, person_id, lock=True)
        values: dict[str, object] = {}
        if body.name is not None and body.name != before.name:
            values["name"] = body.name
        if body.group is not None and body.group != before.group:
            values["group_name"] = body.group
        version = None
        if values:
            values["updated_at"] = utcnow()
            conn.execute(sa.update(people).where(people.c.id == person_id).values(values))
            if "group_name" in values:
                # Tombstone for the old group's terminals, full entry for the new group's.
                feed.publish(db, conn, person_id, before.group)
            version = feed.publish(db, conn, person_id, body.group or before.group)
        return load(conn, person_id), version


def delete(db: Database, person_id: str) -> int | None:
    with db.write() as conn:
        before = load(conn, person_id, lock=True)
        conn.execute(sa.delete(templates).where(templates.c.person_id == person_id))
        conn.execute(sa.delete(people).where(people.c.id == person_id))
        return feed.publish(db, conn, person_id, before.group)


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
) -> tuple[list[int], int, int]:
    """Store templates; returns (their ids, the person's template count, feed version).

    With ``same_person_within``, a template farther than that from every template the person
    already has is refused (422 ``not_same_person``), checked in the same transaction as the
    insert so two uploads at once cannot both slip past it.
    """
    now = utcnow()
    with db.write() as conn:
        person = load(conn, person_id, lock=True)
        if len(person.templates) + len(new) > MAX_TEMPLATES:
            raise ApiError(
                409,
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
                raise ApiError(409, "photo_exists", "this photo is already enrolled")
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
        conn.execute(sa.update(people).where(people.c.id == person_id).values(updated_at=now))
        version = feed.publish(db, conn, person_id, person.group)
        assert version is not None
        return ids, _count(conn, person_id), version


def delete_template(db: Database, person_id: str, template_id: int) -> int | None:
    with db.write() as conn:
        person = load(conn, person_id, lock=True)
        deleted = conn.execute(
            sa.delete(templates).where(
                templates.c.id == template_id, templates.c.person_id == person_id
            )
        ).rowcount
        if not deleted:
            raise ApiError(404, "unknown_template", f"{person_id} has no template {template_id}")
        conn.execute(sa.update(people).where(people.c.id == person_id).values(updated_at=utcnow()))
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
            raise ApiError(
                422,
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
