"""What every request handler needs, and the credential checks as FastAPI dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Request, Security
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


# Only for the OpenAPI description (and its Authorize button); Authenticator does the checking.
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


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def terminal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_terminal_scheme)],
) -> Terminal:
    return services(request).auth.terminal(request)


def admin(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_admin_scheme)],
) -> None:
    services(request).auth.admin(request)
