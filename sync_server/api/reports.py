"""Admin: attendance reports (day view, month, CSV, HRMS) and the shifts they measure against.

The rules (shift day, first in / last out, status, lateness) are in sync_server/reports.py
and docs/reports.md. Times in answers carry the site's UTC offset (``site_timezone``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
import structlog
from fastapi import APIRouter, Depends, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BeforeValidator, Field, field_validator, model_validator
from sqlalchemy.engine import Connection

from edge.protocol import EARLIEST_TIME, LATEST_TIME, MAX_COUNT, PersonId, iso_text
from sync_server import reports, review
from sync_server.config import resolve_hrms_secret
from sync_server.db import group_shifts, people, person_shifts, shifts, utcnow
from sync_server.deps import AdminRoute, Services, admin, services
from sync_server.errors import ApiError, error_responses
from sync_server.schemas import ApiModel, GroupName

log = structlog.get_logger(__name__)

# Longest date range of one export or push: a year of day rows is already millions of lines.
MAX_RANGE_DAYS = 366
# Days a report may ask for: those events can have (docs/protocol.md, "Limits"). Day windows
# reach a day beyond, which at year 1 or 9999 is past what a datetime can hold.
FIRST_DAY = EARLIEST_TIME.date()
LAST_DAY = LATEST_TIME.date() - timedelta(days=1)
_DAYS = f"{FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"

reports_router = APIRouter(
    prefix="/admin/reports",
    tags=["admin: reports"],
    dependencies=[Depends(admin)],
    route_class=AdminRoute,
    responses=error_responses(401, 403, 429),
)
shifts_router = APIRouter(
    prefix="/admin",
    tags=["admin: shifts"],
    dependencies=[Depends(admin)],
    route_class=AdminRoute,
    responses=error_responses(401, 403, 404, 429),
)
routers = (reports_router, shifts_router)

ServicesDep = Annotated[Services, Depends(services)]
GroupFilter = Annotated[GroupName | None, Query(description="Only people of this group.")]
DepartmentFilter = Annotated[
    str | None, Query(max_length=100, description="Only people of this department.")
]
IsoDay = BeforeValidator(iso_text)  # "0" is not a day, though pydantic would read 1970-01-01
FromDay = Annotated[
    date,
    IsoDay,
    Query(
        alias="from",
        ge=FIRST_DAY,
        le=LAST_DAY,
        description=f"First day, YYYY-MM-DD (site zone), {_DAYS}.",
    ),
]
ToDay = Annotated[
    date,
    IsoDay,
    Query(alias="to", ge=FIRST_DAY, le=LAST_DAY, description=f"Last day, included, {_DAYS}."),
]
ShiftIdPath = Annotated[int, Path(ge=1, le=MAX_COUNT)]
GroupPath = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]
PersonIdPath = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]


# --- models ---------------------------------------------------------------------------------------


class ShiftCreate(ApiModel):
    name: str = Field(min_length=1, max_length=64, description="Unique, e.g. 'day' or 'night'.")
    start: time = Field(description="Start on the site's wall clock, HH:MM.")
    end: time = Field(description="End, HH:MM; earlier than start means it crosses midnight.")
    grace_minutes: int = Field(
        0, ge=0, le=720, description="A first in this long after the start is still on time."
    )

    @field_validator("start", "end")
    @classmethod
    def _wall_clock(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("a wall-clock time without offset (the site zone applies)")
        return value.replace(microsecond=0)

    @model_validator(mode="after")
    def _not_empty(self) -> ShiftCreate:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self


class ShiftUpdate(ApiModel):
    name: str | None = Field(None, min_length=1, max_length=64)
    start: time | None = None
    end: time | None = None
    grace_minutes: int | None = Field(None, ge=0, le=720)

    @field_validator("start", "end")
    @classmethod
    def _wall_clock(cls, value: time | None) -> time | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError("a wall-clock time without offset (the site zone applies)")
        return None if value is None else value.replace(microsecond=0)


class ShiftRef(ApiModel):
    id: int
    name: str
    start: time
    end: time
    grace_minutes: int
    crosses_midnight: bool


class ShiftInfo(ShiftRef):
    groups: list[str] = Field(description="Groups whose people work this shift.")
    people: list[str] = Field(description="People with this shift as their own (override).")


class ShiftList(ApiModel):
    shifts: list[ShiftInfo]


class GroupShift(ApiModel):
    shift_id: int | None = Field(
        ge=1, le=MAX_COUNT, description="The group's shift; null removes it."
    )


class GroupShiftInfo(ApiModel):
    group: str
    shift: ShiftRef | None


class PersonAttendanceUpdate(ApiModel):
    """Only the fields sent change; null clears one."""

    department: str | None = Field(None, min_length=1, max_length=100)
    employee_id: str | None = Field(
        None, min_length=1, max_length=140, description="HR/payroll id; null: the person id."
    )
    shift_id: int | None = Field(
        None, ge=1, le=MAX_COUNT, description="Own shift, overriding the group's; null: none."
    )


class PersonAttendanceInfo(ApiModel):
    person_id: PersonId
    group: str
    department: str | None
    employee_id: str = Field(description="As sent to HRMS (the person id unless set).")
    own_shift: ShiftRef | None
    shift: ShiftRef | None = Field(description="The shift that applies: own, else the group's.")


class DayRowOut(ApiModel):
    person_id: str
    name: str
    group: str
    department: str | None
    employee_id: str
    shift: ShiftRef | None
    window_start: datetime = Field(description="The shift day's window (shift start - 4 h).")
    window_end: datetime
    first_in: datetime | None
    last_out: datetime | None
    worked_minutes: int | None = Field(description="Last out - first in, when complete.")
    status: reports.Status
    late: bool | None = Field(description="First in after start + grace; null without a shift.")
    late_minutes: int | None = Field(description="Minutes after the shift start (0 if early).")
    events: int
    needs_review: int = Field(
        0,
        description="Events of the day whose liveness check failed and that no admin has "
        "reviewed yet (GET /admin/events/review); they count like any other.",
    )


class DayTotals(ApiModel):
    people: int
    complete: int
    in_only: int
    out_only: int
    absent: int
    not_yet: int = Field(
        description="No event and not due yet: later days; today before shift start + grace "
        "(without a shift: before the day is over)."
    )
    late: int


class DayReportOut(ApiModel):
    date: date
    timezone: str
    totals: DayTotals
    rows: list[DayRowOut]


class MonthRowOut(ApiModel):
    person_id: str
    name: str
    group: str
    department: str | None
    employee_id: str
    shift: ShiftRef | None
    days_present: int = Field(description="Shift days with any event.")
    days_complete: int
    days_in_only: int
    days_out_only: int
    days_late: int | None = Field(description="Null without a shift.")
    punctuality_pct: float | None = Field(
        description="On-time share of the days with an in, percent; null without a shift."
    )
    worked_minutes: int
    worked_hours: float


class MonthReportOut(ApiModel):
    month: str
    first_day: date
    last_day: date
    timezone: str
    rows: list[MonthRowOut]


class CheckinOut(ApiModel):
    """A Frappe HRMS "Employee Checkin" as its REST API takes it."""

    employee: str
    time: str = Field(description="Site-local 'YYYY-MM-DD HH:MM:SS'.")
    log_type: str = Field(description="IN or OUT.")
    device_id: str


class PushFailureOut(CheckinOut):
    status: int | None = Field(description="HTTP status of the last try; null: no answer.")
    detail: str


class PushOut(ApiModel):
    total: int
    created: int
    duplicates: int = Field(description="Already in HRMS (counted as done).")
    failed: list[PushFailureOut]
    attempts: int = Field(description="Rounds of requests made (retries included).")
    ok: bool


# --- helpers --------------------------------------------------------------------------------------


def _shift_ref(shift: reports.Shift | None) -> ShiftRef | None:
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


def _shift_refs(rows: Sequence[reports.DayRow | reports.SummaryRow]) -> dict[int, ShiftRef]:
    found: dict[int, ShiftRef] = {}
    for row in rows:
        if row.shift is not None and row.shift.id not in found:
            ref = _shift_ref(row.shift)
            assert ref is not None
            found[row.shift.id] = ref
    return found


def _json(answer: ApiModel) -> Response:
    """Serialise a report built with model_construct.

    Reports hold thousands of rows built from already typed data: validating each one again
    (FastAPI's response_model path) took longer than the query. The OpenAPI schema still
    comes from ``response_model``.
    """
    return Response(answer.model_dump_json(), media_type="application/json")


def _minutes(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds() // 60)


def check_range(first: date, last: date) -> None:
    if not FIRST_DAY <= first <= LAST_DAY or not FIRST_DAY <= last <= LAST_DAY:
        raise ApiError(422, "bad_range", f"days must be from {_DAYS}")
    if last < first:
        raise ApiError(422, "bad_range", "'to' is before 'from'")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise ApiError(422, "bad_range", f"at most {MAX_RANGE_DAYS} days per request")


def _zone(svc: Services) -> Any:
    return reports.zone(svc.settings.site_timezone)


def _load_shift(conn: Connection, shift_id: int) -> reports.Shift:
    found = reports.load_shifts(conn).get(shift_id)
    if found is None:
        raise ApiError(404, "unknown_shift", f"no shift {shift_id}")
    return found


# --- reports --------------------------------------------------------------------------------------


@reports_router.get(
    "/day",
    response_model=DayReportOut,
    summary="Day view: first in, last out, worked time, status and lateness per person",
    description="One row per person for the shift day (night shifts included: the day they "
    "start). Absent people are listed when they were created before the day began.",
)
def day_report(
    svc: ServicesDep,
    day: Annotated[
        date | None,
        IsoDay,
        Query(
            alias="date",
            ge=FIRST_DAY,
            le=LAST_DAY,
            description=f"YYYY-MM-DD, {_DAYS}; default today (site zone).",
        ),
    ] = None,
    group: GroupFilter = None,
    department: DepartmentFilter = None,
) -> Response:
    tz = _zone(svc)
    day = day or reports.local_today(tz)
    with svc.db.read() as conn:
        report = reports.day_view(conn, day, tz=tz, group=group, department=department)
        to_review = review.open_in_day(conn, report.rows)
    refs = _shift_refs(report.rows)
    answer = DayReportOut.model_construct(
        date=report.day,
        timezone=report.timezone,
        totals=DayTotals(**report.totals()),
        rows=[
            DayRowOut.model_construct(
                person_id=r.person_id,
                name=r.name,
                group=r.group,
                department=r.department,
                employee_id=r.employee_id,
                shift=refs.get(r.shift.id) if r.shift else None,
                window_start=r.window_start,
                window_end=r.window_end,
                first_in=r.first_in,
                last_out=r.last_out,
                worked_minutes=_minutes(r.worked),
                status=r.status,
                late=r.late,
                late_minutes=r.late_minutes,
                events=r.events,
                needs_review=to_review.get(r.person_id, 0),
            )
            for r in report.rows
        ],
    )
    return _json(answer)


@reports_router.get(
    "/month",
    response_model=MonthReportOut,
    summary="Monthly summary per person: days present, late, punctuality, hours",
)
def month_report(
    svc: ServicesDep,
    month: Annotated[
        str,
        Query(
            pattern=r"^(19[7-9][0-9]|2[01][0-9]{2})-(0[1-9]|1[0-2])$",
            description=f"YYYY-MM, {FIRST_DAY:%Y-%m} to {LAST_DAY:%Y-%m}.",
        ),
    ],
    group: GroupFilter = None,
    department: DepartmentFilter = None,
) -> Response:
    tz = _zone(svc)
    year, number = (int(part) for part in month.split("-"))
    with svc.db.read() as conn:
        report = reports.month_summary(
            conn, date(year, number, 1), tz=tz, group=group, department=department
        )
    refs = _shift_refs(report.rows)
    answer = MonthReportOut.model_construct(
        month=month,
        first_day=report.first_day,
        last_day=report.last_day,
        timezone=report.timezone,
        rows=[
            MonthRowOut.model_construct(
                person_id=r.person_id,
                name=r.name,
                group=r.group,
                department=r.department,
                employee_id=r.employee_id,
                shift=refs.get(r.shift.id) if r.shift else None,
                days_present=r.days_present,
                days_complete=r.days_complete,
                days_in_only=r.days_in_only,
                days_out_only=r.days_out_only,
                days_late=r.days_late,
                punctuality_pct=r.punctuality_pct,
                worked_minutes=int(r.worked.total_seconds() // 60),
                worked_hours=r.worked_hours,
            )
            for r in report.rows
        ],
    )
    return _json(answer)


@reports_router.get(
    "/export.csv",
    summary="CSV for a date range (streamed)",
    description="`rows=days` (default): one row per person and shift day, as the day view, "
    "absent days included. `rows=events`: one row per stored event of the calendar days. "
    "UTF-8, comma-separated, CRLF, header first; times on the site's wall clock.",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **error_responses(422)},
)
def export_csv(
    svc: ServicesDep,
    first: FromDay,
    last: ToDay,
    rows: Annotated[reports.CsvRows, Query(description="days or events")] = reports.CsvRows.DAYS,
    group: GroupFilter = None,
    department: DepartmentFilter = None,
) -> StreamingResponse:
    check_range(first, last)
    tz = _zone(svc)
    db = svc.db

    def stream() -> Iterator[str]:
        # The read transaction lives as long as the stream; closing the generator (client
        # gone) ends it.
        with db.read() as conn:
            yield from reports.export_csv(
                conn, first, last, tz=tz, rows=rows, group=group, department=department
            )

    name = f"attendance-{rows.value}-{first.isoformat()}-{last.isoformat()}.csv"
    return StreamingResponse(
        stream(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@reports_router.get(
    "/hrms-checkins",
    response_model=list[CheckinOut],
    summary="Events as ERPNext / Frappe HRMS Employee Checkin records",
    description="Every event of a known person in the calendar days, oldest first: employee "
    "(employee_id, else the person id), time (site-local), log_type IN/OUT, device_id.",
    responses=error_responses(422),
)
def hrms_checkins(
    svc: ServicesDep,
    first: FromDay,
    last: ToDay,
    group: GroupFilter = None,
    department: DepartmentFilter = None,
) -> list[CheckinOut]:
    check_range(first, last)
    with svc.db.read() as conn:
        found = reports.hrms_checkins(
            conn, first, last, tz=_zone(svc), group=group, department=department
        )
    return [CheckinOut(**c.as_json()) for c in found]


@reports_router.post(
    "/hrms-push",
    response_model=PushOut,
    summary="Push the range's checkins to the configured Frappe HRMS",
    description="POSTs each checkin to `{hrms.url}/api/resource/Employee Checkin` with "
    "`Authorization: token key:secret`. Created and already-existing records both count as "
    "done, so repeating a push is safe; network errors, 429 and 5xx are retried with "
    "backoff (hrms.max_attempts); other refusals are listed in `failed`.",
    responses=error_responses(409, 422),
)
async def hrms_push(
    svc: ServicesDep,
    first: FromDay,
    last: ToDay,
    group: GroupFilter = None,
    department: DepartmentFilter = None,
) -> PushOut:
    check_range(first, last)
    config = svc.settings.hrms
    secret = await run_in_threadpool(resolve_hrms_secret, config)
    if not config.url or not config.api_key or not secret:
        raise ApiError(
            409,
            "hrms_not_configured",
            "set hrms.url, hrms.api_key and the API secret (hrms.api_secret, "
            "hrms.api_secret_file or the systemd credential hrms_api_secret)",
        )

    def load() -> list[reports.Checkin]:
        with svc.db.read() as conn:
            return reports.hrms_checkins(
                conn, first, last, tz=_zone(svc), group=group, department=department
            )

    checkins = await run_in_threadpool(load)
    result = await reports.push_checkins(checkins, config, secret)
    log.info(
        "hrms_push",
        first=first.isoformat(),
        last=last.isoformat(),
        total=result.total,
        created=result.created,
        duplicates=result.duplicates,
        failed=len(result.failed),
        attempts=result.attempts,
    )
    return PushOut(
        total=result.total,
        created=result.created,
        duplicates=result.duplicates,
        failed=[
            PushFailureOut(**f.checkin.as_json(), status=f.status, detail=f.detail)
            for f in result.failed
        ],
        attempts=result.attempts,
        ok=result.ok,
    )


# --- shifts and assignments -----------------------------------------------------------------------


def _shift_info(conn: Connection, shift: reports.Shift) -> ShiftInfo:
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
    ref = _shift_ref(shift)
    assert ref is not None
    return ShiftInfo(**ref.model_dump(), groups=list(groups), people=list(owners))


@contextmanager
def _unique_clash(reason: str, detail: str) -> Iterator[None]:
    """409 for a unique index that a concurrent request filled between our check and write."""
    try:
        yield
    except sa.exc.IntegrityError as exc:
        raise ApiError(409, reason, detail) from exc


def _name_taken(conn: Connection, name: str, other_than: int | None = None) -> None:
    query = sa.select(shifts.c.id).where(shifts.c.name == name)
    if other_than is not None:
        query = query.where(shifts.c.id != other_than)
    if conn.execute(query).first() is not None:
        raise ApiError(409, "shift_exists", f"a shift named {name!r} exists")


@shifts_router.post(
    "/shifts",
    status_code=201,
    response_model=ShiftInfo,
    summary="Create a shift",
    responses=error_responses(409),
)
def create_shift(body: ShiftCreate, svc: ServicesDep) -> ShiftInfo:
    with (
        _unique_clash("shift_exists", f"a shift named {body.name!r} exists"),
        svc.db.write() as conn,
    ):
        _name_taken(conn, body.name)
        shift_id = conn.execute(
            sa.insert(shifts)
            .values(
                name=body.name,
                start_time=body.start,
                end_time=body.end,
                grace_minutes=body.grace_minutes,
                created_at=utcnow(),
            )
            .returning(shifts.c.id)
        ).scalar_one()
        return _shift_info(conn, _load_shift(conn, int(shift_id)))


@shifts_router.get("/shifts", response_model=ShiftList, summary="All shifts and who works them")
def list_shifts(svc: ServicesDep) -> ShiftList:
    with svc.db.read() as conn:
        return ShiftList(shifts=[_shift_info(conn, s) for s in reports.load_shifts(conn).values()])


@shifts_router.get("/shifts/{shift_id}", response_model=ShiftInfo, summary="One shift")
def get_shift(shift_id: ShiftIdPath, svc: ServicesDep) -> ShiftInfo:
    with svc.db.read() as conn:
        return _shift_info(conn, _load_shift(conn, shift_id))


@shifts_router.patch(
    "/shifts/{shift_id}",
    response_model=ShiftInfo,
    summary="Change a shift (reports of past days change with it)",
    responses=error_responses(409, 422),
)
def update_shift(
    shift_id: ShiftIdPath, body: ShiftUpdate, svc: ServicesDep
) -> ShiftInfo:
    clash = _unique_clash("shift_exists", f"a shift named {body.name!r} exists")
    with clash, svc.db.write() as conn:
        before = _load_shift(conn, shift_id)
        start = body.start or before.start
        end = body.end or before.end
        if start == end:
            raise ApiError(422, "empty_shift", "start and end must differ")
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
        return _shift_info(conn, _load_shift(conn, shift_id))


@shifts_router.delete(
    "/shifts/{shift_id}",
    status_code=204,
    summary="Delete a shift that nobody works",
    responses=error_responses(409),
)
def delete_shift(shift_id: ShiftIdPath, svc: ServicesDep) -> None:
    with svc.db.write() as conn:
        info = _shift_info(conn, _load_shift(conn, shift_id))
        if info.groups or info.people:
            raise ApiError(
                409,
                "shift_in_use",
                f"shift {shift_id} is assigned to groups {info.groups} and people "
                f"{info.people[:5]}; unassign it first",
            )
        conn.execute(sa.delete(shifts).where(shifts.c.id == shift_id))


@shifts_router.put(
    "/groups/{group}/shift",
    response_model=GroupShiftInfo,
    summary="Set (or with null, remove) the shift of a group's people",
)
def set_group_shift(
    group: GroupPath,
    body: GroupShift,
    svc: ServicesDep,
) -> GroupShiftInfo:
    with svc.db.write() as conn:
        conn.execute(sa.delete(group_shifts).where(group_shifts.c.group_name == group))
        if body.shift_id is None:
            return GroupShiftInfo(group=group, shift=None)
        shift = _load_shift(conn, body.shift_id)
        conn.execute(sa.insert(group_shifts).values(group_name=group, shift_id=shift.id))
        return GroupShiftInfo(group=group, shift=_shift_ref(shift))


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
        raise ApiError(404, "unknown_person", f"no person {person_id!r}")
    all_shifts = reports.load_shifts(conn)
    own = all_shifts.get(row.own) if row.own is not None else None
    grouped = all_shifts.get(row.grouped) if row.grouped is not None else None
    return PersonAttendanceInfo(
        person_id=row.id,
        group=row.group_name,
        department=row.department,
        employee_id=row.employee_id or row.id,
        own_shift=_shift_ref(own),
        shift=_shift_ref(own or grouped),
    )


@shifts_router.get(
    "/people/{person_id}/attendance",
    response_model=PersonAttendanceInfo,
    summary="A person's department, HR employee id and shift",
)
def get_person_attendance(person_id: PersonIdPath, svc: ServicesDep) -> PersonAttendanceInfo:
    with svc.db.read() as conn:
        return person_attendance(conn, person_id)


@shifts_router.patch(
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
    sent = body.model_fields_set
    clash = _unique_clash("employee_id_taken", f"employee id {body.employee_id!r} is taken")
    with clash, svc.db.write() as conn:
        person_attendance(conn, person_id)  # 404 for an unknown person
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
                    raise ApiError(
                        409,
                        "employee_id_taken",
                        f"employee id {body.employee_id!r} belongs to {taken.id}",
                    )
            values["employee_id"] = body.employee_id
        if values:
            conn.execute(sa.update(people).where(people.c.id == person_id).values(values))
        if "shift_id" in sent:
            conn.execute(sa.delete(person_shifts).where(person_shifts.c.person_id == person_id))
            if body.shift_id is not None:
                shift = _load_shift(conn, body.shift_id)
                conn.execute(
                    sa.insert(person_shifts).values(person_id=person_id, shift_id=shift.id)
                )
        return person_attendance(conn, person_id)
