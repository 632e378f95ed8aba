"""Admin: shifts, the groups and people who work them, and a person's attendance settings.

The operations are in sync_server/shifts.py; what a shift means for the reports is in
sync_server/reports/ and docs/reports.md.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from edge.protocol import MAX_COUNT
from sync_server import audit, shifts
from sync_server.api.params import IdPath
from sync_server.deps import AdminRoute, Services, admin, services
from sync_server.errors import error_responses
from sync_server.schemas.shifts import (
    GroupShift,
    GroupShiftInfo,
    PersonAttendanceInfo,
    PersonAttendanceUpdate,
    ShiftCreate,
    ShiftInfo,
    ShiftList,
    ShiftUpdate,
)

router = APIRouter(
    prefix="/admin",
    tags=["admin: shifts"],
    dependencies=[Depends(admin)],
    route_class=AdminRoute,
    responses=error_responses(401, 403, 404, 429),
)

ServicesDep = Annotated[Services, Depends(services)]
ShiftIdPath = Annotated[int, Path(ge=1, le=MAX_COUNT)]
GroupPath = IdPath
PersonIdPath = IdPath


@router.post(
    "/shifts",
    status_code=201,
    response_model=ShiftInfo,
    summary="Create a shift",
    responses=error_responses(409),
)
def create_shift(body: ShiftCreate, svc: ServicesDep) -> ShiftInfo:
    return shifts.create_shift(svc.db, body, actor=audit.API_ACTOR)


@router.get("/shifts", response_model=ShiftList, summary="All shifts and who works them")
def list_shifts(svc: ServicesDep) -> ShiftList:
    return ShiftList(shifts=shifts.list_shifts(svc.db))


@router.get("/shifts/{shift_id}", response_model=ShiftInfo, summary="One shift")
def get_shift(shift_id: ShiftIdPath, svc: ServicesDep) -> ShiftInfo:
    return shifts.get_shift(svc.db, shift_id)


@router.patch(
    "/shifts/{shift_id}",
    response_model=ShiftInfo,
    summary="Change a shift (reports of past days change with it)",
    responses=error_responses(409, 422),
)
def update_shift(shift_id: ShiftIdPath, body: ShiftUpdate, svc: ServicesDep) -> ShiftInfo:
    return shifts.update_shift(svc.db, shift_id, body, actor=audit.API_ACTOR)


@router.delete(
    "/shifts/{shift_id}",
    status_code=204,
    summary="Delete a shift that nobody works",
    responses=error_responses(409),
)
def delete_shift(shift_id: ShiftIdPath, svc: ServicesDep) -> None:
    shifts.delete_shift(svc.db, shift_id, actor=audit.API_ACTOR)


@router.put(
    "/groups/{group}/shift",
    response_model=GroupShiftInfo,
    summary="Set (or with null, remove) the shift of a group's people",
)
def set_group_shift(
    group: GroupPath,
    body: GroupShift,
    svc: ServicesDep,
) -> GroupShiftInfo:
    return shifts.set_group_shift(svc.db, group, body.shift_id, actor=audit.API_ACTOR)


@router.get(
    "/people/{person_id}/attendance",
    response_model=PersonAttendanceInfo,
    summary="A person's department, HR employee id and shift",
)
def get_person_attendance(person_id: PersonIdPath, svc: ServicesDep) -> PersonAttendanceInfo:
    with svc.db.read() as conn:
        return shifts.person_attendance(conn, person_id)


@router.patch(
    "/people/{person_id}/attendance",
    response_model=PersonAttendanceInfo,
    summary="Set a person's department, HR employee id or own shift",
    description="Only the fields sent change; null clears one (employee id back to the person "
    "id, own shift back to the group's).",
    responses=error_responses(409),
)
def update_person_attendance(
    person_id: PersonIdPath, body: PersonAttendanceUpdate, svc: ServicesDep
) -> PersonAttendanceInfo:
    return shifts.update_person_attendance(svc.db, person_id, body, actor=audit.API_ACTOR)
