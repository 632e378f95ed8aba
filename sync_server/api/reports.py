"""Admin: attendance reports (day view, month, CSV, HRMS).

The rules (shift day, first in / last out, status, lateness) are in sync_server/reports/
and docs/reports.md; shifts are set up through sync_server/api/shifts.py. Times in answers
carry the site's UTC offset (``site_timezone``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Annotated, Literal, get_args

import structlog
from fastapi import APIRouter, Depends, Header, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BeforeValidator

from edge.protocol import iso_text
from sync_server import catalogue, reports, review, shifts
from sync_server.config import resolve_hrms_secret
from sync_server.deps import AdminRoute, Services, admin, services
from sync_server.domain_errors import ConflictError
from sync_server.errors import error_responses
from sync_server.http_files import attendance_csv
from sync_server.reports import FIRST_DAY, LAST_DAY, check_range
from sync_server.schemas import ApiModel, GroupName
from sync_server.schemas.reports import (
    CheckinListedOut,
    DayCorrectionOut,
    DayOffOut,
    DayReportOut,
    DayRowOut,
    DayTotals,
    LeaveOut,
    MonthReportOut,
    MonthRowOut,
    PushFailureOut,
    PushOut,
)
from sync_server.schemas.shifts import ShiftRef

log = structlog.get_logger(__name__)

_DAYS = f"{FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"

router = APIRouter(
    prefix="/admin/reports",
    tags=["admin: reports"],
    dependencies=[Depends(admin)],
    route_class=AdminRoute,
    responses=error_responses(401, 403, 429),
)

ServicesDep = Annotated[Services, Depends(services)]
GroupFilter = Annotated[GroupName | None, Query(description="Only people of this group.")]
DepartmentFilter = Annotated[
    str | None, Query(max_length=100, description="Only people of this department.")
]
# The languages of the CSV's words (the catalogue's): a Literal, so that an unknown one is
# a 422 naming the choices.
CsvLang = Literal["en", "id"]
assert get_args(CsvLang) == catalogue.LOCALES, "CsvLang lists the catalogue's languages"
CsvLangQuery = Annotated[
    CsvLang | None, Query(description="The words' language: en or id (default: below).")
]
AcceptLanguage = Annotated[
    str | None,
    Header(description="The words' language when `lang` is not given (default English)."),
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


# --- helpers --------------------------------------------------------------------------------------


def _shift_refs(rows: Sequence[reports.DayRow | reports.SummaryRow]) -> dict[int, ShiftRef]:
    found: dict[int, ShiftRef] = {}
    for row in rows:
        if row.shift is not None and row.shift.id not in found:
            ref = shifts.shift_ref(row.shift)
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


# --- reports --------------------------------------------------------------------------------------


@router.get(
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
    tz = svc.site_zone
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
                working=r.working,
                day_off=None
                if r.day_off is None
                else DayOffOut.model_construct(kind=r.day_off.kind, name=r.day_off.name),
                leave=None
                if r.leave is None
                else LeaveOut.model_construct(
                    code=r.leave.code, label_en=r.leave.label_en, label_id=r.leave.label_id
                ),
                corrections=[
                    DayCorrectionOut.model_construct(
                        id=c.id,
                        action=c.action,
                        kind=c.kind,
                        at=c.at,
                        reason=c.reason,
                        created_by=c.created_by,
                    )
                    for c in r.corrections
                ],
                first_in_corrected=r.first_in_corrected,
                last_out_corrected=r.last_out_corrected,
            )
            for r in report.rows
        ],
    )
    return _json(answer)


@router.get(
    "/month",
    response_model=MonthReportOut,
    summary="Monthly summary per person: days present, working days, absent, leave, late, "
    "punctuality, hours",
    description="Working days come from the working calendar (the group's week, the site's "
    "holidays and days off); absent days count up to now; punctuality divides the working "
    "days attended with an in, not on leave (docs/reports.md).",
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
    tz = svc.site_zone
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
                working_days=r.working_days,
                days_absent=r.days_absent,
                days_on_leave=r.days_on_leave,
                days_attended=r.days_attended,
                days_late=r.days_late,
                punctuality_pct=r.punctuality_pct,
                worked_minutes=int(r.worked.total_seconds() // 60),
                worked_hours=r.worked_hours,
                corrected=r.corrected,
            )
            for r in report.rows
        ],
    )
    return _json(answer)


@router.get(
    "/export.csv",
    summary="CSV for a date range (streamed)",
    description="`rows=days` (default): one row per person and shift day, as the day view, "
    "absent days included. `rows=events`: one row per stored event of the calendar days. "
    "UTF-8, comma-separated, CRLF, header first; times on the site's wall clock. "
    "The words (headers, statuses, yes/no, in/out, added/voided) are in `lang`, else the "
    "`Accept-Language` header's language, else English; English is the columns' names and "
    "statuses' codes. Dates, times and numbers are ISO and plain in every language.",
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
    lang: CsvLangQuery = None,
    accept_language: AcceptLanguage = None,
) -> StreamingResponse:
    check_range(first, last)
    locale = lang or catalogue.negotiate(accept_language)
    return attendance_csv(
        svc.db,
        first,
        last,
        tz=svc.site_zone,
        rows=rows,
        group=group,
        department=department,
        locale=locale,
        vary="Accept-Language",
    )


@router.get(
    "/hrms-checkins",
    response_model=list[CheckinListedOut],
    summary="Events as ERPNext / Frappe HRMS Employee Checkin records",
    description="Every event of a known person in the calendar days, oldest first: employee "
    "(employee_id, else the person id), time (site-local), log_type IN/OUT, device_id. "
    "Voided events are left out; punches an admin added are listed with device_id "
    "hadir-correction and corrected true (corrected is not sent by the push).",
    responses=error_responses(422),
)
def hrms_checkins(
    svc: ServicesDep,
    first: FromDay,
    last: ToDay,
    group: GroupFilter = None,
    department: DepartmentFilter = None,
) -> list[CheckinListedOut]:
    check_range(first, last)
    with svc.db.read() as conn:
        found = reports.hrms_checkins(
            conn, first, last, tz=svc.site_zone, group=group, department=department
        )
    return [CheckinListedOut(**c.as_json(), corrected=c.corrected) for c in found]


@router.post(
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
        raise ConflictError(
            "hrms_not_configured",
            "set hrms.url, hrms.api_key and the API secret (hrms.api_secret, "
            "hrms.api_secret_file or the systemd credential hrms_api_secret)",
        )

    def load() -> list[reports.Checkin]:
        with svc.db.read() as conn:
            return reports.hrms_checkins(
                conn, first, last, tz=svc.site_zone, group=group, department=department
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
