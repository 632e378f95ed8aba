"""What every request handler needs, and the credential checks.

Credentials are checked before the body is read or parsed: an unauthenticated
client gets 401 whatever it sends, never a 422 that tells it about the schema,
and no handler work happens for it. The route classes do that; the dependencies
hand the result to the handlers (and describe the schemes in OpenAPI).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar
from zoneinfo import ZoneInfo

from fastapi import Request, Response, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sync_server.auth import Authenticator, Terminal
from sync_server.config import ServerConfig
from sync_server.db import Database
from sync_server.enrolment import Enroller
from sync_server.metrics import Metrics


@dataclass(frozen=True, slots=True)
class Services:
    settings: ServerConfig
    db: Database
    auth: Authenticator
    metrics: Metrics
    enroller: Enroller

    @property
    def site_zone(self) -> ZoneInfo:
        """The site's time zone (``site_timezone``): the wall clock of its days and shifts."""
        return ZoneInfo(self.settings.site_timezone)


_terminal_scheme = HTTPBearer(
    scheme_name="terminalToken",
    description="The terminal's own token, issued once by an admin.",
    auto_error=False,
)
_admin_scheme = HTTPBearer(
    scheme_name="adminToken",
    description="The server's admin token (HADIR_ADMIN_TOKEN or systemd credential).",
    auto_error=False,
)
_TERMINAL_KEY = "hadir_terminal"
_ADMIN_KEY = "hadir_admin"


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def _authenticate(request: Request, role: str) -> None:
    auth = services(request).auth
    if role == "terminal":
        setattr(request.state, _TERMINAL_KEY, auth.terminal(request))
    else:
        auth.admin(request)
        setattr(request.state, _ADMIN_KEY, True)


class _AuthFirstRoute(APIRoute):
    role: ClassVar[str]

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        role = self.role

        async def authenticated(request: Request) -> Response:
            await run_in_threadpool(_authenticate, request, role)
            return await handler(request)

        return authenticated


class TerminalRoute(_AuthFirstRoute):
    """Routes for terminals: the terminal token is checked before the body is touched."""

    role = "terminal"


class AdminRoute(_AuthFirstRoute):
    """Routes for admins: the admin token is checked before the body is touched."""

    role = "admin"


def terminal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_terminal_scheme)],
) -> Terminal:
    found: Terminal | None = getattr(request.state, _TERMINAL_KEY, None)
    return found if found is not None else services(request).auth.terminal(request)


def admin(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_admin_scheme)],
) -> None:
    if not getattr(request.state, _ADMIN_KEY, False):
        services(request).auth.admin(request)
