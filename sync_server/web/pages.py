"""The admin web: server-rendered pages under ``/admin``, no front-end build, no CDN.

Every page is HTML from Jinja2 templates; the one script (``static/hadir.js``) only makes
the today board live and asks before destructive buttons. The pages call the same
functions as the JSON admin API, so a rule (a photo's rejection reason, a deletion that
reaches every terminal) is enforced once.

Security: a session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS, path /admin)
names a row in ``web_sessions``; every POST carries the session's CSRF token and, when
the browser sends one, an Origin of this host. The login form, which has no session yet,
uses a double-submit token (cookie and field). A strict Content-Security-Policy allows
scripts, styles and images from this server only.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from uuid import UUID
from zoneinfo import ZoneInfo

import jinja2
import sqlalchemy as sa
import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from edge import __version__
from edge.wording import plural
from sync_server import people, reports, review
from sync_server.api import admin_people, admin_terminals
from sync_server.api import reports as reports_api
from sync_server.auth import client_address
from sync_server.config import WebConfig
from sync_server.db import current_version, events, templates, terminals, utcnow
from sync_server.db import people as people_table
from sync_server.deps import Services, services
from sync_server.errors import ApiError
from sync_server.metrics import ASGIApp, Message, Receive, Scope, Send
from sync_server.schemas import PersonCreate, TerminalCreate
from sync_server.web import accounts

log = structlog.get_logger(__name__)

PREFIX = "/admin"
SESSION_COOKIE = "hadir_session"
LOGIN_CSRF_COOKIE = "hadir_login_csrf"
CSRF_FIELD = "csrf_token"
MAX_PHOTOS = 20
LIST_LIMIT = 500
PERSON_FLAGGED = 50  # flagged events on a person's page
_HERE = Path(__file__).resolve().parent
STATIC_DIR = _HERE / "static"

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


# --- rendering -------------------------------------------------------------------------------


def _local(value: datetime | None, tz: ZoneInfo, fmt: str = "%H:%M") -> str:
    return "" if value is None else value.astimezone(tz).strftime(fmt)


def _duration(minutes: int | float | timedelta | None) -> str:
    if minutes is None:
        return ""
    if isinstance(minutes, timedelta):
        minutes = minutes.total_seconds() / 60
    whole = int(minutes)
    hours, rest = divmod(whole, 60)
    return f"{hours} h {rest:02d} min" if hours else f"{rest} min"


def _offset(seconds: float) -> str:
    """A clock offset to a tenth of a second, signed; rounding to zero reads 0.0, not -0.0."""
    rounded = round(seconds, 1)
    return f"{rounded:+.1f}" if rounded else "0.0"


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 90:
        return f"{int(seconds)} s ago"
    if seconds < 5400:
        return f"{int(seconds // 60)} min ago"
    if seconds < 172_800:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86_400)} days ago"


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_HERE / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["duration"] = _duration
_env.filters["ago"] = _ago
_env.filters["offset"] = _offset
_env.globals["plural"] = plural


@dataclass(frozen=True, slots=True)
class _Page:
    """What every template gets besides its own data."""

    request: Request
    session: accounts.WebSession | None
    tz: ZoneInfo
    # Events needing review, for the nav link's count on every page of a logged-in admin.
    review_open: int = 0

    def time(self, value: datetime | None, fmt: str = "%H:%M") -> str:
        return _local(value, self.tz, fmt)


def _render(page: _Page, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(template).render(
        page=page,
        session=page.session,
        csrf=page.session.csrf_token if page.session else "",
        version=__version__,
        timezone=str(page.tz),
        path=page.request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status)


def _zone(svc: Services) -> ZoneInfo:
    return reports.zone(svc.settings.site_timezone)


# --- sessions and CSRF -----------------------------------------------------------------------


class _LoginRequiredError(Exception):
    def __init__(self, json: bool) -> None:
        super().__init__("login required")
        self.json = json


class _CsrfError(Exception):
    """A POST without the session's CSRF token or from another origin."""


def _secure(request: Request, config: WebConfig) -> bool:
    if config.secure_cookies == "auto":
        return request.url.scheme == "https"
    return config.secure_cookies == "always"


async def _session(request: Request, *, json: bool = False) -> accounts.WebSession:
    svc = services(request)
    found = await run_in_threadpool(
        accounts.load_session, svc.db, request.cookies.get(SESSION_COOKIE), svc.settings.web
    )
    if found is None:
        raise _LoginRequiredError(json)
    return found


def _open_reviews(svc: Services) -> int:
    with svc.db.read() as conn:
        return review.open_count(conn)


async def _page(request: Request) -> _Page:
    """The page context of a logged-in admin (redirects to the login page otherwise)."""
    session = await _session(request)
    svc = services(request)
    return _Page(request, session, _zone(svc), await run_in_threadpool(_open_reviews, svc))


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        # Browsers send Origin on every cross-site POST; its absence is a same-site form or a
        # non-browser client, and the CSRF token still has to match.
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def _form(request: Request) -> FormData:
    try:
        return await request.form(max_files=MAX_PHOTOS, max_fields=20)
    except ApiError:
        raise  # the request limits' own answers: 413 too large, 408 too slow
    except Exception as exc:  # starlette raises its own MultiPartException and friends
        raise ApiError(400, "bad_form", f"the form could not be read ({exc})") from exc


async def _post(request: Request) -> tuple[accounts.WebSession, FormData, _Page]:
    """A POST of a logged-in admin with the session's CSRF token; the form is parsed."""
    session = await _session(request)
    form = await _form(request)
    token = form.get(CSRF_FIELD)
    if not _same_origin(request) or not session.csrf_ok(token if isinstance(token, str) else None):
        await form.close()
        log.warning("web_csrf_refused", username=session.username, path=request.url.path)
        raise _CsrfError()
    svc = services(request)
    count = await run_in_threadpool(_open_reviews, svc)
    return session, form, _Page(request, session, _zone(svc), count)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _safe_next(target: str | None) -> str:
    # Only paths of these pages: never an absolute URL or a //host open redirect.
    if target and target.startswith(PREFIX) and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX + "/"


def _field_problems(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "form"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


# --- login -----------------------------------------------------------------------------------

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _login_page(
    request: Request,
    *,
    problem: str | None = None,
    status: int = 200,
    username: str = "",
    next_path: str | None = None,
) -> HTMLResponse:
    svc = services(request)
    token = secrets.token_urlsafe(24)
    response = _render(
        _Page(request, None, _zone(svc)),
        "login.html",
        status=status,
        problem=problem,
        username=username,
        login_csrf=token,
        next=_safe_next(next_path or request.query_params.get("next")),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=_secure(request, svc.settings.web),
    )
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    svc = services(request)
    client = client_address(request)
    form = await _form(request)
    await form.close()
    username = _text(form, "username")
    next_path = _text(form, "next")
    password = form.get("password")
    given = form.get(CSRF_FIELD)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if (
        not _same_origin(request)
        or not isinstance(given, str)
        or not expected
        or not secrets.compare_digest(given, expected)
    ):
        return _login_page(
            request,
            problem="the login form expired; please try again",
            status=403,
            username=username,
            next_path=next_path,
        )
    if not username or not isinstance(password, str) or not password:
        return _login_page(
            request,
            problem="enter your username and password",
            status=422,
            username=username,
            next_path=next_path,
        )
    # The password is checked before any limit: a right one is never refused for the
    # failures of others at this address (accounts.check_login counts the failures).
    outcome = await run_in_threadpool(
        accounts.check_login,
        svc.db,
        username,
        password,
        svc.settings.web,
        limiter=svc.auth.limiter,
        client=client,
    )
    if outcome.username is None:
        return _login_page(
            request,
            problem=outcome.problem,
            status=429 if outcome.locked else 401,
            username=username,
            next_path=next_path,
        )
    cookie = await run_in_threadpool(
        accounts.start_session, svc.db, outcome.username, client, svc.settings.web
    )
    response = _redirect(_safe_next(next_path))
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=svc.settings.web.session_max_hours * 3600,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=_secure(request, svc.settings.web),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session, _form_data, _page = await _post(request)
    await run_in_threadpool(
        accounts.end_session, services(request).db, request.cookies.get(SESSION_COOKIE)
    )
    log.info("admin_logout", username=session.username)
    response = _redirect(PREFIX + "/login")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


# --- today board -----------------------------------------------------------------------------


def _filters(request: Request) -> tuple[str | None, str | None]:
    group = request.query_params.get("group") or None
    department = request.query_params.get("department") or None
    return group, department


def _day_rows(
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
            "first_in": _local(r.first_in, tz),
            "last_out": _local(r.last_out, tz),
            "worked": _duration(r.worked),
            "late": bool(r.late),
            "late_minutes": r.late_minutes,
            "events": r.events,
            # Events of the day whose liveness check failed, not reviewed yet.
            "review": to_review.get(r.person_id, 0),
        }
        for r in report.rows
    ]


def _nobody(
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
    tz = _zone(svc)
    day = reports.local_today(tz)
    with svc.db.read() as conn:
        report = reports.day_view(conn, day, tz=tz, group=group, department=department)
        to_review = review.open_in_day(conn, report.rows)
        counts = reports.people_counts(conn, group, department) if not report.rows else None
    empty = _nobody(counts, group, department) if counts else ""
    totals = report.totals()
    # Present today: anyone with an event today, gone home or not. In now: whose latest event
    # is an in (two people who came and left are 2 present, 0 in).
    totals["present"] = sum(1 for r in report.rows if r.events)
    totals["in_now"] = sum(1 for r in report.rows if r.inside)
    return {
        "date": day.isoformat(),
        "timezone": str(tz),
        "totals": totals,
        "rows": _day_rows(report, tz, to_review),
        "empty": empty,
        "updated": datetime.now(tz).strftime("%H:%M:%S"),
    }


@router.get("")
async def root_redirect() -> Response:
    return _redirect(PREFIX + "/")


@router.get("/")
async def today_board(request: Request) -> Response:
    page = await _page(request)
    svc = services(request)
    group, department = _filters(request)
    data = await run_in_threadpool(_today, svc, group, department)
    return _render(
        page,
        "today.html",
        today=data,
        group=group or "",
        department=department or "",
        refresh_ms=int(svc.settings.web.board_refresh_s * 1000),
    )


@router.get("/today.json")
async def today_json(request: Request) -> Response:
    await _session(request, json=True)
    svc = services(request)
    group, department = _filters(request)
    data = await run_in_threadpool(_today, svc, group, department)
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


# --- people ----------------------------------------------------------------------------------


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _people_list(svc: Services, q: str) -> tuple[list[Any], int]:
    count = sa.func.count(templates.c.id).label("templates")
    query = (
        sa.select(
            people_table.c.id,
            people_table.c.name,
            people_table.c.group_name,
            people_table.c.department,
            people_table.c.employee_id,
            count,
        )
        .select_from(people_table.outerjoin(templates, templates.c.person_id == people_table.c.id))
        .group_by(people_table.c.id)
        .order_by(people_table.c.name, people_table.c.id)
    )
    if q:
        pattern = _like(q)
        query = query.where(
            sa.or_(
                *(
                    column.ilike(pattern, escape="\\")
                    for column in (
                        people_table.c.id,
                        people_table.c.name,
                        people_table.c.department,
                        people_table.c.employee_id,
                        people_table.c.group_name,
                    )
                )
            )
        )
    with svc.db.read() as conn:
        rows = conn.execute(query.limit(LIST_LIMIT + 1)).all()
        total = int(conn.execute(sa.select(sa.func.count()).select_from(people_table)).scalar_one())
    return list(rows), total


async def _people_page(
    request: Request,
    page: _Page,
    *,
    status: int = 200,
    problem: str | None = None,
    values: Mapping[str, str] | None = None,
) -> HTMLResponse:
    svc = services(request)
    q = request.query_params.get("q", "").strip()
    rows, total = await run_in_threadpool(_people_list, svc, q)
    return _render(
        page,
        "people.html",
        status=status,
        people=rows[:LIST_LIMIT],
        more=len(rows) > LIST_LIMIT,
        total=total,
        q=q,
        problem=problem,
        values=values or {"group": "default"},
        max_photos=MAX_PHOTOS,
    )


@router.get("/people")
async def people_page(request: Request) -> Response:
    return await _people_page(request, await _page(request))


@dataclass(slots=True)
class PhotoResult:
    """One uploaded photo's fate, shown next to its file name."""

    filename: str
    accepted: bool
    reason: str = ""
    detail: str = ""
    warnings: tuple[str, ...] = ()


async def _enrol_photos(svc: Services, person_id: str, form: FormData) -> list[PhotoResult]:
    # One call for the whole upload: the photos of a new person are checked against each other.
    results: list[PhotoResult | None] = []
    photos: list[tuple[bytes, str]] = []
    for upload in form.getlist("photos"):
        if not isinstance(upload, UploadFile) or not upload.filename:
            continue
        name = upload.filename[:200]
        data = await upload.read()
        if not data:
            results.append(PhotoResult(name, False, "unreadable", "the file is empty"))
            continue
        results.append(None)
        photos.append((data, name))
    force = _text(form, "force_photo") == "yes"
    outcomes = iter(await admin_people.enrol_photos(svc, person_id, photos, force=force))
    return [_photo_result(next(outcomes)) if r is None else r for r in results]


def _photo_result(outcome: admin_people.PhotoOutcome) -> PhotoResult:
    if outcome.answer is None:
        error = outcome.error
        assert error is not None
        return PhotoResult(outcome.name, False, error.reason, str(error.detail))
    answer = outcome.answer
    detail = "enrolled" if answer.created else "already enrolled (same photo)"
    return PhotoResult(outcome.name, True, "", detail, tuple(w.detail for w in answer.warnings))


@router.post("/people")
async def enrol_person(request: Request) -> Response:
    session, form, page = await _post(request)
    svc = services(request)
    values = {k: _text(form, k) for k in ("id", "name", "group", "department")}
    try:
        try:
            body = PersonCreate(id=values["id"], name=values["name"], group=values["group"])
            department = (
                reports_api.PersonAttendanceUpdate(department=values["department"])
                if values["department"]
                else None
            )
        except ValidationError as exc:
            return await _people_page(
                request, page, status=422, problem=_field_problems(exc), values=values
            )
        try:
            await run_in_threadpool(people.create, svc.db, body)
            if department is not None:
                await run_in_threadpool(
                    reports_api.update_person_attendance, body.id, department, svc
                )
        except ApiError as exc:
            return await _people_page(
                request, page, status=exc.status_code, problem=str(exc.detail), values=values
            )
        log.info("web_person_created", username=session.username, person_id=body.id)
        results = await _enrol_photos(svc, body.id, form)
    finally:
        await form.close()
    return await _person_page(request, page, body.id, results=results, created=True)


def _person_data(svc: Services, person_id: str) -> dict[str, Any]:
    with svc.db.read() as conn:
        info = people.load(conn, person_id)
        attendance = reports_api.person_attendance(conn, person_id)
        # The latest flagged events, open or reviewed (newest first).
        query = review.review_query(
            include_reviewed=True, person_id=person_id, limit=PERSON_FLAGGED
        ).order_by(None)
        flagged = conn.execute(query.order_by(events.c.corrected_time.desc(), events.c.id)).all()
    return {
        "info": info,
        "attendance": attendance,
        "flagged": [review.review_item(r._mapping) for r in flagged],
    }


async def _person_page(
    request: Request,
    page: _Page,
    person_id: str,
    *,
    results: list[PhotoResult] | None = None,
    created: bool = False,
) -> HTMLResponse:
    svc = services(request)
    try:
        data = await run_in_threadpool(_person_data, svc, person_id)
    except ApiError as exc:
        return _render(page, "error.html", status=exc.status_code, problem=str(exc.detail))
    return _render(
        page,
        "person.html",
        person=data["info"],
        attendance=data["attendance"],
        flagged=data["flagged"],
        results=results or [],
        created=created,
        max_photos=MAX_PHOTOS,
    )


@router.get("/people/{person_id}")
async def person_page(request: Request, person_id: str) -> Response:
    return await _person_page(request, await _page(request), person_id)


@router.post("/people/{person_id}/photos")
async def add_photos(request: Request, person_id: str) -> Response:
    _, form, page = await _post(request)
    try:
        results = await _enrol_photos(services(request), person_id, form)
    finally:
        await form.close()
    if not results:
        results = [PhotoResult("(none)", False, "missing_photo", "choose at least one photo")]
    return await _person_page(request, page, person_id, results=results)


@router.get("/people/{person_id}/delete")
async def confirm_delete_person(request: Request, person_id: str) -> Response:
    page = await _page(request)
    try:
        data = await run_in_threadpool(_person_data, services(request), person_id)
    except ApiError as exc:
        return _render(page, "error.html", status=exc.status_code, problem=str(exc.detail))
    return _render(page, "person_delete.html", person=data["info"])


@router.post("/people/{person_id}/delete")
async def delete_person(request: Request, person_id: str) -> Response:
    session, form, page = await _post(request)
    svc = services(request)
    if _text(form, "confirm") != person_id:
        data = await run_in_threadpool(_person_data, svc, person_id)
        return _render(
            page,
            "person_delete.html",
            status=422,
            person=data["info"],
            problem=f"type {person_id} to confirm",
        )
    try:
        version = await run_in_threadpool(people.delete, svc.db, person_id)
    except ApiError as exc:
        return _render(page, "error.html", status=exc.status_code, problem=str(exc.detail))
    log.info("web_person_deleted", username=session.username, person_id=person_id, version=version)
    return _redirect(f"{PREFIX}/people?deleted={quote(person_id)}")


# --- terminals -------------------------------------------------------------------------------


def _terminal_rows(svc: Services) -> tuple[list[dict[str, Any]], int]:
    now = utcnow()
    offline_after = svc.settings.web.offline_after_s
    with svc.db.read() as conn:
        rows = conn.execute(admin_terminals.terminal_query().order_by(terminals.c.id)).all()
        server_version = current_version(conn)
    out = []
    for row in rows:
        info = admin_terminals.terminal_info(row)
        hb = info["heartbeat"]
        seen = info["last_seen_at"]
        age = (now - seen).total_seconds() if seen is not None else None
        if info["revoked_at"] is not None:
            state = "revoked"
        elif age is None:
            state = "never seen"
        elif age <= offline_after:
            state = "online"
        else:
            state = "offline"
        out.append({**info, "state": state, "age_s": age, "hb": hb})
    return out, server_version


async def _terminals_page(
    request: Request,
    page: _Page,
    *,
    status: int = 200,
    problem: str | None = None,
    values: Mapping[str, str] | None = None,
) -> HTMLResponse:
    rows, server_version = await run_in_threadpool(_terminal_rows, services(request))
    return _render(
        page,
        "terminals.html",
        status=status,
        terminals=rows,
        server_version=server_version,
        problem=problem,
        values=values or {"group": "default"},
    )


@router.get("/terminals")
async def terminals_page(request: Request) -> Response:
    return await _terminals_page(request, await _page(request))


@router.post("/terminals")
async def create_terminal(request: Request) -> Response:
    session, form, page = await _post(request)
    values = {k: _text(form, k) for k in ("id", "group", "description")}
    try:
        body = TerminalCreate(
            id=values["id"], group=values["group"], description=values["description"]
        )
        created = await run_in_threadpool(admin_terminals.create_terminal, body, services(request))
    except ValidationError as exc:
        return await _terminals_page(
            request, page, status=422, problem=_field_problems(exc), values=values
        )
    except ApiError as exc:
        return await _terminals_page(
            request, page, status=exc.status_code, problem=str(exc.detail), values=values
        )
    log.info("web_terminal_created", username=session.username, terminal_id=body.id)
    return _render(page, "terminal_token.html", terminal=created, rotated=False)


@router.post("/terminals/{terminal_id}/revoke")
async def revoke_terminal(request: Request, terminal_id: str) -> Response:
    session, _form_data, page = await _post(request)
    try:
        await run_in_threadpool(admin_terminals.revoke_terminal, terminal_id, services(request))
    except ApiError as exc:
        return _render(page, "error.html", status=exc.status_code, problem=str(exc.detail))
    log.info("web_terminal_revoked", username=session.username, terminal_id=terminal_id)
    return _redirect(f"{PREFIX}/terminals")


@router.post("/terminals/{terminal_id}/token")
async def rotate_token(request: Request, terminal_id: str) -> Response:
    session, _form_data, page = await _post(request)
    try:
        created = await run_in_threadpool(
            admin_terminals.rotate_token, terminal_id, services(request)
        )
    except ApiError as exc:
        return _render(page, "error.html", status=exc.status_code, problem=str(exc.detail))
    log.info("web_terminal_token", username=session.username, terminal_id=terminal_id)
    return _render(page, "terminal_token.html", terminal=created, rotated=True)


# --- needs review ----------------------------------------------------------------------------


def _review_rows(
    svc: Services,
    include_reviewed: bool,
    device_id: str | None,
    first: date | None,
    last: date | None,
) -> list[Any]:
    tz = _zone(svc)
    # Whole days on the site's wall clock, as the reports count them.
    start = None if first is None else datetime.combine(first, time(), tz)
    end = None if last is None else datetime.combine(last + timedelta(days=1), time(), tz)
    query = review.review_query(
        include_reviewed=include_reviewed,
        device_id=device_id,
        start=start,
        end=end,
        limit=LIST_LIMIT,
    )
    with svc.db.read() as conn:
        return [review.review_item(r._mapping) for r in conn.execute(query)]


@router.get("/review")
async def review_page(request: Request) -> Response:
    page = await _page(request)
    params = request.query_params
    include_reviewed = params.get("reviewed") == "1"
    terminal = params.get("terminal", "").strip() or None
    try:
        first = _date_param(request, "from", date.min) if params.get("from") else None
        last = _date_param(request, "to", date.min) if params.get("to") else None
    except ApiError as exc:
        return _render(page, "error.html", status=422, problem=str(exc.detail))
    items = await run_in_threadpool(
        _review_rows, services(request), include_reviewed, terminal, first, last
    )
    return _render(
        page,
        "review.html",
        items=items,
        include_reviewed=include_reviewed,
        terminal=terminal or "",
        first=first.isoformat() if first else "",
        last=last.isoformat() if last else "",
        marked=params.get("marked", ""),
        limit=LIST_LIMIT,
    )


@router.post("/review/{event_id}")
async def mark_reviewed(request: Request, event_id: str) -> Response:
    session, form, page = await _post(request)
    try:
        found = UUID(event_id)
    except ValueError:
        return _render(page, "error.html", status=404, problem=f"no event {event_id!r}")
    try:
        await run_in_threadpool(
            review.mark_reviewed, services(request).db, found, session.username, utcnow()
        )
    except ApiError as exc:
        return _render(page, "error.html", status=exc.status_code, problem=str(exc.detail))
    log.info("web_event_reviewed", username=session.username, event_id=str(found))
    back = _safe_next(_text(form, "next") or f"{PREFIX}/review")
    return _redirect(f"{back}{'&' if '?' in back else '?'}marked={found}")


# --- reports ---------------------------------------------------------------------------------


def _date_param(request: Request, name: str, default: date) -> date:
    raw = request.query_params.get(name)
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ApiError(422, "bad_date", f"{name}: {raw!r} is not a date (YYYY-MM-DD)") from exc


def _month_param(request: Request, default: date) -> date:
    raw = request.query_params.get("month")
    if not raw:
        return default.replace(day=1)
    try:
        return datetime.strptime(raw, "%Y-%m").date()
    except ValueError as exc:
        raise ApiError(422, "bad_month", f"month: {raw!r} is not a month (YYYY-MM)") from exc


def _reports_data(
    svc: Services, day: date, month: date, group: str | None, department: str | None
) -> dict[str, Any]:
    tz = _zone(svc)
    with svc.db.read() as conn:
        day_report = reports.day_view(conn, day, tz=tz, group=group, department=department)
        to_review = review.open_in_day(conn, day_report.rows)
        summary = reports.month_summary(conn, month, tz=tz, group=group, department=department)
        counts = reports.people_counts(conn, group, department)
    return {
        "day_report": day_report,
        "day_rows": _day_rows(day_report, tz, to_review),
        "day_empty": _nobody(counts, group, department),
        "summary": summary,
        "month_empty": _nobody(counts, group, department, month=True),
    }


@router.get("/reports")
async def reports_page(request: Request) -> Response:
    page = await _page(request)
    svc = services(request)
    today = reports.local_today(page.tz)
    group, department = _filters(request)
    try:
        day = _date_param(request, "date", today)
        month = _month_param(request, day)
    except ApiError as exc:
        return _render(page, "error.html", status=422, problem=str(exc.detail))
    data = await run_in_threadpool(_reports_data, svc, day, month, group, department)
    first, last = reports.month_bounds(month)
    return _render(
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
    today = reports.local_today(_zone(services(request)))
    first = _date_param(request, "from", today)
    last = _date_param(request, "to", first)
    reports_api.check_range(first, last)
    return first, last


@router.get("/reports/export.csv")
async def export_csv(request: Request) -> Response:
    await _session(request, json=True)
    svc = services(request)
    first, last = _range(request)
    group, department = _filters(request)
    try:
        rows = reports.CsvRows(request.query_params.get("rows", "days"))
    except ValueError as exc:
        raise ApiError(422, "bad_rows", "rows: days or events") from exc
    # The API's handler is a plain function: the same stream, name and headers.
    return reports_api.export_csv(svc, first, last, rows, group, department)


@router.get("/reports/hrms.json")
async def export_hrms(request: Request) -> Response:
    await _session(request, json=True)
    svc = services(request)
    first, last = _range(request)
    group, department = _filters(request)
    found = await run_in_threadpool(reports_api.hrms_checkins, svc, first, last, group, department)
    name = f"hrms-checkins-{first.isoformat()}-{last.isoformat()}.json"
    return JSONResponse(
        [c.model_dump(mode="json") for c in found],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- wiring ----------------------------------------------------------------------------------


class SecurityHeaders:
    """CSP and friends on every answer under /admin (pages, redirects, static files)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        static = path.startswith(PREFIX + "/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", _CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                ]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def mount(app: FastAPI) -> None:
    """Add the admin web to the app: routes, static files, error pages, headers."""

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _LoginRequiredError)
        if exc.json:
            return JSONResponse(
                {"reason": "login_required", "detail": "log in at /admin/login"}, status_code=401
            )
        target = request.url.path
        if request.method == "GET" and request.url.query:
            target += "?" + request.url.query
        return _redirect(f"{PREFIX}/login?next={quote(target)}")

    async def forbidden(request: Request, exc: Exception) -> Response:
        page = _Page(request, None, _zone(services(request)))
        return _render(
            page,
            "error.html",
            status=403,
            problem="this form was not sent from this site's page (or it expired); "
            "reload the page and try again",
        )

    handlers: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
        _LoginRequiredError: login_required,
        _CsrfError: forbidden,
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="admin-static")

    # Pages link their icon; a browser showing anything else (the API docs, a JSON answer)
    # still asks for /favicon.ico, and a 404 there fills every session's log.
    async def favicon() -> Response:
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    app.add_api_route("/favicon.ico", favicon, include_in_schema=False)
    app.add_middleware(SecurityHeaders)
