"""Answer models of the attendance reports (day view, month, HRMS checkins and push)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from sync_server.reports import Status
from sync_server.schemas import ApiModel
from sync_server.schemas.shifts import ShiftRef


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
