"""Logging in and out of the admin web: the one router without the login requirement.

The login form, which has no session yet, uses a double-submit token (a cookie and a field
that must match) instead of the session's CSRF token.
"""

from __future__ import annotations

import secrets

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from sync_server.auth import client_address
from sync_server.config import WebConfig
from sync_server.deps import services
from sync_server.web import accounts, i18n
from sync_server.web.forms import read_form, text
from sync_server.web.render import PREFIX, Page, redirect, render, safe_next
from sync_server.web.session import (
    CSRF_FIELD,
    SESSION_COOKIE,
    load_post,
    login_required,
    same_origin,
)

log = structlog.get_logger(__name__)

LOGIN_CSRF_COOKIE = "hadir_login_csrf"

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _secure(request: Request, config: WebConfig) -> bool:
    if config.secure_cookies == "auto":
        return request.url.scheme == "https"
    return config.secure_cookies == "always"


def _refusal(lang: i18n.Lang, outcome: accounts.LoginOutcome) -> str:
    """Why a login was refused, in the reader's language."""
    if outcome.reason == "locked":
        return lang.ngettext(
            "this account is locked after too many failed logins; try again in %(num)d minute",
            "this account is locked after too many failed logins; try again in %(num)d minutes",
            outcome.minutes,
        )
    if outcome.reason == "limited":
        return lang.ngettext(
            "too many failed logins; try again in %(num)d minute",
            "too many failed logins; try again in %(num)d minutes",
            outcome.minutes,
        )
    return lang.gettext("wrong username or password")


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
    response = render(
        Page(request, None, svc.site_zone),
        "login.html",
        status=status,
        problem=problem,
        username=username,
        login_csrf=token,
        next=safe_next(next_path or request.query_params.get("next")),
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
    # No account yet: the browser's language (Accept-Language).
    lang = Page(request, None, svc.site_zone).lang
    client = client_address(request)
    form = await read_form(request)
    await form.close()
    username = text(form, "username")
    next_path = text(form, "next")
    password = form.get("password")
    given = form.get(CSRF_FIELD)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if (
        not same_origin(request)
        or not isinstance(given, str)
        or not expected
        or not secrets.compare_digest(given, expected)
    ):
        return _login_page(
            request,
            problem=lang.gettext("the login form expired; please try again"),
            status=403,
            username=username,
            next_path=next_path,
        )
    if not username or not isinstance(password, str) or not password:
        return _login_page(
            request,
            problem=lang.gettext("enter your username and password"),
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
            problem=_refusal(lang, outcome),
            status=429 if outcome.locked else 401,
            username=username,
            next_path=next_path,
        )
    cookie = await run_in_threadpool(
        accounts.start_session, svc.db, outcome.username, client, svc.settings.web
    )
    response = redirect(safe_next(next_path))
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
    # Logging out needs the session (and its CSRF token): load_post() asks for it.
    session, _form_data, _page = await load_post(request)
    await run_in_threadpool(
        accounts.end_session, services(request).db, request.cookies.get(SESSION_COOKIE)
    )
    log.info("admin_logout", username=session.username)
    response = redirect(PREFIX + "/login")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


# The login router has no login requirement; this route brings its own (as every page's
# router does), so it cannot be reached without a session.
@router.post("/language", dependencies=[Depends(login_required)])
async def set_language(request: Request) -> Response:
    """The account's language of the admin web (the switch in every page's header)."""
    session, form, _page = await load_post(request)
    chosen = text(form, "locale")
    # "" (or anything unknown): follow the browser's Accept-Language again.
    locale = i18n.known(chosen) if chosen else None
    await run_in_threadpool(accounts.set_locale, services(request).db, session.username, locale)
    return redirect(safe_next(text(form, "next")))


@router.get("")
async def root_redirect() -> Response:
    # A bare /admin goes to the board, which asks for a login if there is none.
    return redirect(PREFIX + "/")
