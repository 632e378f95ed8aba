"""The today board (``/admin/``): who is in, late or absent today, live by polling.

The page and its JSON view (``today.json``, what the board's script polls) are the same
numbers from the same day report; the day table's rows are shared with the reports page.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from edge.wording import plural
from sync_server import reports, review
from sync_server.deps import Services, services
from sync_server.web.forms import filters
from sync_server.web.render import duration, local, render
from sync_server.web.session import admin_router, load_page

router = admin_router()
data_router = admin_router(json=True)


def day_rows(
    report: reports.DayReport, tz: ZoneInfo, to_review: Mapping[str, int]
) -> list[dict[str, Any]]:
    return [
        {
            "person_id": r.person_id,
            "name": r.name,
            "group": r.group,
            "department": r.department or "",
            "shift": r.shift.name if r.shift else "",
            "status": r.status.value,
            "first_in": local(r.first_in, tz),
            "last_out": local(r.last_out, tz),
            "worked": duration(r.worked),
            "late": bool(r.late),
            "late_minutes": r.late_minutes,
            "events": r.events,
            # Events of the day whose liveness check failed, not reviewed yet.
            "review": to_review.get(r.person_id, 0),
        }
        for r in report.rows
    ]


def nobody(
    counts: tuple[int, int], group: str | None, department: str | None, *, month: bool = False
) -> str:
    """Why a day or month table is empty, truthfully: nobody at all, nobody matching the
    filter, or everyone enrolled after the period (a day lists people from the day after
    their enrolment, or from their first event)."""
    total, matching = counts
    if total == 0:
        return "Nobody enrolled yet."
    parts = [("group", group), ("department", department)]
    scope = " and ".join(f"{kind} “{value}”" for kind, value in parts if value)
    if matching == 0:
        return f"Nobody in {scope}."
    who = plural(matching, "person") + (f" in {scope}" if scope else "")
    if month:
        return f"{who} enrolled, all after this month."
    return (
        f"{who} enrolled, all after this day began: a day lists people from the day after "
        "their enrolment, or from their first check-in."
    )


def _today(svc: Services, group: str | None, department: str | None) -> dict[str, Any]:
    tz = svc.site_zone
    day = reports.local_today(tz)
    with svc.db.read() as conn:
        report = reports.day_view(conn, day, tz=tz, group=group, department=department)
        to_review = review.open_in_day(conn, report.rows)
        counts = reports.people_counts(conn, group, department) if not report.rows else None
    empty = nobody(counts, group, department) if counts else ""
    totals = report.totals()
    # Present today: anyone with an event today, gone home or not. In now: whose latest event
    # is an in (two people who came and left are 2 present, 0 in).
    totals["present"] = sum(1 for r in report.rows if r.events)
    totals["in_now"] = sum(1 for r in report.rows if r.inside)
    return {
        "date": day.isoformat(),
        "timezone": str(tz),
        "totals": totals,
        "rows": day_rows(report, tz, to_review),
        "empty": empty,
        "updated": datetime.now(tz).strftime("%H:%M:%S"),
    }


@router.get("/")
async def today_board(request: Request) -> Response:
    page = await load_page(request)
    svc = services(request)
    group, department = filters(request)
    data = await run_in_threadpool(_today, svc, group, department)
    return render(
        page,
        "today.html",
        today=data,
        group=group or "",
        department=department or "",
        refresh_ms=int(svc.settings.web.board_refresh_s * 1000),
    )


@data_router.get("/today.json")
async def today_json(request: Request) -> Response:
    svc = services(request)
    group, department = filters(request)
    data = await run_in_threadpool(_today, svc, group, department)
    return JSONResponse(data, headers={"Cache-Control": "no-store"})
