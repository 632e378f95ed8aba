"""Admin: terminals (create with a one-time token, list, move between groups, revoke)."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path
from sqlalchemy.engine import Connection, Row

from sync_server.auth import hash_token, new_token
from sync_server.db import heartbeats, next_version, terminals, utcnow
from sync_server.deps import AdminRoute, Services, admin, services
from sync_server.errors import ApiError, error_responses
from sync_server.schemas import (
    HeartbeatInfo,
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
TerminalId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]

_HEARTBEAT_FIELDS = [c for c in heartbeats.c if c.name != "device_id"]


def terminal_query() -> sa.Select[Any]:
    return sa.select(terminals, *[c.label(f"hb_{c.name}") for c in _HEARTBEAT_FIELDS]).outerjoin(
        heartbeats, heartbeats.c.device_id == terminals.c.id
    )


def terminal_info(row: Row[Any]) -> dict[str, Any]:
    heartbeat = None
    if row.hb_received_at is not None:
        heartbeat = HeartbeatInfo(
            **{
                c.name: getattr(row, f"hb_{c.name}")
                for c in _HEARTBEAT_FIELDS
                if c.name != "monotonic"
            }
        )
    return {
        "id": row.id,
        "group": row.group_name,
        "description": row.description,
        "created_at": row.created_at,
        "revoked_at": row.revoked_at,
        "last_seen_at": row.hb_received_at,
        "heartbeat": heartbeat,
    }


def _load(conn: Connection, terminal_id: str) -> dict[str, Any]:
    row = conn.execute(terminal_query().where(terminals.c.id == terminal_id)).first()
    if row is None:
        raise ApiError(404, "unknown_terminal", f"no terminal {terminal_id!r}")
    return terminal_info(row)


@router.post(
    "",
    status_code=201,
    response_model=TerminalCreated,
    summary="Create a terminal and issue its token",
    description="The token is in this answer only; the server stores its SHA-256.",
    responses=error_responses(409),
)
def create_terminal(body: TerminalCreate, svc: ServicesDep) -> TerminalCreated:
    token = new_token()
    with svc.db.write() as conn:
        # ON CONFLICT rather than look-then-insert: two processes may create the same id.
        created = conn.execute(
            svc.db.insert(terminals)
            .values(
                id=body.id,
                group_name=body.group,
                description=body.description,
                token_hash=hash_token(token),
                created_at=utcnow(),
                revoked_at=None,
                reset_below=0,
            )
            .on_conflict_do_nothing(index_elements=[terminals.c.id])
            .returning(terminals.c.id)
        ).first()
        if created is None:
            raise ApiError(409, "terminal_exists", f"terminal {body.id!r} already exists")
        info = _load(conn, body.id)
    return TerminalCreated(**info, token=token)


@router.get("", response_model=TerminalList, summary="All terminals with their latest heartbeat")
def list_terminals(svc: ServicesDep) -> TerminalList:
    with svc.db.read() as conn:
        rows = conn.execute(terminal_query().order_by(terminals.c.id)).all()
    return TerminalList(terminals=[TerminalInfo(**terminal_info(r)) for r in rows])


@router.get("/{terminal_id}", response_model=TerminalInfo, summary="One terminal")
def get_terminal(terminal_id: TerminalId, svc: ServicesDep) -> TerminalInfo:
    with svc.db.read() as conn:
        return TerminalInfo(**_load(conn, terminal_id))


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
    with svc.db.write() as conn:
        current = _load(conn, terminal_id)
        values: dict[str, Any] = {}
        if body.description is not None:
            values["description"] = body.description
        if body.group is not None and body.group != current["group"]:
            values["group_name"] = body.group
            # Versions the terminal got before this point describe the old group.
            values["reset_below"] = next_version(conn)
        if values:
            conn.execute(sa.update(terminals).where(terminals.c.id == terminal_id).values(values))
        return TerminalInfo(**_load(conn, terminal_id))


@router.post(
    "/{terminal_id}/revoke",
    response_model=TerminalInfo,
    summary="Revoke a terminal's token",
    description="Its requests get 403 from now on, on every server process.",
)
def revoke_terminal(terminal_id: TerminalId, svc: ServicesDep) -> TerminalInfo:
    with svc.db.write() as conn:
        _load(conn, terminal_id)
        conn.execute(
            sa.update(terminals)
            .where(terminals.c.id == terminal_id, terminals.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        return TerminalInfo(**_load(conn, terminal_id))


@router.post(
    "/{terminal_id}/token",
    response_model=TerminalCreated,
    summary="Issue a new token (the old one stops working; a revoked terminal is restored)",
)
def rotate_token(terminal_id: TerminalId, svc: ServicesDep) -> TerminalCreated:
    token = new_token()
    with svc.db.write() as conn:
        _load(conn, terminal_id)
        conn.execute(
            sa.update(terminals)
            .where(terminals.c.id == terminal_id)
            .values(token_hash=hash_token(token), revoked_at=None)
        )
        info = _load(conn, terminal_id)
    return TerminalCreated(**info, token=token)
