"""The admin web: server-rendered pages under ``/admin``, no front-end build, no CDN.

Every page is HTML from Jinja2 templates (``render``); the one script (``static/hadir.js``)
only makes the today board live and asks before destructive buttons. The pages call the
same operations as the JSON admin API, so a rule (a photo's rejection reason, a deletion
that reaches every terminal) is enforced once.

One module per page group (``board``, ``people``, ``terminals``, ``review``, ``reports``),
each with a router that needs a logged-in admin (``session``); ``login`` has the one router
without. Security: the session cookie and CSRF tokens (``session``, ``login``), and a strict
Content-Security-Policy on every answer (``security``). This module puts them together.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from sync_server.deps import services
from sync_server.web import (
    board,
    calendar,
    charts,
    corrections,
    leave,
    login,
    people,
    reports,
    review,
    terminals,
)
from sync_server.web.i18n import N_
from sync_server.web.render import PREFIX, STATIC_DIR, Page, redirect, render
from sync_server.web.security import SecurityHeaders
from sync_server.web.session import CsrfError, LoginRequiredError

ROUTERS = (
    login.router,
    board.router,
    board.data_router,
    people.router,
    terminals.router,
    review.router,
    reports.router,
    reports.data_router,
    calendar.router,
    leave.router,
    corrections.router,
    charts.router,
)

# A POST refused for its CSRF token or origin, in the browser's language (the page has no
# session to ask: the refusal comes before one is trusted).
FORM_REFUSED = N_(
    "this form was not sent from this site's page (or it expired); reload the page and try again"
)


def mount(app: FastAPI) -> None:
    """Add the admin web to the app: routes, static files, error pages, headers."""

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequiredError)
        if exc.json:
            return JSONResponse(
                {"reason": "login_required", "detail": "log in at /admin/login"}, status_code=401
            )
        target = request.url.path
        if request.method == "GET" and request.url.query:
            target += "?" + request.url.query
        return redirect(f"{PREFIX}/login?next={quote(target)}")

    async def forbidden(request: Request, exc: Exception) -> Response:
        page = Page(request, None, services(request).site_zone)
        return render(page, "error.html", status=403, problem=page.lang.gettext(FORM_REFUSED))

    handlers: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
        LoginRequiredError: login_required,
        CsrfError: forbidden,
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)
    for router in ROUTERS:
        app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="admin-static")

    # Pages link their icon; a browser showing anything else (the API docs, a JSON answer)
    # still asks for /favicon.ico, and a 404 there fills every session's log.
    async def favicon() -> Response:
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    app.add_api_route("/favicon.ico", favicon, include_in_schema=False)
    app.add_middleware(SecurityHeaders)
