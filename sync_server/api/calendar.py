"""Admin: the working calendar: working weeks per group, days off, and their import.

The operations are in sync_server/calendar.py (the files' parsers in
sync_server/calendar_files.py); docs/calendar.md describes them and how the reports use them.
Every change writes an audit row with the actor ``admin token``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from edge.clock import utc_now
from edge.protocol import ID_MAX_LENGTH
from sync_server import audit, calendar
from sync_server.deps import AdminRoute, Services, admin, services
from sync_server.errors import ApiError, error_responses
from sync_server.schemas.calendar import (
    DayOffCreate,
    DayOffInfo,
    DayOffKind,
    DayOffList,
    DayOffUpdate,
    ImportReport,
    WeekInfo,
    WeekList,
    WeekSet,
)

router = APIRouter(
    prefix="/admin",
    tags=["admin: calendar"],
    dependencies=[Depends(admin)],
    route_class=AdminRoute,
    responses=error_responses(401, 403, 404, 429),
)

ServicesDep = Annotated[Services, Depends(services)]
GroupPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=ID_MAX_LENGTH,
        pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9._-]*)$",
        description="A group, or * for the site's default week.",
    ),
]
DayPath = Annotated[date, Path(description="The date, YYYY-MM-DD.")]
YearQuery = Annotated[
    int | None,
    Query(ge=1900, le=2999, description="Only this year's days off (default: all)."),
]
FILE_FIELD = "file"
_TEXT_TYPES = ("text/calendar", "text/csv", "text/plain", "application/octet-stream")


def _this_year(svc: Services) -> int:
    return utc_now().astimezone(svc.site_zone).year


def _range(year: int | None) -> tuple[date | None, date | None]:
    return (None, None) if year is None else calendar.year_range(year)


@router.get(
    "/calendar/weeks",
    response_model=WeekList,
    summary="The working week of the site and of every group, with the group's shift",
)
def list_weeks(svc: ServicesDep) -> WeekList:
    with svc.db.read() as conn:
        return WeekList(weeks=calendar.week_list(conn))


@router.put(
    "/calendar/weeks/{group}",
    response_model=WeekInfo,
    summary="Set a group's working week (* : the site's default)",
    description="`weekdays` is 'Mon-Fri', 'Mon-Sat', 'Mon,Wed,Fri' or seven 0/1 characters "
    "from Monday; a week without a working day is refused (422 bad_week).",
    responses=error_responses(422),
)
def set_week(group: GroupPath, body: WeekSet, svc: ServicesDep) -> WeekInfo:
    return calendar.set_week(svc.db, group, body.weekdays, actor=audit.API_ACTOR, now=utc_now())


@router.delete(
    "/calendar/weeks/{group}",
    status_code=204,
    summary="Remove a group's own week: it works the site's default again",
    description="For `*`, the site's default goes back to Monday to Friday. 404 unknown_week "
    "when the group has no week of its own.",
)
def unset_week(group: GroupPath, svc: ServicesDep) -> None:
    calendar.unset_week(svc.db, group, actor=audit.API_ACTOR, now=utc_now())


@router.get("/calendar/days-off", response_model=DayOffList, summary="The site's days off")
def list_days_off(svc: ServicesDep, year: YearQuery = None) -> DayOffList:
    first, last = _range(year)
    with svc.db.read() as conn:
        return DayOffList(days_off=calendar.list_days_off(conn, first, last))


@router.get(
    "/calendar/days-off.csv",
    summary="The site's days off as CSV (date,name,kind), as the import reads it",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def days_off_csv(svc: ServicesDep, year: YearQuery = None) -> Response:
    first, last = _range(year)
    with svc.db.read() as conn:
        text = calendar.days_off_csv(conn, first, last)
    name = f"days-off-{year}.csv" if year is not None else "days-off.csv"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post(
    "/calendar/days-off",
    status_code=201,
    response_model=DayOffList,
    summary="Add a day off, or one per date of a range",
    description="Refused with 409 day_off_exists when any date of the range is a day off "
    "already (nothing is added then).",
    responses=error_responses(409, 422),
)
def add_days_off(body: DayOffCreate, svc: ServicesDep) -> DayOffList:
    added = calendar.add_days_off(svc.db, body, actor=audit.API_ACTOR, now=utc_now())
    return DayOffList(days_off=added)


@router.patch(
    "/calendar/days-off/{day}",
    response_model=DayOffInfo,
    summary="Rename a day off or change its kind",
    responses=error_responses(422),
)
def update_day_off(day: DayPath, body: DayOffUpdate, svc: ServicesDep) -> DayOffInfo:
    return calendar.update_day_off(svc.db, day, body, actor=audit.API_ACTOR, now=utc_now())


@router.delete("/calendar/days-off/{day}", status_code=204, summary="Delete a day off")
def delete_day_off(day: DayPath, svc: ServicesDep) -> None:
    calendar.delete_day_off(svc.db, day, actor=audit.API_ACTOR, now=utc_now())


_IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILE_FIELD],
                    "properties": {FILE_FIELD: {"type": "string", "format": "binary"}},
                }
            },
            **{t: {"schema": {"type": "string"}} for t in _TEXT_TYPES},
        },
    }
}


@router.post(
    "/calendar/import",
    response_model=ImportReport,
    summary="Import days off from an iCalendar (.ics) or CSV file",
    description="The file as multipart/form-data (field `file`) or as the body "
    "(text/calendar, text/csv, text/plain). iCalendar: one day off per date of each VEVENT "
    "(DTEND of a date is exclusive; a date-time counts by its date in the site's time zone), "
    "SUMMARY its name, RRULE:FREQ=YEARLY expanded for `year`; other rules are refused on "
    "their line. CSV: `date,name[,kind]`, ISO dates, header optional. The answer reports "
    "every line: added, updated (the date was there with another name: now the file's), "
    "unchanged, or refused and why; the refused ones are skipped and the rest imported. "
    "A file that cannot be read at all (not UTF-8, not iCalendar, a component never closed) "
    "is refused with 422 bad_calendar_file naming its line, and nothing changes. "
    "`dry_run=true` answers the same report and changes nothing.",
    openapi_extra=_IMPORT_BODY,
    responses=error_responses(409, 415, 422),
)
async def import_days_off(
    request: Request,
    svc: ServicesDep,
    dry_run: Annotated[bool, Query(description="Preview: report, change nothing.")] = False,
    year: Annotated[
        int | None,
        Query(
            ge=1900,
            le=2999,
            description="The year to expand yearly rules for (default: "
            "this year on the site's calendar).",
        ),
    ] = None,
    kind: Annotated[
        DayOffKind, Query(description="The kind of the days a file does not say (all of an .ics).")
    ] = "holiday",
    file_format: Annotated[
        Literal["auto", "ics", "csv"],
        Query(alias="format", description="auto: .ics by content or file name, else CSV."),
    ] = "auto",
) -> ImportReport:
    data, filename, sent_type = await _read_file(request)
    if file_format == "auto" and sent_type == "text/calendar":
        file_format = "ics"
    return await run_in_threadpool(
        calendar.import_days_off,
        svc.db,
        data,
        zone=svc.site_zone,
        year=year or _this_year(svc),
        kind=kind,
        fmt=file_format,
        filename=filename,
        dry_run=dry_run,
        actor=audit.API_ACTOR,
        now=utc_now(),
    )


async def _read_file(request: Request) -> tuple[bytes, str | None, str]:
    """The file's bytes, its name if a form sent one, and its content type."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        async with request.form(max_files=1, max_fields=4) as form:
            upload = form.get(FILE_FIELD)
            if not isinstance(upload, UploadFile):
                raise ApiError(
                    422,
                    "missing_file",
                    f"the multipart form needs the calendar as a file in field {FILE_FIELD!r}",
                )
            # The part's own type is the browser's guess from the file name: the name and
            # the content decide.
            return await upload.read(), upload.filename, content_type
    if content_type in _TEXT_TYPES:
        return await request.body(), None, content_type
    raise ApiError(
        415,
        "unsupported_media_type",
        f"send multipart/form-data with a {FILE_FIELD!r} file, or the file as text/calendar, "
        "text/csv or text/plain",
    )
