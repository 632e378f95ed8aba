"""The enrolment changes feed: written with people and templates, read by terminals.

The ``changes`` table holds one row per (group, person): that person's latest
change in that group, with a version taken from the locked counter row in the
same transaction as the change itself. A terminal asking for changes since V
gets every person whose row moved past V, in version order, with the person's
full current templates; deletions are tombstones. Older changes of the same
person are never needed, so they are overwritten (compaction on write), and a
terminal starting from 0 gets the current state of its group.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from typing import Literal

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Connection

from edge.clock import utc_now
from edge.protocol import EnrolmentPage, PersonDelete, PersonUpsert, check_template
from edge.recognize.types import DESCRIPTOR_DIM
from sync_server.auth import Terminal
from sync_server.db import (
    Database,
    changes,
    current_version,
    next_version,
    people,
    templates,
    terminals,
)

Op = Literal["upsert", "delete"]

log = structlog.get_logger(__name__)


def publish(db: Database, conn: Connection, person_id: str, group: str) -> int | None:
    """Record the person's current state in ``group``'s feed; returns the version used.

    A person with templates is an upsert; without (none yet, all removed, or deleted)
    a tombstone, written only when terminals of that group may have seen them.
    """
    has_templates = (
        conn.execute(
            sa.select(templates.c.id)
            .join(people, people.c.id == templates.c.person_id)
            .where(templates.c.person_id == person_id, people.c.group_name == group)
            .limit(1)
        ).first()
        is not None
    )
    op: Op = "upsert" if has_templates else "delete"
    if op == "delete":
        seen = conn.execute(
            sa.select(changes.c.op).where(
                changes.c.group_name == group, changes.c.person_id == person_id
            )
        ).scalar_one_or_none()
        if seen is None or seen == "delete":
            return None
    version = next_version(conn)
    stmt = db.insert(changes).values(
        group_name=group, person_id=person_id, version=version, op=op, changed_at=utc_now()
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[changes.c.group_name, changes.c.person_id],
        set_={
            "version": stmt.excluded.version,
            "op": stmt.excluded.op,
            "changed_at": stmt.excluded.changed_at,
        },
    )
    conn.execute(stmt)
    return version


def group_version(conn: Connection, group: str) -> int:
    """Version of the group's latest change (0 when it never had any)."""
    value = conn.execute(
        sa.select(sa.func.max(changes.c.version)).where(changes.c.group_name == group)
    ).scalar_one_or_none()
    return int(value or 0)


def needs_reset(terminal: Terminal, since: int, head: int) -> bool:
    """Whether a terminal at ``since`` holds a copy the feed cannot bring up to date.

    Either it moved to another group after reaching ``since`` (its people belong to the
    old group), or ``since`` is ahead of anything this database issued (a restored or
    replaced server). Asking from 0 means "I hold nothing", which ends a pending reset.
    """
    return since > head or 0 < since < terminal.reset_below


def read_page(db: Database, terminal: Terminal, since: int, limit: int) -> EnrolmentPage:
    with db.read() as conn:
        head = current_version(conn)
        if needs_reset(terminal, since, head):
            # Nothing else in this answer: the terminal empties its copy, stores version 0
            # and asks again from 0, which unambiguously means it holds nothing. The page
            # is relative to that empty copy, hence since=0 (edge.store checks since<=version).
            return EnrolmentPage(since=0, version=0, more=True, changes=[], reset=True)
        found = conn.execute(
            sa.select(changes.c.version, changes.c.person_id, changes.c.op)
            .where(changes.c.group_name == terminal.group, changes.c.version > since)
            .order_by(changes.c.version)
            .limit(limit + 1)
        ).all()
        more = len(found) > limit
        rows = found[:limit]
        upsert_ids = [r.person_id for r in rows if r.op == "upsert"]
        names: dict[str, str] = {}
        vectors: dict[str, list[str]] = defaultdict(list)
        if upsert_ids:
            for person in conn.execute(
                sa.select(people.c.id, people.c.name).where(
                    people.c.id.in_(upsert_ids), people.c.group_name == terminal.group
                )
            ):
                names[person.id] = person.name
            for template in conn.execute(
                sa.select(templates.c.person_id, templates.c.vector)
                .where(templates.c.person_id.in_(upsert_ids))
                .order_by(templates.c.person_id, templates.c.id)
            ):
                if _servable(template.person_id, template.vector):
                    vectors[template.person_id].append(template_text(template.vector))
    result: list[PersonUpsert | PersonDelete] = []
    for row in rows:
        if row.op == "upsert":
            person_templates = vectors.get(row.person_id)
            if row.person_id not in names or not person_templates:
                # Changed again after this page's rows were read (PostgreSQL reads each
                # statement afresh); that later change has a higher version and follows.
                continue
            result.append(
                PersonUpsert(
                    version=row.version,
                    person_id=row.person_id,
                    name=names[row.person_id],
                    templates=person_templates[:64],
                )
            )
        elif since > 0:
            # From 0 the terminal holds nobody, so tombstones would delete nothing.
            result.append(PersonDelete(version=row.version, person_id=row.person_id))
    # Without more rows the terminal may skip to the head: every change up to it was
    # committed before the head was read (the counter row serialises writers).
    last = int(rows[-1].version) if rows else since
    version = last if more else max(head, last)
    return EnrolmentPage(since=since, version=version, more=more, changes=result)


def acknowledge_reset(db: Database, terminal: Terminal) -> None:
    """A terminal asked from 0 after a group move: its copy is empty, the reset is done."""
    with db.write() as conn:
        conn.execute(
            sa.update(terminals).where(terminals.c.id == terminal.id).values(reset_below=0)
        )


def _servable(person_id: str, raw: bytes) -> bool:
    """Whether terminals will take this stored template. One stored before decode_template
    bounded values would fail the whole page at every terminal of the group: leave it out."""
    try:
        check_template(np.frombuffer(raw, dtype="<f4"))
    except ValueError as exc:
        log.warning("template_not_served", person_id=person_id, problem=str(exc))
        return False
    return True


def template_text(raw: bytes) -> str:
    """A stored template as wire text: the column holds the bytes encode_template encodes."""
    return base64.b64encode(raw).decode("ascii")


def template_bytes(vector: npt.ArrayLike) -> bytes:
    return np.asarray(vector, dtype="<f4").reshape(DESCRIPTOR_DIM).tobytes()
