"""Sessions and CSRF of the admin web: who is logged in, and whether a POST is theirs.

A session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS, path /admin) names a row
in ``web_sessions``; every POST carries the session's CSRF token and, when the browser
sends one, an Origin of this host.

The login requirement is a dependency of the routers (:func:`admin_router`), not a call
at the top of each handler, so a page cannot forget it; only the login router goes without.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from sync_server import review
from sync_server.deps import Services, services
from sync_server.web import accounts
from sync_server.web.forms import read_form
from sync_server.web.render import PREFIX, Page

log = structlog.get_logger(__name__)

SESSION_COOKIE = "hadir_session"
CSRF_FIELD = "csrf_token"
# Where the router dependency leaves the session for the handler's page context.
_STATE_KEY = "hadir_web_session"


class LoginRequiredError(Exception):
    def __init__(self, json: bool) -> None:
        super().__init__("login required")
        self.json = json


class CsrfError(Exception):
    """A POST without the session's CSRF token or from another origin."""


async def _logged_in(request: Request, *, json: bool) -> accounts.WebSession:
    found: accounts.WebSession | None = getattr(request.state, _STATE_KEY, None)
    if found is not None:
        return found
    svc = services(request)
    found = await run_in_threadpool(
        accounts.load_session, svc.db, request.cookies.get(SESSION_COOKIE), svc.settings.web
    )
    if found is None:
        raise LoginRequiredError(json)
    setattr(request.state, _STATE_KEY, found)
    return found


async def login_required(request: Request) -> accounts.WebSession:
    """The session of a logged-in admin; without one, the login page (with ``next``)."""
    return await _logged_in(request, json=False)


async def login_required_json(request: Request) -> accounts.WebSession:
    """The same for what a script fetches (the board's JSON, exports): a 401, not a page."""
    return await _logged_in(request, json=True)


def admin_router(*, json: bool = False) -> APIRouter:
    """A router under /admin whose every route needs a logged-in admin.

    ``json`` routes answer a missing session with a 401 JSON body instead of a redirect.
    """
    needed = login_required_json if json else login_required
    return APIRouter(prefix=PREFIX, include_in_schema=False, dependencies=[Depends(needed)])


def open_reviews(svc: Services) -> int:
    with svc.db.read() as conn:
        return review.open_count(conn)


async def load_page(request: Request) -> Page:
    """The page context of a logged-in admin (redirects to the login page otherwise)."""
    session = await login_required(request)
    svc = services(request)
    return Page(request, session, svc.site_zone, await run_in_threadpool(open_reviews, svc))


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        # Browsers send Origin on every cross-site POST; its absence is a same-site form or a
        # non-browser client, and the CSRF token still has to match.
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def load_post(request: Request) -> tuple[accounts.WebSession, FormData, Page]:
    """A POST of a logged-in admin with the session's CSRF token; the form is parsed."""
    session = await login_required(request)
    form = await read_form(request)
    token = form.get(CSRF_FIELD)
    if not same_origin(request) or not session.csrf_ok(token if isinstance(token, str) else None):
        await form.close()
        log.warning("web_csrf_refused", username=session.username, path=request.url.path)
        raise CsrfError()
    svc = services(request)
    count = await run_in_threadpool(open_reviews, svc)
    return session, form, Page(request, session, svc.site_zone, count)
