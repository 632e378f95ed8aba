"""Terminals: create with a one-time token, list, move between groups, revoke, new token.

The token is returned once, when issued; the server stores its SHA-256 only.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from edge.clock import utc_now
from sync_server.auth import hash_token, new_token
from sync_server.db import Database, heartbeats, next_version, terminals
from sync_server.domain_errors import ConflictError, TerminalNotFoundError
from sync_server.schemas import (
    HeartbeatInfo,
    TerminalCreate,
    TerminalCreated,
    TerminalInfo,
    TerminalUpdate,
)

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


def load(conn: Connection, terminal_id: str) -> dict[str, Any]:
    row = conn.execute(terminal_query().where(terminals.c.id == terminal_id)).first()
    if row is None:
        raise TerminalNotFoundError(terminal_id)
    return terminal_info(row)


def create_terminal(db: Database, body: TerminalCreate) -> TerminalCreated:
    token = new_token()
    with db.write() as conn:
        # ON CONFLICT rather than look-then-insert: two processes may create the same id.
        created = conn.execute(
            db.insert(terminals)
            .values(
                id=body.id,
                group_name=body.group,
                description=body.description,
                token_hash=hash_token(token),
                created_at=utc_now(),
                revoked_at=None,
                reset_below=0,
            )
            .on_conflict_do_nothing(index_elements=[terminals.c.id])
            .returning(terminals.c.id)
        ).first()
        if created is None:
            raise ConflictError("terminal_exists", f"terminal {body.id!r} already exists")
        info = load(conn, body.id)
    return TerminalCreated(**info, token=token)


def list_terminals(db: Database) -> list[TerminalInfo]:
    with db.read() as conn:
        rows = conn.execute(terminal_query().order_by(terminals.c.id)).all()
    return [TerminalInfo(**terminal_info(r)) for r in rows]


def get_terminal(db: Database, terminal_id: str) -> TerminalInfo:
    with db.read() as conn:
        return TerminalInfo(**load(conn, terminal_id))


def update_terminal(db: Database, terminal_id: str, body: TerminalUpdate) -> TerminalInfo:
    with db.write() as conn:
        current = load(conn, terminal_id)
        values: dict[str, Any] = {}
        if body.description is not None:
            values["description"] = body.description
        if body.group is not None and body.group != current["group"]:
            values["group_name"] = body.group
            # Versions the terminal got before this point describe the old group.
            values["reset_below"] = next_version(conn)
        if values:
            conn.execute(sa.update(terminals).where(terminals.c.id == terminal_id).values(values))
        return TerminalInfo(**load(conn, terminal_id))


def revoke_terminal(db: Database, terminal_id: str) -> TerminalInfo:
    with db.write() as conn:
        load(conn, terminal_id)
        conn.execute(
            sa.update(terminals)
            .where(terminals.c.id == terminal_id, terminals.c.revoked_at.is_(None))
            .values(revoked_at=utc_now())
        )
        return TerminalInfo(**load(conn, terminal_id))


def rotate_token(db: Database, terminal_id: str) -> TerminalCreated:
    token = new_token()
    with db.write() as conn:
        load(conn, terminal_id)
        conn.execute(
            sa.update(terminals)
            .where(terminals.c.id == terminal_id)
            .values(token_hash=hash_token(token), revoked_at=None)
        )
        info = load(conn, terminal_id)
    return TerminalCreated(**info, token=token)
