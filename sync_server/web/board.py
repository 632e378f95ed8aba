"""The today board (``/admin/``): who is in, late or absent today, live by polling.

The page and its JSON view (``today.json``, what the board's script polls) are the same
numbers from the same day report; the day table's rows are shared with the reports page.
Both speak the page's language: the script takes its words from the page (``data-words``)
and asks the JSON for the same language (``lang``), so the words the server makes (worked
time, why a table is empty, a leave's label) match the page's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from sync_server import calendar, reports, review
from sync_server.deps import Services, services
from sync_server.web import i18n
from sync_server.web.forms import filters
from sync_server.web.i18n import N_
from sync_server.web.render import PREFIX, Page, local, render
from sync_server.web.session import admin_router, load_page, login_required_json

router = admin_router()
data_router = admin_router(json=True)

ENGLISH = i18n.lang(i18n.DEFAULT)

# Why a day or month table is empty (``nobody``), and what a day off is called.
TEXT = {
    "nobody_enrolled": N_("Nobody enrolled yet."),
    "nobody_in": N_("Nobody in %(scope)s."),
    "group": N_("group “%(group)s”"),
    "department": N_("department “%(department)s”"),
    "group_and_department": N_("group “%(group)s” and department “%(department)s”"),
    "who_in": N_("%(people)s in %(scope)s"),
    "after_month": N_("%(who)s enrolled, all after this month."),
    "after_day": N_(
        "%(who)s enrolled, all after this day began: a day lists people from the day after "
        "their enrolment, or from their first check-in."
    ),
    # The day table's words for these statuses, so the line above the board reads the same.
    "holiday": N_("holiday"),
    "day_off": N_("day off"),
}


def day_rows(
    report: reports.DayReport,
    tz: ZoneInfo,
    to_review: Mapping[str, int],
    lang: i18n.Lang = ENGLISH,
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
            "worked": lang.duration(r.worked),
            "late": bool(r.late),
            "late_minutes": r.late_minutes,
            "events": r.events,
            # Events of the day whose liveness check failed, not reviewed yet.
            "review": to_review.get(r.person_id, 0),
        }
        for r in report.rows
    ]


def calendar_rows(
    report: reports.DayReport, rows: list[dict[str, Any]], lang: i18n.Lang | None = None
) -> list[dict[str, Any]]:
    """The day table's rows (``day_rows``) with what the calendar, leave and corrections
    add: the day's holiday or leave, the corrected values, the corrections (action, time,
    reason), the link to them on the corrections page and the link to the corrections form.
    With ``lang``, the leave's label in that language (``leave_label``)."""
    day = report.day.isoformat()
    for row, r in zip(rows, report.rows, strict=True):
        row["day"] = day
        row["working"] = r.working
        row["day_off_name"] = r.day_off.name if r.day_off else ""
        row["leave_code"] = r.leave.code if r.leave else ""
        row["leave_label_en"] = r.leave.label_en if r.leave else ""
        row["leave_label_id"] = r.leave.label_id if r.leave else ""
        if lang is not None:
            row["leave_label"] = row["leave_label_id" if lang.locale == "id" else "leave_label_en"]
        row["first_in_corrected"] = r.first_in_corrected
        row["last_out_corrected"] = r.last_out_corrected
        row["corrections"] = [
            {
                "action": c.action,
                "kind": c.kind,
                "at": c.at.strftime("%H:%M"),
                "reason": c.reason,
                "by": c.created_by,
            }
            for c in r.corrections
        ]
        person = {"person": r.person_id}
        # The day's corrections on the corrections page (where they are revoked), and the
        # form that adds or voids a punch of this day.
        row["corrections_url"] = (
            f"{PREFIX}/corrections?{urlencode(person | {'from': day, 'to': day})}"
            if r.corrections
            else ""
        )
        row["correct_url"] = f"{PREFIX}/corrections/new?{urlencode(person | {'day': day})}"
    return rows


def nobody(
    counts: tuple[int, int],
    group: str | None,
    department: str | None,
    *,
    month: bool = False,
    lang: i18n.Lang = ENGLISH,
) -> str:
    """Why a day or month table is empty, truthfully: nobody at all, nobody matching the
    filter, or everyone enrolled after the period (a day lists people from the day after
    their enrolment, or from their first event)."""
    total, matching = counts
    if total == 0:
        return lang.gettext(TEXT["nobody_enrolled"])
    if group and department:
        scope = lang.gettext(TEXT["group_and_department"], group=group, department=department)
    elif group:
        scope = lang.gettext(TEXT["group"], group=group)
    elif department:
        scope = lang.gettext(TEXT["department"], department=department)
    else:
        scope = ""
    if matching == 0:
        return lang.gettext(TEXT["nobody_in"], scope=scope)
    who = lang.plural(matching, "person")
    if scope:
        who = lang.gettext(TEXT["who_in"], people=who, scope=scope)
    return lang.gettext(TEXT["after_month" if month else "after_day"], who=who)


def day_off_fact(day_off: calendar.DayOff | None, lang: i18n.Lang) -> dict[str, str] | None:
    """The site's holiday or company day off, for the board's line above its table."""
    if day_off is None:
        return None
    return {"kind": day_off.kind, "label": lang.gettext(TEXT[day_off.kind]), "name": day_off.name}


def _today(
    svc: Services, group: str | None, department: str | None, lang: i18n.Lang
) -> dict[str, Any]:
    tz = svc.site_zone
    day: date = reports.local_today(tz)
    with svc.db.read() as conn:
        report = reports.day_view(conn, day, tz=tz, group=group, department=department)
        to_review = review.open_in_day(conn, report.rows)
        counts = reports.people_counts(conn, group, department) if not report.rows else None
        # From the working calendar itself, so the board says it even when nobody is listed.
        day_off = calendar.load_calendar(conn, day, day, groups=()).day_off(day)
    empty = nobody(counts, group, department, lang=lang) if counts else ""
    totals = report.totals()
    # Present today: anyone with an event today, gone home or not. In now: whose latest event
    # is an in (two people who came and left are 2 present, 0 in).
    totals["present"] = sum(1 for r in report.rows if r.events)
    totals["in_now"] = sum(1 for r in report.rows if r.inside)
    return {
        "date": day.isoformat(),
        "timezone": str(tz),
        "locale": lang.locale,
        "day_off": day_off_fact(day_off, lang),
        "totals": totals,
        "rows": calendar_rows(report, day_rows(report, tz, to_review, lang), lang),
        "empty": empty,
        "updated": datetime.now(tz).strftime("%H:%M:%S"),
    }


@router.get("/")
async def today_board(request: Request) -> Response:
    page = await load_page(request)
    svc = services(request)
    group, department = filters(request)
    data = await run_in_threadpool(_today, svc, group, department, page.lang)
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
    """The board's numbers and rows, in ``lang`` (the page's language, which the script
    sends), else the language the page would have."""
    svc = services(request)
    group, department = filters(request)
    chosen = i18n.known(request.query_params.get("lang"))
    if chosen is None:
        session = await login_required_json(request)
        chosen = Page(request, session, svc.site_zone).locale
    data = await run_in_threadpool(_today, svc, group, department, i18n.lang(chosen))
    return JSONResponse(data, headers={"Cache-Control": "no-store"})
