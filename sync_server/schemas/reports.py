"""Answer models of the attendance reports (day view, month, HRMS checkins and push)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from sync_server.reports import Status
from sync_server.schemas import ApiModel
from sync_server.schemas.shifts import ShiftRef


class LeaveOut(ApiModel):
    code: str = Field(description="The leave kind's code (leave_kinds), e.g. sick.")
    label_en: str = Field(description="English label, e.g. Sick.")
    label_id: str = Field(description="Bahasa Indonesia label, e.g. Sakit.")


class DayOffOut(ApiModel):
    kind: str = Field(description="holiday (a public holiday) or day_off (a company day off).")
    name: str = Field(description="Its name, e.g. Hari Raya Idul Fitri.")


class DayCorrectionOut(ApiModel):
    id: int = Field(description="The correction's id (docs/corrections.md).")
    action: str = Field(description="add: a punch added by an admin; void: a voided event.")
    kind: str = Field(description="in or out: the added punch's, or the voided event's.")
    at: datetime = Field(description="The punch's time, site wall clock with its offset.")
    reason: str = Field(description="Why, as the admin entered it.")
    created_by: str = Field(description="Who made it.")


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
    status: Status
    late: bool | None = Field(description="First in after start + grace; null without a shift.")
    late_minutes: int | None = Field(
        description="Minutes after the shift start (0 if early); null when lateness is not "
        "judged (no shift, not a working day, on leave)."
    )
    events: int = Field(description="Punches of the day: events not voided plus added ones.")
    working: bool = Field(
        description="A working day of the person's group: its week, and not a day off."
    )
    day_off: DayOffOut | None = Field(description="The site's holiday or day off, if any.")
    leave: LeaveOut | None = Field(description="Leave on this working day, if any.")
    corrections: list[DayCorrectionOut] = Field(
        description="Live corrections of the day (added punches, voided events)."
    )
    first_in_corrected: bool = Field(description="The first in is a punch added by an admin.")
    last_out_corrected: bool = Field(description="The last out is a punch added by an admin.")
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
    holiday: int = Field(description="No event on a public holiday.")
    day_off: int = Field(description="No event on a company day off.")
    not_working: int = Field(description="No event on a day the group does not work.")
    leave: int = Field(description="No event on a working day on leave.")
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
    days_present: int = Field(description="Shift days with any event, any day of the range.")
    days_complete: int
    days_in_only: int
    days_out_only: int
    working_days: int = Field(
        description="Working days of the person's group in the range (its week, minus the "
        "site's holidays and days off), from the first day the person is listed."
    )
    days_absent: int = Field(
        description="Working days up to now, not on leave, without any event (days not due "
        "yet are not absent)."
    )
    days_on_leave: dict[str, int] = Field(
        description="Working days on leave by leave kind code, e.g. {'sick': 2}."
    )
    days_attended: int = Field(
        description="Working days, not on leave, with an in: what punctuality divides."
    )
    days_late: int | None = Field(
        description="Days attended (see days_attended) whose first in was late; null "
        "without a shift."
    )
    punctuality_pct: float | None = Field(
        description="100 x (days_attended - days_late) / days_attended; null without a shift "
        "or without a day attended."
    )
    worked_minutes: int
    worked_hours: float
    corrected: bool = Field(description="A live correction changed this person's numbers.")


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
    device_id: str = Field(
        description="The terminal; hadir-correction for a punch an admin added (a correction)."
    )


class CheckinListedOut(CheckinOut):
    """A checkin as GET /hrms-checkins lists it: the payload plus whether it is a correction."""

    corrected: bool = Field(description="A punch an admin added, not a terminal's event.")


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
