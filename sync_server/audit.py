"""The audit trail: one row per change to attendance data, people, shifts, calendars, leave,
consent and accounts: who, when, what, and the row before and after.

Rows are only ever inserted, in the same transaction as the change they describe (a change
that rolls back leaves no audit row, an audit row that cannot be written rolls the change
back). Nothing in the product edits or deletes them, except the retention job that drops rows
older than the site keeps them (docs/operations.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from sync_server.db import audit_log

# The actor of a change made with the API's admin token: no web account can have this name
# (usernames have no spaces). The same words as review.ADMIN_TOKEN_REVIEWER.
API_ACTOR = "admin token"

# What a row is about; a new kind of change gets its word here, so filters can list them.
ENTITIES = (
    "person",
    "template",
    "consent",
    "shift",
    "group",
    "work_week",
    "day_off",
    "leave_kind",
    "leave",
    "correction",
    "event",
    "account",
)
ACTIONS = ("create", "update", "delete", "import", "void", "revoke", "withdraw", "review")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def _plain(value: Any) -> Any:
    """A JSON value for what a row holds: dates and times in ISO 8601, ids as text."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        # Never the bytes themselves (a template is biometric data): only that they changed.
        return f"<{len(value)} bytes>"
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def _json(values: Mapping[str, Any] | None) -> str | None:
    if values is None:
        return None
    return json.dumps(_plain(values), sort_keys=True, ensure_ascii=False)


def record(
    conn: Connection,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    now: datetime,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> int:
    """Write one audit row inside the caller's transaction; returns its id."""
    if entity not in ENTITIES:
        raise ValueError(f"unknown audit entity {entity!r}")
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    result = conn.execute(
        sa.insert(audit_log).values(
            at=now,
            actor=actor,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            before=_json(before),
            after=_json(after),
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def entry(row: RowMapping) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        entity=row["entity"],
        entity_id=row["entity_id"],
        before=None if row["before"] is None else json.loads(row["before"]),
        after=None if row["after"] is None else json.loads(row["after"]),
    )


def entries(
    conn: Connection,
    *,
    entity: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[AuditEntry]:
    """Newest first; ``before_id`` pages back (the id of the last row of the previous page)."""
    query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if entity is not None:
        query = query.where(audit_log.c.entity == entity)
    if entity_id is not None:
        query = query.where(audit_log.c.entity_id == entity_id)
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    if until is not None:
        query = query.where(audit_log.c.at < until)
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    return [entry(row) for row in conn.execute(query).mappings()]
