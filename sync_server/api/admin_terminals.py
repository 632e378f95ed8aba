"""Admin: terminals (create with a one-time token, list, move between groups, revoke)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from sync_server import terminals
from sync_server.api.params import IdPath
from sync_server.deps import AdminRoute, Services, admin, services
from sync_server.errors import error_responses
from sync_server.schemas import (
    TerminalCreate,
    TerminalCreated,
    TerminalInfo,
    TerminalList,
    TerminalUpdate,
)

router = APIRouter(
    prefix="/admin/terminals",
    tags=["admin: terminals"],
    dependencies=[Depends(admin)],
    route_class=AdminRoute,
    responses=error_responses(401, 403, 404, 413, 429),
)

ServicesDep = Annotated[Services, Depends(services)]
TerminalId = IdPath


@router.post(
    "",
    status_code=201,
    response_model=TerminalCreated,
    summary="Create a terminal and issue its token",
    description="The token is in this answer only; the server stores its SHA-256.",
    responses=error_responses(409),
)
def create_terminal(body: TerminalCreate, svc: ServicesDep) -> TerminalCreated:
    return terminals.create_terminal(svc.db, body)


@router.get("", response_model=TerminalList, summary="All terminals with their latest heartbeat")
def list_terminals(svc: ServicesDep) -> TerminalList:
    return TerminalList(terminals=terminals.list_terminals(svc.db))


@router.get("/{terminal_id}", response_model=TerminalInfo, summary="One terminal")
def get_terminal(terminal_id: TerminalId, svc: ServicesDep) -> TerminalInfo:
    return terminals.get_terminal(svc.db, terminal_id)


@router.patch(
    "/{terminal_id}",
    response_model=TerminalInfo,
    summary="Change a terminal's group or description",
    description="Moving a terminal to another group makes it drop its people and copy the "
    "new group's on its next pull.",
)
def update_terminal(
    terminal_id: TerminalId, body: TerminalUpdate, svc: ServicesDep
) -> TerminalInfo:
    return terminals.update_terminal(svc.db, terminal_id, body)


@router.post(
    "/{terminal_id}/revoke",
    response_model=TerminalInfo,
    summary="Revoke a terminal's token",
    description="Its requests get 403 from now on, on every server process.",
)
def revoke_terminal(terminal_id: TerminalId, svc: ServicesDep) -> TerminalInfo:
    return terminals.revoke_terminal(svc.db, terminal_id)


@router.post(
    "/{terminal_id}/token",
    response_model=TerminalCreated,
    summary="Issue a new token (the old one stops working; a revoked terminal is restored)",
)
def rotate_token(terminal_id: TerminalId, svc: ServicesDep) -> TerminalCreated:
    return terminals.rotate_token(svc.db, terminal_id)
