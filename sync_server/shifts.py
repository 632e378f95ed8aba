"""Shifts, who works them (groups, people's own), and a person's attendance settings.

The rules the reports apply to a shift (shift day, window, lateness) are in
sync_server/reports/ and docs/reports.md; this is the bookkeeping.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from edge.clock import utc_now
from sync_server import audit, reports
from sync_server.db import Database, group_shifts, people, person_shifts, shifts
from sync_server.domain_errors import (
    ConflictError,
    PersonNotFoundError,
    ShiftNotFoundError,
    UnacceptableError,
)
from sync_server.schemas.shifts import (
    GroupShiftInfo,
    PersonAttendanceInfo,
    PersonAttendanceUpdate,
    ShiftCreate,
    ShiftInfo,
    ShiftRef,
    ShiftUpdate,
)

__all__ = [
    "PersonAttendanceUpdate",
    "create_shift",
    "delete_shift",
    "get_shift",
    "list_shifts",
    "load_shift",
    "person_attendance",
    "set_group_shift",
    "shift_info",
    "shift_ref",
    "update_person_attendance",
    "update_shift",
]


def shift_ref(shift: reports.Shift | None) -> ShiftRef | None:
    if shift is None:
        return None
    return ShiftRef(
        id=shift.id,
        name=shift.name,
        start=shift.start,
        end=shift.end,
        grace_minutes=shift.grace_minutes,
        crosses_midnight=shift.crosses_midnight,
    )


def load_shift(conn: Connection, shift_id: int) -> reports.Shift:
    found = reports.load_shifts(conn).get(shift_id)
    if found is None:
        raise ShiftNotFoundError(shift_id)
    return found


def shift_info(conn: Connection, shift: reports.Shift) -> ShiftInfo:
    groups = conn.execute(
        sa.select(group_shifts.c.group_name)
        .where(group_shifts.c.shift_id == shift.id)
        .order_by(group_shifts.c.group_name)
    ).scalars()
    owners = conn.execute(
        sa.select(person_shifts.c.person_id)
        .where(person_shifts.c.shift_id == shift.id)
        .order_by(person_shifts.c.person_id)
    ).scalars()
    ref = shift_ref(shift)
    assert ref is not None
    return ShiftInfo(**ref.model_dump(), groups=list(groups), people=list(owners))


@contextmanager
def _unique_clash(reason: str, detail: str) -> Iterator[None]:
    """A conflict for a unique index that a concurrent request filled between our check and
    write."""
    try:
        yield
    except sa.exc.IntegrityError as exc:
        raise ConflictError(reason, detail) from exc


def _name_taken(conn: Connection, name: str, other_than: int | None = None) -> None:
    query = sa.select(shifts.c.id).where(shifts.c.name == name)
    if other_than is not None:
        query = query.where(shifts.c.id != other_than)
    if conn.execute(query).first() is not None:
        raise ConflictError("shift_exists", f"a shift named {name!r} exists")


def _shift_values(shift: reports.Shift) -> dict[str, Any]:
    """A shift as its audit rows show it."""
    return {
        "name": shift.name,
        "start": shift.start,
        "end": shift.end,
        "grace_minutes": shift.grace_minutes,
    }


def create_shift(db: Database, body: ShiftCreate, *, actor: str = audit.API_ACTOR) -> ShiftInfo:
    """Create a shift; ``actor`` (the web account, or the API's admin token) is recorded in
    the audit row, as for every change below."""
    now = utc_now()
    with (
        _unique_clash("shift_exists", f"a shift named {body.name!r} exists"),
        db.write() as conn,
    ):
        _name_taken(conn, body.name)
        shift_id = conn.execute(
            sa.insert(shifts)
            .values(
                name=body.name,
                start_time=body.start,
                end_time=body.end,
                grace_minutes=body.grace_minutes,
                created_at=now,
            )
            .returning(shifts.c.id)
        ).scalar_one()
        made = load_shift(conn, int(shift_id))
        audit.record(
            conn,
            actor=actor,
            action="create",
            entity="shift",
            entity_id=str(made.id),
            now=now,
            after=_shift_values(made),
        )
        return shift_info(conn, made)


def list_shifts(db: Database) -> list[ShiftInfo]:
    with db.read() as conn:
        return [shift_info(conn, s) for s in reports.load_shifts(conn).values()]


def get_shift(db: Database, shift_id: int) -> ShiftInfo:
    with db.read() as conn:
        return shift_info(conn, load_shift(conn, shift_id))


def update_shift(
    db: Database, shift_id: int, body: ShiftUpdate, *, actor: str = audit.API_ACTOR
) -> ShiftInfo:
    clash = _unique_clash("shift_exists", f"a shift named {body.name!r} exists")
    with clash, db.write() as conn:
        before = load_shift(conn, shift_id)
        start = body.start or before.start
        end = body.end or before.end
        if start == end:
            raise UnacceptableError("empty_shift", "start and end must differ")
        if body.name is not None:
            _name_taken(conn, body.name, other_than=shift_id)
        conn.execute(
            sa.update(shifts)
            .where(shifts.c.id == shift_id)
            .values(
                name=body.name or before.name,
                start_time=start,
                end_time=end,
                grace_minutes=before.grace_minutes
                if body.grace_minutes is None
                else body.grace_minutes,
            )
        )
        after = load_shift(conn, shift_id)
        if _shift_values(after) != _shift_values(before):
            audit.record(
                conn,
                actor=actor,
                action="update",
                entity="shift",
                entity_id=str(shift_id),
                now=utc_now(),
                before=_shift_values(before),
                after=_shift_values(after),
            )
        return shift_info(conn, after)


def delete_shift(db: Database, shift_id: int, *, actor: str = audit.API_ACTOR) -> None:
    """Delete a shift that nobody works (a conflict while a group or person has it)."""
    with db.write() as conn:
        shift = load_shift(conn, shift_id)
        info = shift_info(conn, shift)
        if info.groups or info.people:
            raise ConflictError(
                "shift_in_use",
                f"shift {shift_id} is assigned to groups {info.groups} and people "
                f"{info.people[:5]}; unassign it first",
            )
        conn.execute(sa.delete(shifts).where(shifts.c.id == shift_id))
        audit.record(
            conn,
            actor=actor,
            action="delete",
            entity="shift",
            entity_id=str(shift_id),
            now=utc_now(),
            before=_shift_values(shift),
        )


def _group_values(conn: Connection, shift_id: int | None) -> dict[str, Any]:
    name = None
    if shift_id is not None:
        name = conn.execute(sa.select(shifts.c.name).where(shifts.c.id == shift_id)).scalar()
    return {"shift_id": shift_id, "shift": name}


def set_group_shift(
    db: Database, group: str, shift_id: int | None, *, actor: str = audit.API_ACTOR
) -> GroupShiftInfo:
    """Set the shift of a group's people; None removes it. The audit row (entity ``group``)
    says which shift the group had before and has after; setting what it has writes none."""
    with db.write() as conn:
        had = conn.execute(
            sa.select(group_shifts.c.shift_id).where(group_shifts.c.group_name == group)
        ).scalar()
        before = _group_values(conn, had)
        conn.execute(sa.delete(group_shifts).where(group_shifts.c.group_name == group))
        shift = None
        if shift_id is not None:
            shift = load_shift(conn, shift_id)
            conn.execute(sa.insert(group_shifts).values(group_name=group, shift_id=shift.id))
        after = _group_values(conn, shift_id)
        if after != before:
            audit.record(
                conn,
                actor=actor,
                action="update",
                entity="group",
                entity_id=group,
                now=utc_now(),
                before=before,
                after=after,
            )
        return GroupShiftInfo(group=group, shift=shift_ref(shift))


def person_attendance(conn: Connection, person_id: str) -> PersonAttendanceInfo:
    row = conn.execute(
        sa.select(
            people.c.id,
            people.c.group_name,
            people.c.department,
            people.c.employee_id,
            person_shifts.c.shift_id.label("own"),
            group_shifts.c.shift_id.label("grouped"),
        )
        .select_from(
            people.outerjoin(person_shifts, person_shifts.c.person_id == people.c.id).outerjoin(
                group_shifts, group_shifts.c.group_name == people.c.group_name
            )
        )
        .where(people.c.id == person_id)
    ).first()
    if row is None:
        raise PersonNotFoundError(person_id)
    all_shifts = reports.load_shifts(conn)
    own = all_shifts.get(row.own) if row.own is not None else None
    grouped = all_shifts.get(row.grouped) if row.grouped is not None else None
    return PersonAttendanceInfo(
        person_id=row.id,
        group=row.group_name,
        department=row.department,
        employee_id=row.employee_id or row.id,
        own_shift=shift_ref(own),
        shift=shift_ref(own or grouped),
    )


def _attendance_values(info: PersonAttendanceInfo) -> dict[str, Any]:
    """A person's attendance settings as their audit rows show them."""
    return {
        "department": info.department,
        "employee_id": info.employee_id,
        "own_shift_id": None if info.own_shift is None else info.own_shift.id,
    }


def update_person_attendance(
    db: Database,
    person_id: str,
    body: PersonAttendanceUpdate,
    *,
    actor: str = audit.API_ACTOR,
) -> PersonAttendanceInfo:
    """Only the fields sent change; None clears one (employee id back to the person id, own
    shift back to the group's)."""
    sent = body.model_fields_set
    clash = _unique_clash("employee_id_taken", f"employee id {body.employee_id!r} is taken")
    with clash, db.write() as conn:
        before = _attendance_values(person_attendance(conn, person_id))  # unknown person
        values: dict[str, Any] = {}
        if "department" in sent:
            values["department"] = body.department
        if "employee_id" in sent:
            if body.employee_id is not None:
                taken = conn.execute(
                    sa.select(people.c.id).where(
                        people.c.employee_id == body.employee_id, people.c.id != person_id
                    )
                ).first()
                if taken is not None:
                    raise ConflictError(
                        "employee_id_taken",
                        f"employee id {body.employee_id!r} belongs to {taken.id}",
                    )
            values["employee_id"] = body.employee_id
        if values:
            conn.execute(sa.update(people).where(people.c.id == person_id).values(values))
        if "shift_id" in sent:
            conn.execute(sa.delete(person_shifts).where(person_shifts.c.person_id == person_id))
            if body.shift_id is not None:
                shift = load_shift(conn, body.shift_id)
                conn.execute(
                    sa.insert(person_shifts).values(person_id=person_id, shift_id=shift.id)
                )
        info = person_attendance(conn, person_id)
        after = _attendance_values(info)
        if after != before:
            # Entity person: these are the person's own fields (department, HR id, shift).
            audit.record(
                conn,
                actor=actor,
                action="update",
                entity="person",
                entity_id=person_id,
                now=utc_now(),
                before=before,
                after=after,
            )
        return info
