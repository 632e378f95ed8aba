"""The Calendar page: the working week of the site and of each group, the days off of a year,
and the import of an iCalendar or CSV file with its line-by-line report.

The same operations as the JSON API (sync_server/calendar.py), so a refusal reads the same;
every change is audited with the web account's username.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import structlog
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from edge.clock import utc_now
from sync_server import calendar
from sync_server.deps import Services, services
from sync_server.domain_errors import DomainError
from sync_server.errors import ApiError, http_status
from sync_server.schemas.calendar import DayOffCreate, DayOffUpdate, ImportReport
from sync_server.web.forms import field_problems, text
from sync_server.web.i18n import N_, Lang
from sync_server.web.render import PREFIX, Page, redirect, render
from sync_server.web.session import admin_router, load_page, load_post

log = structlog.get_logger(__name__)

router = admin_router()

PAGE = f"{PREFIX}/calendar"
# What the page says after a change (the ``done`` query parameter names one), and its own
# refusals; the i18n catalogues translate these.
TEXT = {
    "week_saved": N_("The working week was saved."),
    "week_unset": N_("The group works the site's default week again."),
    "days_added": N_("The day off was added."),
    "day_renamed": N_("The day off was changed."),
    "day_deleted": N_("The day off was deleted."),
    "no_file": N_("Choose a file to import."),
    "bad_year": N_("Not a year: %(value)s."),
    "bad_date": N_("Not a date: %(value)s (YYYY-MM-DD)."),
    "no_day": N_("Tick at least one working day."),
}
DONE = ("week_saved", "week_unset", "days_added", "day_renamed", "day_deleted")
MIN_YEAR, MAX_YEAR = 1900, 2999


def _year(raw: str | None, default: int) -> int:
    """The year asked for; ValueError when it is not one."""
    if not raw:
        return default
    if not raw.isdigit() or not MIN_YEAR <= int(raw) <= MAX_YEAR:
        raise ValueError(raw)
    return int(raw)


# calendar.describe_weekdays names the days in English ("Mon-Fri"), as the API and the
# commands say them; the page says the same runs in its own language ("Sen-Jum").
_DAY_NAME = re.compile("|".join(calendar.WEEKDAY_NAMES))


def describe_week(weekdays: str, lang: Lang) -> str:
    described = calendar.describe_weekdays(weekdays)
    if described == "none":
        return lang.gettext("none")
    return _DAY_NAME.sub(lambda name: lang.gettext(name.group(0)), described)


def _this_year(svc: Services) -> int:
    return utc_now().astimezone(svc.site_zone).year


def _page_data(svc: Services, year: int) -> dict[str, Any]:
    first, last = calendar.year_range(year)
    with svc.db.read() as conn:
        return {
            "weeks": calendar.week_list(conn),
            "days_off": calendar.list_days_off(conn, first, last),
        }


async def _calendar_page(
    request: Request,
    page: Page,
    year: int,
    *,
    status: int = 200,
    problem: str | None = None,
    values: dict[str, str] | None = None,
    report: ImportReport | None = None,
) -> Response:
    svc = services(request)
    data = await run_in_threadpool(_page_data, svc, year)
    done = request.query_params.get("done", "")
    return render(
        page,
        "calendar.html",
        status=status,
        year=year,
        this_year=_this_year(svc),
        weekday_names=calendar.WEEKDAY_NAMES,
        describe_week=lambda weekdays: describe_week(weekdays, page.lang),
        site_default=calendar.SITE_DEFAULT,
        done=page.lang.gettext(TEXT[done]) if done in DONE else "",
        problem=problem,
        values=values or {},
        report=report,
        **data,
    )


@router.get("/calendar")
async def calendar_page(request: Request) -> Response:
    page = await load_page(request)
    svc = services(request)
    raw = request.query_params.get("year")
    try:
        year = _year(raw, _this_year(svc))
    except ValueError:
        problem = page.lang.gettext(TEXT["bad_year"], value=raw)
        return render(page, "error.html", status=422, problem=problem)
    return await _calendar_page(request, page, year)


@router.get("/calendar/days-off.csv")
async def days_off_csv(request: Request) -> Response:
    page = await load_page(request)
    svc = services(request)
    raw = request.query_params.get("year")
    try:
        year = _year(raw, _this_year(svc))
    except ValueError:
        problem = page.lang.gettext(TEXT["bad_year"], value=raw)
        return render(page, "error.html", status=422, problem=problem)
    first, last = calendar.year_range(year)

    def csv_text() -> str:
        with svc.db.read() as conn:
            return calendar.days_off_csv(conn, first, last)

    return Response(
        await run_in_threadpool(csv_text),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="days-off-{year}.csv"'},
    )


def _form_year(form: FormData, svc: Services) -> int:
    try:
        return _year(text(form, "year"), _this_year(svc))
    except ValueError:
        return _this_year(svc)


def _back(year: int, done: str) -> Response:
    return redirect(f"{PAGE}?year={year}&done={done}")


async def _refused(
    request: Request, page: Page, year: int, exc: DomainError | ApiError, values: dict[str, str]
) -> Response:
    return await _calendar_page(
        request, page, year, status=http_status(exc), problem=str(exc.detail), values=values
    )


@router.post("/calendar/weeks/{group}")
async def set_week(request: Request, group: str) -> Response:
    session, form, page = await load_post(request)
    svc = services(request)
    year = _form_year(form, svc)
    now = utc_now()
    try:
        if text(form, "action") == "unset":
            await run_in_threadpool(
                calendar.unset_week, svc.db, group, actor=session.username, now=now
            )
            done = "week_unset"
        else:
            ticked = {v for v in form.getlist("day") if isinstance(v, str)}
            weekdays = "".join("1" if str(i) in ticked else "0" for i in range(7))
            if "1" not in weekdays:
                raise ApiError(422, "bad_week", page.lang.gettext(TEXT["no_day"]))
            await run_in_threadpool(
                calendar.set_week, svc.db, group, weekdays, actor=session.username, now=now
            )
            done = "week_saved"
    except (DomainError, ApiError) as exc:
        return await _refused(request, page, year, exc, {})
    log.info("web_week_changed", username=session.username, group=group, done=done)
    return _back(year, done)


@router.post("/calendar/days-off")
async def add_days_off(request: Request) -> Response:
    session, form, page = await load_post(request)
    svc = services(request)
    values = {k: text(form, k) for k in ("day", "to", "kind", "name")}
    year = _form_year(form, svc)
    try:
        body = DayOffCreate.model_validate(
            {
                "day": values["day"],
                "to": values["to"] or None,
                "kind": values["kind"] or "holiday",
                "name": values["name"],
            }
        )
    except ValidationError as exc:
        return await _calendar_page(
            request, page, year, status=422, problem=field_problems(exc), values=values
        )
    try:
        await run_in_threadpool(
            calendar.add_days_off, svc.db, body, actor=session.username, now=utc_now()
        )
    except DomainError as exc:
        return await _refused(request, page, year, exc, values)
    log.info("web_days_off_added", username=session.username, day=str(body.day))
    return _back(body.day.year, "days_added")


def _day(page: Page, raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        problem = page.lang.gettext(TEXT["bad_date"], value=raw)
        raise ApiError(404, "unknown_day_off", problem) from exc


@router.post("/calendar/days-off/{day}")
async def change_day_off(request: Request, day: str) -> Response:
    session, form, page = await load_post(request)
    svc = services(request)
    year = _form_year(form, svc)
    try:
        found = _day(page, day)
        body = DayOffUpdate.model_validate(
            {"name": text(form, "name") or None, "kind": text(form, "kind") or None}
        )
        await run_in_threadpool(
            calendar.update_day_off, svc.db, found, body, actor=session.username, now=utc_now()
        )
    except ValidationError as exc:
        return await _calendar_page(request, page, year, status=422, problem=field_problems(exc))
    except (DomainError, ApiError) as exc:
        return await _refused(request, page, year, exc, {})
    return _back(year, "day_renamed")


@router.post("/calendar/days-off/{day}/delete")
async def delete_day_off(request: Request, day: str) -> Response:
    session, form, page = await load_post(request)
    svc = services(request)
    year = _form_year(form, svc)
    try:
        await run_in_threadpool(
            calendar.delete_day_off, svc.db, _day(page, day), actor=session.username, now=utc_now()
        )
    except (DomainError, ApiError) as exc:
        return await _refused(request, page, year, exc, {})
    log.info("web_day_off_deleted", username=session.username, day=day)
    return _back(year, "day_deleted")


@router.post("/calendar/import")
async def import_days_off(request: Request) -> Response:
    session, form, page = await load_post(request)
    svc = services(request)
    year = _form_year(form, svc)
    values = {"import_kind": text(form, "kind") or "holiday"}
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _calendar_page(
            request,
            page,
            year,
            status=422,
            problem=page.lang.gettext(TEXT["no_file"]),
            values=values,
        )
    data = await upload.read()
    dry_run = text(form, "action") != "import"
    try:
        report = await run_in_threadpool(
            calendar.import_days_off,
            svc.db,
            data,
            zone=svc.site_zone,
            year=year,
            kind=values["import_kind"],
            filename=upload.filename,
            dry_run=dry_run,
            actor=session.username,
            now=utc_now(),
        )
    except DomainError as exc:
        return await _refused(request, page, year, exc, values)
    if not dry_run:
        log.info(
            "web_days_off_imported",
            username=session.username,
            added=report.added,
            updated=report.updated,
            refused=report.refused,
        )
    return await _calendar_page(request, page, year, values=values, report=report)
