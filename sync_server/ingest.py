"""Batch ingest of attendance events: idempotent by event id, every id answered.

One write transaction per batch: ``INSERT ... ON CONFLICT (id) DO NOTHING
RETURNING id`` for the whole batch says which ids are new (accepted); every other
id already existed and is a duplicate when the same terminal sent the same event
before, a conflict when it sent other content under that id, or rejected
(``id_conflict``) when another terminal owns it. Rejected and conflicting events
are stored in ``rejected_events`` with their payload for an admin to see; old
ones are pruned after ``retention_days`` (:func:`prune_expired`).
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from edge.protocol import (
    AttendanceEvent,
    BatchResult,
    EventBatch,
    EventResult,
    EventStatus,
    LivenessEvidence,
)
from sync_server.db import Database, clock_refs, epoch_us, events, people, rejected_events
from sync_server.reports import person_days
from sync_server.timefix import ClockRef, batch_ref, correct, merge_refs, needs_stored_refs


class Reason:
    """Stable reject reasons (docs/protocol.md)."""

    ID_CONFLICT = "id_conflict"
    FUTURE_TIME = "future_time"
    # With status conflict: the terminal sent this id before with other content.
    CONTENT_DIFFERS = "content_differs"


@dataclass(frozen=True, slots=True)
class _Rejection:
    event: AttendanceEvent
    reason: str
    detail: str
    status: EventStatus = EventStatus.REJECTED


# What makes two events with one id the same event (the id and device are already equal).
_CONTENT = (
    "person_id",
    "kind",
    "wall_time",
    "clock_synced",
    "monotonic",
    "boot_id",
    "distance",
    "margin",
)


# The liveness evidence is content too: a terminal that sends an event again sends it as
# recorded, so other evidence under one id is another event, not a repeat.
_LIVENESS = ("liveness_score", "liveness_passed", "liveness_reasons")


def liveness_columns(evidence: LivenessEvidence | None) -> dict[str, Any]:
    """The events columns of a terminal's liveness evidence; all null without one."""
    if evidence is None:
        return dict.fromkeys(_LIVENESS)
    return {
        "liveness_score": evidence.score,
        "liveness_passed": evidence.passed,
        "liveness_reasons": ",".join(evidence.reasons),
    }


def _content(item: Any) -> tuple[Any, ...]:
    """What to compare of an event as sent, or of a stored row (its columns)."""
    values = tuple(getattr(item, name) for name in _CONTENT)
    kind = values[1]
    if isinstance(item, AttendanceEvent):
        liveness = tuple(liveness_columns(item.liveness).values())
    else:
        liveness = tuple(getattr(item, name) for name in _LIVENESS)
    return (values[0], getattr(kind, "value", kind), *values[2:], *liveness)


def _differs(event: AttendanceEvent) -> _Rejection:
    return _Rejection(
        event,
        Reason.CONTENT_DIFFERS,
        "this event id was sent before with other content; the first content stands",
        EventStatus.CONFLICT,
    )


def ingest_batch(
    db: Database,
    batch: EventBatch,
    received_at: datetime,
    *,
    max_future_skew_s: float,
    group: str | None = None,
) -> tuple[BatchResult, Counter[EventStatus]]:
    """Store a batch whose sender is already checked; answer per event id, in order.

    ``group`` is the sending terminal's: an event for a known person of another group is
    stored flagged ``other_group``; ``None`` skips that check.
    """
    unique: dict[UUID, AttendanceEvent] = {}
    # A later copy of an id in the same batch with other content: answered conflict, kept.
    repeats: list[_Rejection] = []
    for event in batch.events:
        first = unique.setdefault(event.id, event)
        if first is not event and _content(first) != _content(event):
            repeats.append(_differs(event))
    latest_allowed = received_at + timedelta(seconds=max_future_skew_s)
    status: dict[UUID, EventResult] = {}
    with db.write() as conn:
        stored = _stored_refs(conn, batch) if needs_stored_refs(batch) else {}
        refs = merge_refs(stored, (batch.boot_id, batch_ref(batch, received_at)))
        known = _known_people(db, conn, {e.person_id for e in unique.values()})
        rows: list[dict[str, Any]] = []
        rejections: list[_Rejection] = []
        for event in unique.values():
            home = known.get(event.person_id)
            corrected, source = correct(event, refs)
            if corrected > latest_allowed:
                rejections.append(
                    _Rejection(
                        event,
                        Reason.FUTURE_TIME,
                        f"event time {corrected.isoformat()} ({source}) is ahead of the server "
                        f"clock {received_at.isoformat()}",
                    )
                )
                continue
            rows.append(
                {
                    "id": event.id,
                    "device_id": event.device_id,
                    "person_id": event.person_id,
                    "kind": event.kind.value,
                    "wall_time": event.wall_time,
                    "clock_synced": event.clock_synced,
                    "monotonic": event.monotonic,
                    "boot_id": event.boot_id,
                    "distance": event.distance,
                    "margin": event.margin,
                    "corrected_time": corrected,
                    "effective_us": epoch_us(corrected),
                    "time_source": source.value,
                    "received_at": received_at,
                    "person_known": home is not None,
                    "other_group": group is not None and home is not None and home != group,
                    **liveness_columns(event.liveness),
                    "reviewed_at": None,
                    "reviewed_by": None,
                }
            )
        inserted = _insert_new(db, conn, rows)
        # The reports' per-day rows follow the events in the same transaction.
        person_days.record(
            conn,
            [(r["person_id"], r["effective_us"], r["kind"]) for r in rows if r["id"] in inserted],
        )
        for event_id in inserted:
            status[event_id] = EventResult(id=event_id, status=EventStatus.ACCEPTED)
        existing = [r["id"] for r in rows if r["id"] not in inserted]
        if existing:
            found = {
                row.id: row
                for row in conn.execute(
                    sa.select(
                        events.c.id,
                        events.c.device_id,
                        *(events.c[n] for n in _CONTENT + _LIVENESS),
                    ).where(one_of(db, events.c.id, existing))
                )
            }
            for event_id in existing:
                row = found.get(event_id)
                owner = None if row is None else row.device_id
                if row is not None and owner == batch.device_id:
                    if _content(row) == _content(unique[event_id]):
                        status[event_id] = EventResult(id=event_id, status=EventStatus.DUPLICATE)
                    else:
                        rejections.append(_differs(unique[event_id]))
                else:
                    rejections.append(
                        _Rejection(
                            unique[event_id],
                            Reason.ID_CONFLICT,
                            f"event id already recorded by terminal {owner}",
                        )
                    )
        for rejection in rejections:
            status[rejection.event.id] = EventResult(
                id=rejection.event.id,
                status=rejection.status,
                reason=rejection.reason,
            )
        if rejections or repeats:
            _store_rejections(db, conn, batch.device_id, rejections + repeats, received_at)
        remember_ref(db, conn, batch.device_id, batch.boot_id, refs[batch.boot_id], received_at)

    # Answer every id in request order; a repeat of an id inside the batch is a duplicate,
    # or a conflict when its content differs from the first.
    results: list[EventResult] = []
    counts: Counter[EventStatus] = Counter()
    seen: set[UUID] = set()
    # The in-batch repeats with other content were found above: the same objects, not again.
    conflicting = {id(r.event) for r in repeats}
    for event in batch.events:
        result = status[event.id]
        if id(event) in conflicting:
            result = EventResult(
                id=event.id, status=EventStatus.CONFLICT, reason=Reason.CONTENT_DIFFERS
            )
        elif event.id in seen and result.status is EventStatus.ACCEPTED:
            result = EventResult(id=event.id, status=EventStatus.DUPLICATE)
        seen.add(event.id)
        counts[result.status] += 1
        results.append(result)
    return BatchResult(results=results, server_time=received_at), counts


def _insert_new(db: Database, conn: Connection, rows: list[dict[str, Any]]) -> set[UUID]:
    """Insert the rows whose id is new; return those ids."""
    if not rows:
        return set()
    if db.dialect == "postgresql":
        columns = {name: [row[name] for row in rows] for name in _EVENT_COLUMNS}
        return set(conn.execute(_pg_insert_events(), columns).scalars())
    stmt = (
        db.insert(events)
        .on_conflict_do_nothing(index_elements=[events.c.id])
        .returning(events.c.id)
    )
    return set(conn.execute(stmt, rows).scalars())


_EVENT_COLUMNS = [c.name for c in events.c]


@functools.cache
def _pg_insert_events() -> sa.TextualSelect:
    # One parameter per column, each an array of the batch's values: a short statement
    # PostgreSQL parses once, instead of a 7,000-placeholder VALUES list that psycopg
    # would rewrite in Python for every batch (that rewrite capped ingest at ~7,000/s).
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    arrays = ", ".join(f"CAST(:{c.name} AS {c.type.compile(dialect=dialect)}[])" for c in events.c)
    names = ", ".join(_EVENT_COLUMNS)
    return sa.text(
        f"INSERT INTO events ({names}) SELECT * FROM unnest({arrays}) "
        "ON CONFLICT (id) DO NOTHING RETURNING id"
    ).columns(events.c.id)


def one_of(db: Database, column: sa.ColumnElement[Any], values: Iterable[Any]) -> Any:
    """``column IN values``; on PostgreSQL one array parameter instead of one per value."""
    values = list(values)
    if db.dialect == "postgresql":
        return column == sa.any_(sa.bindparam(None, values, type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def _known_people(db: Database, conn: Connection, person_ids: set[str]) -> dict[str, str]:
    """The group of every person the server knows among these."""
    if not person_ids:
        return {}
    query = sa.select(people.c.id, people.c.group_name).where(one_of(db, people.c.id, person_ids))
    return {row.id: row.group_name for row in conn.execute(query)}


def _stored_refs(conn: Connection, batch: EventBatch) -> dict[str, ClockRef]:
    boots = {e.boot_id for e in batch.events if not e.clock_synced}
    rows = conn.execute(
        sa.select(
            clock_refs.c.boot_id,
            clock_refs.c.ref_wall,
            clock_refs.c.ref_monotonic,
            clock_refs.c.synced,
        ).where(clock_refs.c.device_id == batch.device_id, clock_refs.c.boot_id.in_(boots))
    )
    return {r.boot_id: ClockRef(r.ref_wall, r.ref_monotonic, r.synced) for r in rows}


def remember_ref(
    db: Database, conn: Connection, device_id: str, boot_id: str, ref: ClockRef, now: datetime
) -> None:
    """Keep the best reference per boot: a synchronised reading is never replaced by server
    time, so events of that boot arriving later (after a reboot) still get the precise fix."""
    stmt = db.insert(clock_refs).values(
        device_id=device_id,
        boot_id=boot_id,
        ref_wall=ref.wall,
        ref_monotonic=ref.monotonic,
        synced=ref.synced,
        updated_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[clock_refs.c.device_id, clock_refs.c.boot_id],
        set_={
            "ref_wall": stmt.excluded.ref_wall,
            "ref_monotonic": stmt.excluded.ref_monotonic,
            "synced": stmt.excluded.synced,
            "updated_at": stmt.excluded.updated_at,
        },
        where=sa.or_(stmt.excluded.synced, sa.not_(clock_refs.c.synced)),
    )
    conn.execute(stmt)


def _store_rejections(
    db: Database,
    conn: Connection,
    device_id: str,
    rejections: list[_Rejection],
    received_at: datetime,
) -> None:
    stmt = db.insert(rejected_events).on_conflict_do_nothing(
        index_elements=[
            rejected_events.c.event_id,
            rejected_events.c.device_id,
            rejected_events.c.reason,
        ]
    )
    conn.execute(
        stmt,
        [
            {
                "event_id": r.event.id,
                "device_id": device_id,
                "reason": r.reason,
                "detail": r.detail[:500],
                "payload": json.dumps(r.event.model_dump(mode="json"), sort_keys=True),
                "received_at": received_at,
            }
            for r in rejections
        ],
    )


def prune_expired(db: Database, now: datetime, retention_days: float) -> tuple[int, int]:
    """Delete clock references of boots not heard from, and rejected events received, more
    than ``retention_days`` ago; returns how many of each. Both tables would otherwise grow
    with every boot and every refused event, for ever."""
    cutoff = now - timedelta(days=retention_days)
    with db.write() as conn:
        refs = conn.execute(sa.delete(clock_refs).where(clock_refs.c.updated_at < cutoff))
        refused = conn.execute(
            sa.delete(rejected_events).where(rejected_events.c.received_at < cutoff)
        )
        return refs.rowcount, refused.rowcount
