"""The reports page (a day and a month, with filters) and its downloads (CSV, HRMS JSON).

The downloads are the API's exports: the same stream, file name and headers.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from sync_server import reports, review
from sync_server.api import reports as reports_api
from sync_server.deps import Services, services
from sync_server.errors import ApiError
from sync_server.web.board import day_rows, nobody
from sync_server.web.forms import date_param, filters, month_param
from sync_server.web.render import render
from sync_server.web.session import admin_router, load_page

router = admin_router()
data_router = admin_router(json=True)


def _reports_data(
    svc: Services, day: date, month: date, group: str | None, department: str | None
) -> dict[str, Any]:
    tz = svc.site_zone
    with svc.db.read() as conn:
        day_report = reports.day_view(conn, day, tz=tz, group=group, department=department)
        to_review = review.open_in_day(conn, day_report.rows)
        summary = reports.month_summary(conn, month, tz=tz, group=group, department=department)
        counts = reports.people_counts(conn, group, department)
    return {
        "day_report": day_report,
        "day_rows": day_rows(day_report, tz, to_review),
        "day_empty": nobody(counts, group, department),
        "summary": summary,
        "month_empty": nobody(counts, group, department, month=True),
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
    data = await run_in_threadpool(_reports_data, svc, day, month, group, department)
    first, last = reports.month_bounds(month)
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
    reports_api.check_range(first, last)
    return first, last


@data_router.get("/reports/export.csv")
async def export_csv(request: Request) -> Response:
    svc = services(request)
    first, last = _range(request)
    group, department = filters(request)
    try:
        rows = reports.CsvRows(request.query_params.get("rows", "days"))
    except ValueError as exc:
        raise ApiError(422, "bad_rows", "rows: days or events") from exc
    # The API's handler is a plain function: the same stream, name and headers.
    return reports_api.export_csv(svc, first, last, rows, group, department)


@data_router.get("/reports/hrms.json")
async def export_hrms(request: Request) -> Response:
    svc = services(request)
    first, last = _range(request)
    group, department = filters(request)
    found = await run_in_threadpool(reports_api.hrms_checkins, svc, first, last, group, department)
    name = f"hrms-checkins-{first.isoformat()}-{last.isoformat()}.json"
    return JSONResponse(
        [c.model_dump(mode="json") for c in found],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
