"""Admin web: corrections (add a missed punch, void a wrong event, revoke) and the audit
trail's page and CSV (read only).

The rules are sync_server/corrections.py's, as for the API; a change made here is recorded
as by the logged-in account. The reports link a person's day here with
``/admin/corrections/new?person=ID&day=YYYY-MM-DD``: the add form pre-filled (a check-out by
default: the forgotten one is the usual case) and that day's punches, each event with a
*Void* button.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
import structlog
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from edge.clock import utc_now
from sync_server import audit, corrections
from sync_server.db import people
from sync_server.deps import Services, services
from sync_server.domain_errors import DomainError
from sync_server.errors import ApiError, http_status
from sync_server.http_files import AUDIT_CSV_NAME, WEB_CSV_VARY, csv_download
from sync_server.schemas.corrections import (
    REASON_MAX,
    REASON_MIN,
    CorrectionAdd,
    CorrectionVoid,
)
from sync_server.web.forms import date_param, field_problems, text
from sync_server.web.i18n import N_
from sync_server.web.render import PREFIX, Page, csv_locale, redirect, render, safe_next
from sync_server.web.session import admin_router, load_page, load_post

log = structlog.get_logger(__name__)

router = admin_router()

# The form fields of a correction, as posted and as shown again after a refusal.
_ADD_FIELDS = ("person", "day", "time", "kind", "reason")


@dataclass(frozen=True, slots=True)
class _Filters:
    person: str
    first: date | None
    last: date | None

    def query(self) -> str:
        values = {
            "person": self.person,
            "from": self.first.isoformat() if self.first else "",
            "to": self.last.isoformat() if self.last else "",
        }
        return urlencode({k: v for k, v in values.items() if v})


def _filters(request: Request) -> _Filters:
    params = request.query_params
    first = date_param(request, "from", date.min) if params.get("from") else None
    last = date_param(request, "to", date.min) if params.get("to") else None
    return _Filters(params.get("person", "").strip(), first, last)


def _before_id(request: Request) -> int | None:
    raw = request.query_params.get("before", "")
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise ApiError(422, "bad_before", f"before: {raw!r} is not a row number")
    return int(raw)


# --- corrections ----------------------------------------------------------------------------


def _list(svc: Services, where: _Filters, before_id: int | None) -> Any:
    with svc.db.read() as conn:
        return corrections.list_corrections(
            conn,
            tz=svc.site_zone,
            person_id=where.person or None,
            first=where.first,
            last=where.last,
            before_id=before_id,
        )


@router.get("/corrections")
async def corrections_page(request: Request) -> Response:
    page = await load_page(request)
    try:
        where = _filters(request)
        before_id = _before_id(request)
        found = await run_in_threadpool(_list, services(request), where, before_id)
    except (ApiError, DomainError) as exc:
        return render(page, "error.html", status=http_status(exc), problem=str(exc.detail))
    return render(
        page,
        "corrections.html",
        items=found.corrections,
        next_before=found.next_before_id,
        person=where.person,
        first=where.first.isoformat() if where.first else "",
        last=where.last.isoformat() if where.last else "",
        filter_query=where.query(),
        done=request.query_params.get("done", ""),
        today=datetime.now(page.tz).date().isoformat(),
        reason_min=REASON_MIN,
        reason_max=REASON_MAX,
    )


def _day_data(svc: Services, person_id: str, day: date) -> dict[str, Any]:
    with svc.db.read() as conn:
        name = conn.execute(sa.select(people.c.name).where(people.c.id == person_id)).scalar()
        punches = corrections.day_punches(conn, person_id, day, svc.site_zone)
    return {"person_name": name, "punches": punches}


async def _new_page(
    request: Request,
    page: Page,
    values: dict[str, str],
    *,
    status: int = 200,
    problem: str = "",
    done: str = "",
) -> Response:
    """The correction form of a person's day (pre-filled from ``values``) and the day's
    punches with their Void buttons."""
    svc = services(request)
    day: date | None = None
    try:
        day = date.fromisoformat(values.get("day", ""))
    except ValueError:
        day = None
    data: dict[str, Any] = {"person_name": None, "punches": []}
    if values.get("person") and day is not None:
        data = await run_in_threadpool(_day_data, svc, values["person"], day)

    def day_link(offset: int) -> str:
        if day is None:
            return ""
        other = (day + timedelta(days=offset)).isoformat()
        return f"{PREFIX}/corrections/new?" + urlencode(
            {"person": values.get("person", ""), "day": other}
        )

    return render(
        page,
        "correction_new.html",
        status=status,
        values=values,
        day=day.isoformat() if day else "",
        # A night shift's check-out is on the next calendar day: one click away.
        previous_day=day_link(-1),
        next_day=day_link(1),
        problem=problem,
        done=done,
        reason_min=REASON_MIN,
        reason_max=REASON_MAX,
        **data,
    )


@router.get("/corrections/new")
async def new_correction_page(request: Request) -> Response:
    page = await load_page(request)
    params = request.query_params
    today = datetime.now(page.tz).date()
    try:
        day = date_param(request, "day", today)
    except ApiError as exc:
        return render(page, "error.html", status=422, problem=str(exc.detail))
    values = {
        "person": params.get("person", "").strip(),
        "day": day.isoformat(),
        "time": params.get("time", ""),
        # A forgotten check-out is the usual case; ?kind=in asks for a check-in.
        "kind": "in" if params.get("kind") == "in" else "out",
        "reason": "",
    }
    return await _new_page(request, page, values, done=params.get("done", ""))


def _form_values(form: FormData) -> dict[str, str]:
    return {name: text(form, name) for name in _ADD_FIELDS}


def _after(form: FormData, person: str, day: str, done: int) -> Response:
    """Where a change goes on: the page it came from (``next``), else the person's day."""
    target = text(form, "next")
    if target:
        back = safe_next(target)
        return redirect(f"{back}{'&' if '?' in back else '?'}done={done}")
    query = urlencode({"person": person, "day": day, "done": done})
    return redirect(f"{PREFIX}/corrections/new?{query}")


@router.post("/corrections")
async def add_correction(request: Request) -> Response:
    session, form, page = await load_post(request)
    svc = services(request)
    values = _form_values(form)
    await form.close()
    try:
        body = CorrectionAdd(
            action="add",
            person_id=values["person"],
            kind=values["kind"],
            day=values["day"],
            time=values["time"],
            reason=values["reason"],
        )
    except ValidationError as exc:
        return await _new_page(request, page, values, status=422, problem=field_problems(exc))
    try:
        made = await run_in_threadpool(
            lambda: corrections.add_punch(
                svc.db, body, tz=svc.site_zone, actor=session.username, now=utc_now()
            )
        )
    except (ApiError, DomainError) as exc:
        return await _new_page(
            request, page, values, status=http_status(exc), problem=str(exc.detail)
        )
    log.info("web_correction_added", username=session.username, correction_id=made.id)
    return _after(form, body.person_id, body.day.isoformat(), made.id)


@router.post("/corrections/void")
async def void_correction(request: Request) -> Response:
    session, form, page = await load_post(request)
    svc = services(request)
    values = _form_values(form)
    event_id = text(form, "event_id")
    await form.close()
    try:
        body = CorrectionVoid(
            action="void",
            event_id=event_id,
            person_id=values["person"] or None,
            reason=values["reason"],
        )
    except ValidationError as exc:
        return await _new_page(request, page, values, status=422, problem=field_problems(exc))
    try:
        made = await run_in_threadpool(
            lambda: corrections.void_event(
                svc.db, body, tz=svc.site_zone, actor=session.username, now=utc_now()
            )
        )
    except (ApiError, DomainError) as exc:
        return await _new_page(
            request, page, values, status=http_status(exc), problem=str(exc.detail)
        )
    log.info("web_event_voided", username=session.username, correction_id=made.id)
    day = made.event.at.date().isoformat() if made.event else values["day"]
    return _after(form, made.person_id, day, made.id)


@router.post("/corrections/{correction_id}/revoke")
async def revoke_correction(request: Request, correction_id: str) -> Response:
    session, form, page = await load_post(request)
    svc = services(request)
    reason = text(form, "reason")
    await form.close()
    if not correction_id.isdigit() or len(correction_id) > 18:
        return render(page, "error.html", status=404, problem=f"no correction {correction_id!r}")
    try:
        made = await run_in_threadpool(
            lambda: corrections.revoke(
                svc.db,
                int(correction_id),
                reason,
                tz=svc.site_zone,
                actor=session.username,
                now=utc_now(),
            )
        )
    except (ApiError, DomainError) as exc:
        return render(page, "error.html", status=http_status(exc), problem=str(exc.detail))
    log.info("web_correction_revoked", username=session.username, correction_id=made.id)
    target = text(form, "next") or f"{PREFIX}/corrections"
    back = safe_next(target)
    return redirect(f"{back}{'&' if '?' in back else '?'}done={made.id}")


# --- the audit trail ------------------------------------------------------------------------

# What an audit row changed and how, in the page's language: the stored codes are English
# words (they stay so in the CSV and the API), and a page in Indonesian showed "create
# day_off". Every code of sync_server.audit has its words here (the page capitalises them).
ENTITY_WORDS = {
    "person": N_("Person"),
    "template": N_("template"),
    "consent": N_("Consent"),
    "shift": N_("Shift"),
    "group": N_("Group"),
    "work_week": N_("Working weeks"),
    "day_off": N_("day off"),
    "leave_kind": N_("Kinds of leave"),
    "leave": N_("leave"),
    "correction": N_("Correction"),
    "event": N_("event"),
    "account": N_("account"),
}
ACTION_WORDS = {
    "create": N_("added"),
    "update": N_("updated"),
    "delete": N_("deleted"),
    "import": N_("imported"),
    "void": N_("voided"),
    "revoke": N_("revoked"),
    "withdraw": N_("withdrawn"),
    "review": N_("reviewed"),
}


def _audit_filter(request: Request) -> corrections.AuditFilter:
    params = request.query_params
    where = _filters(request)
    entity = params.get("entity", "").strip() or None
    corrections.check_entity(entity)
    return corrections.AuditFilter(
        entity=entity,
        entity_id=params.get("entity_id", "").strip() or None,
        actor=params.get("actor", "").strip() or None,
        first=where.first,
        last=where.last,
    )


def _audit_rows(
    svc: Services, where: corrections.AuditFilter, before_id: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    with svc.db.read() as conn:
        found = corrections.audit_page(conn, where, tz=svc.site_zone, before_id=before_id)
    rows = [
        {"entry": e, "fields": corrections.field_changes(e.before, e.after, svc.site_zone)}
        for e in found.entries
    ]
    return rows, found.next_before_id


def _audit_query(where: corrections.AuditFilter) -> str:
    values = {
        "entity": where.entity or "",
        "entity_id": where.entity_id or "",
        "actor": where.actor or "",
        "from": where.first.isoformat() if where.first else "",
        "to": where.last.isoformat() if where.last else "",
    }
    return urlencode({k: v for k, v in values.items() if v})


@router.get("/audit")
async def audit_page(request: Request) -> Response:
    page = await load_page(request)
    try:
        where = _audit_filter(request)
        corrections.day_bounds(where.first, where.last, page.tz)
        before_id = _before_id(request)
        rows, next_before = await run_in_threadpool(
            _audit_rows, services(request), where, before_id
        )
    except (ApiError, DomainError) as exc:
        return render(page, "error.html", status=http_status(exc), problem=str(exc.detail))
    return render(
        page,
        "audit.html",
        rows=rows,
        next_before=next_before,
        paged=before_id is not None,
        entities=audit.ENTITIES,
        entity_words={code: page.lang.gettext(ENTITY_WORDS[code]) for code in audit.ENTITIES},
        action_words={code: page.lang.gettext(ACTION_WORDS[code]) for code in audit.ACTIONS},
        entity=where.entity or "",
        entity_id=where.entity_id or "",
        actor=where.actor or "",
        first=where.first.isoformat() if where.first else "",
        last=where.last.isoformat() if where.last else "",
        filter_query=_audit_query(where),
    )


@router.get("/audit.csv")
async def audit_csv(request: Request) -> Response:
    page = await load_page(request)
    svc = services(request)
    try:
        where = _audit_filter(request)
        corrections.day_bounds(where.first, where.last, svc.site_zone)
        locale = csv_locale(request, page.locale)
    except (ApiError, DomainError) as exc:
        return render(page, "error.html", status=http_status(exc), problem=str(exc.detail))
    return csv_download(
        corrections.audit_csv(svc.db, where, tz=svc.site_zone, locale=locale),
        AUDIT_CSV_NAME,
        locale=locale,
        vary=WEB_CSV_VARY,
    )
