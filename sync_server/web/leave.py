"""The leave page (/admin/leave): a month's leave with filters, enter and delete leave, import a
CSV file with its line-by-line report, and the kinds of leave (add, relabel, retire).

Every change goes through sync_server/leave.py, the API's own operations, so a refusal reads
the same here as there; the audit trail names the web account that made it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
import structlog
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from edge.clock import utc_now
from sync_server import leave
from sync_server.db import people
from sync_server.deps import Services, services
from sync_server.domain_errors import DomainError
from sync_server.errors import ApiError, http_status
from sync_server.schemas.leave import (
    LeaveCreate,
    LeaveImportReport,
    LeaveKindCreate,
    LeaveKindUpdate,
    LeaveUpdate,
)
from sync_server.web.forms import field_problems, month_param, text
from sync_server.web.i18n import N_
from sync_server.web.render import PREFIX, Page, redirect, render
from sync_server.web.session import admin_router, load_page, load_post

log = structlog.get_logger(__name__)

router = admin_router()

PAGE = f"{PREFIX}/leave"
PICKER_LIMIT = 2000  # people offered by the person field's list; any id can still be typed

# What a refusal means, by its reason (sync_server/leave.py), in the page's language; the
# refusal's own detail (in English, with the values) follows it. The catalogues translate these.
REASONS = {
    "unknown_person": N_("No person has this id or HR employee id."),
    "unknown_leave_kind": N_("There is no such kind of leave."),
    "retired_leave_kind": N_("This kind of leave is retired: new leave cannot have it."),
    "ambiguous_leave_kind": N_("This label names several kinds of leave: give the code."),
    "end_before_start": N_("The last day is before the first."),
    "leave_too_long": N_("A leave is at most 366 days."),
    "leave_overlap": N_("It overlaps another leave of the same person."),
    "bad_date": N_("Not a date (YYYY-MM-DD)."),
    "missing_value": N_("A value is missing."),
    "too_many_values": N_("The line has more values than the header has columns."),
    "note_too_long": N_("The note is longer than 500 characters."),
    "unknown_leave": N_("There is no such leave."),
    "leave_kind_exists": N_("A kind of leave with this code exists."),
    "leave_kind_name_taken": N_("This code or label already names another kind of leave."),
    "leave_kind_in_use": N_("This kind of leave is in use: retire it instead."),
    "not_utf8": N_("The file is not UTF-8 text: save it as CSV UTF-8."),
    "bad_header": N_("The first line must be the header person,kind,start,end,note."),
    "bad_csv": N_("The file is not CSV."),
    "too_many_lines": N_("Too many lines in one file: split it."),
    "no_file": N_("Choose a CSV file."),
    "invalid_form": N_("Some fields are not right."),
}


def _reasons(page: Page) -> dict[str, str]:
    return {code: page.lang.gettext(message) for code, message in REASONS.items()}


def _problem(page: Page, exc: ApiError | DomainError) -> str:
    """A refusal for the page: what it means in the page's language, then its detail."""
    reason = getattr(exc, "reason", "")
    meaning = page.lang.gettext(REASONS[reason]) if reason in REASONS else ""
    detail = str(exc.detail)
    return f"{meaning} ({detail})" if meaning else detail


def _invalid(page: Page, exc: ValidationError) -> str:
    return f"{page.lang.gettext(REASONS['invalid_form'])} ({field_problems(exc)})"


def _month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def _page_data(svc: Services, month: date, person: str | None, kind: str | None) -> dict[str, Any]:
    first, last = _month_bounds(month)
    with svc.db.read() as conn:
        kinds = leave.list_kinds(conn)
        problem = None
        try:
            found, more = leave.list_leave(conn, person=person, first=first, last=last, kind=kind)
        except DomainError as exc:
            found, more, problem = [], False, exc
        picker = conn.execute(
            sa.select(people.c.id, people.c.name, people.c.employee_id)
            .order_by(people.c.name, people.c.id)
            .limit(PICKER_LIMIT)
        ).all()
    return {
        "kinds": kinds,
        "items": found,
        "more": more,
        "filter_problem": problem,
        "picker": picker,
        "first": first,
        "last": last,
    }


async def _page(
    request: Request,
    page: Page,
    *,
    status: int = 200,
    problem: str | None = None,
    values: dict[str, str] | None = None,
    report: LeaveImportReport | None = None,
    kind_problem: str | None = None,
    import_problem: str | None = None,
) -> HTMLResponse:
    params = request.query_params
    svc = services(request)
    today = datetime.now(UTC).astimezone(page.tz).date()
    try:
        month = month_param(request, today)
    except ApiError as exc:
        return render(page, "error.html", status=422, problem=str(exc.detail))
    person = params.get("person", "").strip() or None
    kind = params.get("kind", "").strip() or None
    data = await run_in_threadpool(_page_data, svc, month, person, kind)
    if data["filter_problem"] is not None:
        data["filter_problem"] = _problem(page, data["filter_problem"])
    previous = (data["first"] - timedelta(days=1)).replace(day=1)
    following = data["last"] + timedelta(days=1)
    return render(
        page,
        "leave.html",
        status=status,
        kind_label=leave.kind_label,
        month=month.strftime("%Y-%m"),
        previous_month=previous.strftime("%Y-%m"),
        next_month=following.strftime("%Y-%m"),
        person=person or "",
        kind=kind or "",
        problem=problem,
        kind_problem=kind_problem,
        import_problem=import_problem,
        values=values or {},
        report=report,
        reasons=_reasons(page),
        flash={k: params.get(k, "") for k in ("added", "changed", "deleted", "kind_saved")},
        **data,
    )


@router.get("/leave")
async def leave_page(request: Request) -> Response:
    return await _page(request, await load_page(request))


def _back(form: FormData, **flash: str) -> str:
    """The page the form came from (its month and filters), with a note of what was done."""
    query = {k: text(form, k) for k in ("month", "person", "kind") if text(form, k)}
    query.update(flash)
    return f"{PAGE}?{urlencode(query)}" if query else PAGE


@router.post("/leave")
async def add_leave(request: Request) -> Response:
    session, form, page = await load_post(request)
    values = {
        k: text(form, k) for k in ("new_person", "new_kind", "new_start", "new_end", "new_note")
    }
    try:
        body = LeaveCreate.model_validate(
            {
                "person": values["new_person"],
                "kind": values["new_kind"],
                "start": values["new_start"],
                "end": values["new_end"] or None,
                "note": values["new_note"] or None,
            }
        )
    except ValidationError as exc:
        return await _page(request, page, status=422, problem=_invalid(page, exc), values=values)
    try:
        created = await run_in_threadpool(
            leave.create_leave, services(request).db, body, actor=session.username, now=utc_now()
        )
    except (ApiError, DomainError) as exc:
        return await _page(
            request, page, status=http_status(exc), problem=_problem(page, exc), values=values
        )
    log.info("web_leave_created", username=session.username, leave_id=created.id)
    month = created.start.strftime("%Y-%m")
    return redirect(f"{PAGE}?{urlencode({'month': month, 'added': str(created.id)})}")


@router.post("/leave/{leave_id}/delete")
async def delete_leave(request: Request, leave_id: int) -> Response:
    session, form, page = await load_post(request)
    try:
        await run_in_threadpool(
            leave.delete_leave,
            services(request).db,
            leave_id,
            actor=session.username,
            now=utc_now(),
        )
    except (ApiError, DomainError) as exc:
        return render(page, "error.html", status=http_status(exc), problem=_problem(page, exc))
    log.info("web_leave_deleted", username=session.username, leave_id=leave_id)
    return redirect(_back(form, deleted=str(leave_id)))


@router.post("/leave/import")
async def import_leave(request: Request) -> Response:
    session, form, page = await load_post(request)
    try:
        upload = form.get("file")
        dry_run = text(form, "dry_run") == "yes"
        if not isinstance(upload, UploadFile) or not upload.filename:
            return await _page(
                request, page, status=422, import_problem=page.lang.gettext(REASONS["no_file"])
            )
        data = await upload.read()
    finally:
        await form.close()
    try:
        report = await run_in_threadpool(
            leave.import_csv,
            services(request).db,
            data,
            actor=session.username,
            now=utc_now(),
            dry_run=dry_run,
        )
    except (ApiError, DomainError) as exc:
        return await _page(
            request, page, status=http_status(exc), import_problem=_problem(page, exc)
        )
    log.info(
        "web_leave_imported",
        username=session.username,
        added=report.added,
        refused=report.refused,
        dry_run=dry_run,
    )
    return await _page(request, page, report=report)


@router.post("/leave/kinds")
async def add_kind(request: Request) -> Response:
    session, form, page = await load_post(request)
    values = {k: text(form, k) for k in ("kind_code", "kind_en", "kind_id")}
    try:
        body = LeaveKindCreate(
            code=values["kind_code"], label_en=values["kind_en"], label_id=values["kind_id"]
        )
        await run_in_threadpool(
            leave.create_kind, services(request).db, body, actor=session.username, now=utc_now()
        )
    except ValidationError as exc:
        return await _page(
            request, page, status=422, kind_problem=_invalid(page, exc), values=values
        )
    except (ApiError, DomainError) as exc:
        return await _page(
            request, page, status=http_status(exc), kind_problem=_problem(page, exc), values=values
        )
    log.info("web_leave_kind_created", username=session.username, code=body.code)
    return redirect(f"{PAGE}?{urlencode({'kind_saved': body.code})}#kinds-h")


@router.post("/leave/kinds/{code}")
async def update_kind(request: Request, code: str) -> Response:
    """Relabel (label_en, label_id) or, with ``active``, retire (0) or offer again (1)."""
    session, form, page = await load_post(request)
    active = text(form, "active")
    try:
        if active:
            body = LeaveKindUpdate(active=active == "1")
        else:
            body = LeaveKindUpdate(label_en=text(form, "label_en"), label_id=text(form, "label_id"))
        await run_in_threadpool(
            leave.update_kind,
            services(request).db,
            code,
            body,
            actor=session.username,
            now=utc_now(),
        )
    except ValidationError as exc:
        return await _page(request, page, status=422, kind_problem=_invalid(page, exc))
    except (ApiError, DomainError) as exc:
        return await _page(request, page, status=http_status(exc), kind_problem=_problem(page, exc))
    log.info("web_leave_kind_updated", username=session.username, code=code)
    return redirect(f"{PAGE}?{urlencode({'kind_saved': code})}#kinds-h")


def _edit_data(svc: Services, leave_id: int) -> dict[str, Any]:
    with svc.db.read() as conn:
        return {"item": leave.get_leave(conn, leave_id), "kinds": leave.list_kinds(conn)}


async def _edit_page(
    request: Request,
    page: Page,
    leave_id: int,
    *,
    status: int = 200,
    problem: str | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    try:
        data = await run_in_threadpool(_edit_data, services(request), leave_id)
    except (ApiError, DomainError) as exc:
        return render(page, "error.html", status=http_status(exc), problem=_problem(page, exc))
    item = data["item"]
    shown = values or {
        "kind": item.kind,
        "start": item.start.isoformat(),
        "end": item.end.isoformat(),
        "note": item.note or "",
    }
    return render(
        page,
        "leave_edit.html",
        status=status,
        item=item,
        kinds=data["kinds"],
        kind_label=leave.kind_label,
        values=shown,
        problem=problem,
    )


@router.get("/leave/{leave_id}")
async def edit_leave_page(request: Request, leave_id: int) -> Response:
    return await _edit_page(request, await load_page(request), leave_id)


@router.post("/leave/{leave_id}")
async def change_leave(request: Request, leave_id: int) -> Response:
    """Change a leave's kind, days or note (the same rules as entering it)."""
    session, form, page = await load_post(request)
    values = {k: text(form, k) for k in ("kind", "start", "end", "note")}
    try:
        body = LeaveUpdate.model_validate(
            {
                "kind": values["kind"],
                "start": values["start"],
                "end": values["end"] or values["start"],
                "note": values["note"] or None,
            }
        )
    except ValidationError as exc:
        return await _edit_page(
            request, page, leave_id, status=422, problem=_invalid(page, exc), values=values
        )
    try:
        changed = await run_in_threadpool(
            leave.update_leave,
            services(request).db,
            leave_id,
            body,
            actor=session.username,
            now=utc_now(),
        )
    except (ApiError, DomainError) as exc:
        return await _edit_page(
            request,
            page,
            leave_id,
            status=http_status(exc),
            problem=_problem(page, exc),
            values=values,
        )
    log.info("web_leave_changed", username=session.username, leave_id=leave_id)
    month = changed.start.strftime("%Y-%m")
    return redirect(f"{PAGE}?{urlencode({'month': month, 'changed': str(leave_id)})}")
