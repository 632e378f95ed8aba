"""The reports page (a day and a month, with filters) and its downloads (CSV, HRMS JSON).

The downloads are the API's exports (``GET /api/v1/admin/reports/export.csv`` and
``/hrms-checkins``): the same rows from the same functions, the same file name and headers
(sync_server.http_files), but for ``Vary``: the web's language may come from the account.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from sync_server import catalogue, reports, review
from sync_server.deps import Services, services
from sync_server.errors import ApiError
from sync_server.http_files import WEB_CSV_VARY, attendance_csv
from sync_server.web.accounts import WebSession
from sync_server.web.board import calendar_rows, day_rows, nobody
from sync_server.web.forms import date_param, filters, month_param
from sync_server.web.i18n import Lang
from sync_server.web.render import csv_locale, render
from sync_server.web.session import admin_router, load_page, login_required_json

router = admin_router()
data_router = admin_router(json=True)


def _reports_data(
    svc: Services,
    day: date,
    month: date,
    group: str | None,
    department: str | None,
    lang: Lang,
) -> dict[str, Any]:
    tz = svc.site_zone
    with svc.db.read() as conn:
        day_report = reports.day_view(conn, day, tz=tz, group=group, department=department)
        to_review = review.open_in_day(conn, day_report.rows)
        summary = reports.month_summary(conn, month, tz=tz, group=group, department=department)
        counts = reports.people_counts(conn, group, department)
        kinds = reports.load_leave_kinds(conn)
    return {
        "leave_kinds": kinds,
        "day_report": day_report,
        # In the page's language: "8 j 20 mnt" on an Indonesian page, not "8 h 20 min".
        "day_rows": calendar_rows(day_report, day_rows(day_report, tz, to_review, lang), lang),
        "day_empty": nobody(counts, group, department, lang=lang),
        "summary": summary,
        "month_empty": nobody(counts, group, department, month=True, lang=lang),
    }


@router.get("/reports")
async def reports_page(request: Request) -> Response:
    page = await load_page(request)
    svc = services(request)
    today = reports.local_today(page.tz)
    group, department = filters(request)
    try:
        day = date_param(request, "date", today)
        month = month_param(request, day)
    except ApiError as exc:
        return render(page, "error.html", status=422, problem=str(exc.detail))
    data = await run_in_threadpool(_reports_data, svc, day, month, group, department, page.lang)
    first, last = reports.month_bounds(month)
    indonesian = page.locale.startswith("id")
    data["leave_labels"] = {
        code: kind.label_id if indonesian else kind.label_en
        for code, kind in data.pop("leave_kinds").items()
    }
    for row in data["day_rows"]:
        row["leave_label"] = row["leave_label_id"] if indonesian else row["leave_label_en"]
    return render(
        page,
        "reports.html",
        day=day,
        month=month.strftime("%Y-%m"),
        first=first,
        # The export stops at today: the rest of the month has not happened.
        last=min(last, today) if first <= today else last,
        group=group or "",
        department=department or "",
        **data,
    )


def _range(request: Request) -> tuple[date, date]:
    today = reports.local_today(services(request).site_zone)
    first = date_param(request, "from", today)
    last = date_param(request, "to", first)
    reports.check_range(first, last)
    return first, last


@data_router.get("/reports/export.csv")
async def export_csv(
    request: Request, session: Annotated[WebSession, Depends(login_required_json)]
) -> Response:
    svc = services(request)
    first, last = _range(request)
    group, department = filters(request)
    try:
        rows = reports.CsvRows(request.query_params.get("rows", "days"))
    except ValueError as exc:
        raise ApiError(422, "bad_rows", "rows: days or events") from exc
    page_locale = catalogue.known(session.locale) or catalogue.negotiate(
        request.headers.get("accept-language")
    )
    locale = csv_locale(request, page_locale)
    # Without lang in the link the language is the account's (the session cookie's), else
    # the browser's.
    return attendance_csv(
        svc.db,
        first,
        last,
        tz=svc.site_zone,
        rows=rows,
        group=group,
        department=department,
        locale=locale,
        vary=WEB_CSV_VARY,
    )


def _checkins(
    svc: Services, first: date, last: date, group: str | None, department: str | None
) -> list[dict[str, str]]:
    with svc.db.read() as conn:
        found = reports.hrms_checkins(
            conn, first, last, tz=svc.site_zone, group=group, department=department
        )
    return [c.as_json() for c in found]


@data_router.get("/reports/hrms.json")
async def export_hrms(request: Request) -> Response:
    svc = services(request)
    first, last = _range(request)
    group, department = filters(request)
    found = await run_in_threadpool(_checkins, svc, first, last, group, department)
    name = f"hrms-checkins-{first.isoformat()}-{last.isoformat()}.json"
    return JSONResponse(
        found,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
