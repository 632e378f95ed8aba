"""Corrections of attendance (an added punch, a voided event) and the audit trail's readers.

Raw events from terminals are never edited or deleted. An admin's correction is its own row
in ``corrections``; the reports read events plus corrections by this contract (the SQL-level
rules, also in docs/corrections.md, "The contract the reports read"):

1. An event is **voided** when a correction with ``action = 'void'``, ``event_id`` = the
   event's id and ``revoked_at IS NULL`` exists (:func:`live_void_exists`). A voided event
   counts in no report.
2. A correction with ``action = 'add'`` and ``revoked_at IS NULL`` (:data:`LIVE_ADDS`) counts
   as an event of ``person_id``, of kind ``kind`` (in/out), at ``effective_us`` (microseconds
   since the Unix epoch, as ``events.effective_us``), marked corrected.
3. A revoked correction (``revoked_at`` set) counts for nothing.
4. The rules below keep at most one live void per event, and a void only names an existing
   event of the correction's person.

Every change writes one audit row (entity ``correction``: create for an add, void for a void,
revoke) in the change's own transaction. The API, the admin web and the CLI (through the API)
all go through this module, so the refusals are the same everywhere.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from sync_server import audit
from sync_server.catalogue import DEFAULT, N_, translations
from sync_server.db import Database, corrections, epoch_us, events, people
from sync_server.domain_errors import (
    ConflictError,
    NotFoundError,
    PersonNotFoundError,
    UnacceptableError,
)
from sync_server.reports.export import csv_cell
from sync_server.schemas.corrections import (
    REASON_MAX,
    REASON_MIN,
    AuditEntryInfo,
    AuditList,
    CorrectionAdd,
    CorrectionInfo,
    CorrectionList,
    CorrectionVoid,
    VoidedEvent,
)

# --- the contract the reports read ---------------------------------------------------------

LIVE = corrections.c.revoked_at.is_(None)
"""A correction that counts: not revoked."""

LIVE_ADDS = sa.and_(corrections.c.action == "add", LIVE)
"""Added punches that count (rule 2): each is an event of ``person_id``, ``kind``, at
``effective_us``, marked corrected."""


def live_void_exists(event_id: sa.ColumnElement[Any]) -> sa.Exists:
    """True for an event (its id column, e.g. ``events.c.id``) that a live void names
    (rule 1): the reports leave it out. ``~live_void_exists(events.c.id)`` keeps the rest."""
    return (
        sa.select(corrections.c.id)
        .where(
            corrections.c.action == "void",
            corrections.c.event_id == event_id,
            LIVE,
        )
        .exists()
    )


# An added punch this close to a stored punch of the same person and kind is the same punch.
DUPLICATE_WINDOW = timedelta(minutes=1)
_WINDOW_US = int(DUPLICATE_WINDOW.total_seconds() * 1_000_000)
PAGE_SIZE = 100
CSV_PAGE = 1000


# --- checks -------------------------------------------------------------------------------------


def check_reason(reason: str) -> str:
    """The reason, stripped; refused when shorter than 3 or longer than 500 characters."""
    text = reason.strip()
    if not REASON_MIN <= len(text) <= REASON_MAX:
        raise UnacceptableError(
            "bad_reason",
            f"a reason of {REASON_MIN} to {REASON_MAX} characters is required (got {len(text)})",
        )
    return text


def wall_time(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock date and time in the site zone.

    A time the clocks skip (the hour lost when daylight saving starts) does not exist and is
    refused; a repeated time (the hour when it ends) is its first pass.
    """
    local = datetime.combine(day, clock.replace(tzinfo=None, microsecond=0), tz)
    at = local.astimezone(UTC)
    back = at.astimezone(tz)
    if (back.date(), back.time()) != (day, local.time()):
        raise UnacceptableError(
            "no_such_time",
            f"{day.isoformat()} {clock.strftime('%H:%M')} does not exist in {tz.key} "
            "(the clocks skip it)",
        )
    return at


def _require_person(conn: Connection, person_id: str) -> str:
    # FOR UPDATE (PostgreSQL; SQLite's write transaction holds the whole database): two
    # admins adding the same punch at once take turns, so the second one sees the first.
    row = conn.execute(
        sa.select(people.c.name).where(people.c.id == person_id).with_for_update()
    ).first()
    if row is None:
        raise PersonNotFoundError(person_id)
    return str(row.name)


def _local_text(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def _refuse_duplicate_add(
    conn: Connection, person_id: str, kind: str, at_us: int, tz: ZoneInfo
) -> None:
    lo, hi = at_us - _WINDOW_US, at_us + _WINDOW_US
    event = conn.execute(
        sa.select(events.c.id, events.c.corrected_time, events.c.device_id)
        .where(
            events.c.person_id == person_id,
            events.c.kind == kind,
            events.c.effective_us.between(lo, hi),
            ~live_void_exists(events.c.id),
        )
        .order_by(events.c.effective_us)
        .limit(1)
    ).first()
    if event is not None:
        raise ConflictError(
            "duplicate_event",
            f"{person_id} already has a check-{kind} at "
            f"{_local_text(event.corrected_time, tz)} (event {event.id} from "
            f"{event.device_id}), within a minute of this one",
        )
    added = conn.execute(
        sa.select(corrections.c.id, corrections.c.at)
        .where(
            LIVE_ADDS,
            corrections.c.person_id == person_id,
            corrections.c.kind == kind,
            corrections.c.effective_us.between(lo, hi),
        )
        .order_by(corrections.c.id)
        .limit(1)
    ).first()
    if added is not None:
        raise ConflictError(
            "duplicate_correction",
            f"{person_id} already has an added check-{kind} at "
            f"{_local_text(added.at, tz)} (correction {added.id}), within a minute of this one",
        )


# --- changes ------------------------------------------------------------------------------------


def _row_values(row: RowMapping) -> dict[str, Any]:
    """A correction as its audit rows show it (the table's columns, no joins)."""
    return {c.name: row[c.name] for c in corrections.columns if c.name != "id"}


def _event_values(row: Any) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "at": row.corrected_time,
        "device_id": row.device_id,
    }


def add_punch(
    db: Database, body: CorrectionAdd, *, tz: ZoneInfo, actor: str, now: datetime
) -> CorrectionInfo:
    """Add a missing check-in or check-out (``body.day``/``body.time`` on the site's clock).

    Refused: an unknown person (404), a time after ``now`` (422 future_time), a stored punch
    or a live added punch of the same kind within a minute (409 duplicate_event /
    duplicate_correction, naming it), a reason of the wrong length (422 bad_reason).
    """
    reason = check_reason(body.reason)
    at = wall_time(body.day, body.time, tz)
    if at > now:
        raise UnacceptableError(
            "future_time",
            f"{_local_text(at, tz)} is in the future (now {_local_text(now, tz)}, {tz.key}): "
            "only a punch that was missed can be added",
        )
    at_us = epoch_us(at)
    with db.write() as conn:
        _require_person(conn, body.person_id)
        _refuse_duplicate_add(conn, body.person_id, body.kind, at_us, tz)
        values = {
            "person_id": body.person_id,
            "action": "add",
            "kind": body.kind,
            "at": at,
            "effective_us": at_us,
            "event_id": None,
            "reason": reason,
            "created_at": now,
            "created_by": actor,
            "revoked_at": None,
            "revoked_by": None,
        }
        return _store(conn, values, action="create", after=values, actor=actor, now=now, tz=tz)


def void_event(
    db: Database, body: CorrectionVoid, *, tz: ZoneInfo, actor: str, now: datetime
) -> CorrectionInfo:
    """Void a wrong event; the event itself is not touched.

    Refused: an unknown event (404 unknown_event), an event of another person than
    ``body.person_id`` (409 other_person), an event a live void names already (409
    already_voided, naming the correction), a reason of the wrong length (422 bad_reason).
    """
    reason = check_reason(body.reason)
    with db.write() as conn:
        # FOR UPDATE (PostgreSQL): two voids of one event take turns, so at most one is live.
        # The lock only orders writers; the event row is never changed.
        event = conn.execute(
            sa.select(
                events.c.id,
                events.c.person_id,
                events.c.kind,
                events.c.corrected_time,
                events.c.device_id,
            )
            .where(events.c.id == body.event_id)
            .with_for_update()
        ).first()
        if event is None:
            raise NotFoundError("unknown_event", f"no event {body.event_id}")
        if body.person_id is not None and event.person_id != body.person_id:
            raise ConflictError(
                "other_person",
                f"event {body.event_id} is {event.person_id}'s, not {body.person_id}'s",
            )
        earlier = conn.execute(
            sa.select(corrections.c.id, corrections.c.created_by).where(
                corrections.c.action == "void", corrections.c.event_id == event.id, LIVE
            )
        ).first()
        if earlier is not None:
            raise ConflictError(
                "already_voided",
                f"event {event.id} is voided already (correction {earlier.id} by "
                f"{earlier.created_by}); revoke that one first to void it again",
            )
        values = {
            "person_id": event.person_id,
            "action": "void",
            "kind": None,
            "at": None,
            "effective_us": None,
            "event_id": event.id,
            "reason": reason,
            "created_at": now,
            "created_by": actor,
            "revoked_at": None,
            "revoked_by": None,
        }
        after = {**values, "event": _event_values(event)}
        return _store(conn, values, action="void", after=after, actor=actor, now=now, tz=tz)


def _store(
    conn: Connection,
    values: dict[str, Any],
    *,
    action: str,
    after: dict[str, Any],
    actor: str,
    now: datetime,
    tz: ZoneInfo,
) -> CorrectionInfo:
    """Insert a correction and its audit row in the caller's transaction."""
    correction_id = int(
        conn.execute(sa.insert(corrections).values(values).returning(corrections.c.id)).scalar_one()
    )
    audit.record(
        conn,
        actor=actor,
        action=action,
        entity="correction",
        entity_id=str(correction_id),
        now=now,
        after=after,
    )
    return load(conn, correction_id, tz)


def revoke(
    db: Database,
    correction_id: int,
    reason: str,
    *,
    tz: ZoneInfo,
    actor: str,
    now: datetime,
) -> CorrectionInfo:
    """Revoke a correction: from now on it counts for nothing; it stays listed. The reason
    goes into the audit row. Refused: unknown (404 unknown_correction), revoked already (409
    already_revoked)."""
    text = check_reason(reason)
    with db.write() as conn:
        row = conn.execute(
            sa.select(corrections).where(corrections.c.id == correction_id).with_for_update()
        ).first()
        if row is None:
            raise NotFoundError("unknown_correction", f"no correction {correction_id}")
        if row.revoked_at is not None:
            raise ConflictError(
                "already_revoked",
                f"correction {correction_id} was revoked by {row.revoked_by} at "
                f"{_local_text(row.revoked_at, tz)}",
            )
        conn.execute(
            sa.update(corrections)
            .where(corrections.c.id == correction_id, LIVE)
            .values(revoked_at=now, revoked_by=actor)
        )
        before = _row_values(row._mapping)
        audit.record(
            conn,
            actor=actor,
            action="revoke",
            entity="correction",
            entity_id=str(correction_id),
            now=now,
            before=before,
            after={**before, "revoked_at": now, "revoked_by": actor, "revoke_reason": text},
        )
        return load(conn, correction_id, tz)


# --- reading ------------------------------------------------------------------------------------


def _list_query() -> sa.Select[Any]:
    voided = events.alias("voided")
    return sa.select(
        corrections,
        people.c.name.label("person_name"),
        voided.c.kind.label("event_kind"),
        voided.c.corrected_time.label("event_at"),
        voided.c.device_id.label("event_device"),
        voided.c.effective_us.label("event_us"),
    ).select_from(
        corrections.outerjoin(people, people.c.id == corrections.c.person_id).outerjoin(
            voided, voided.c.id == corrections.c.event_id
        )
    )


def _info(row: RowMapping, tz: ZoneInfo) -> CorrectionInfo:
    def zoned(value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(tz)

    event = None
    if row["event_id"] is not None and row["event_at"] is not None:
        event = VoidedEvent(
            id=row["event_id"],
            kind=row["event_kind"],
            at=row["event_at"].astimezone(tz),
            device_id=row["event_device"],
        )
    return CorrectionInfo(
        id=row["id"],
        person_id=row["person_id"],
        person_name=row["person_name"],
        action=row["action"],
        kind=row["kind"],
        at=zoned(row["at"]),
        event=event,
        reason=row["reason"],
        created_at=row["created_at"].astimezone(tz),
        created_by=row["created_by"],
        revoked_at=zoned(row["revoked_at"]),
        revoked_by=row["revoked_by"],
        live=row["revoked_at"] is None,
    )


def load(conn: Connection, correction_id: int, tz: ZoneInfo) -> CorrectionInfo:
    row = conn.execute(_list_query().where(corrections.c.id == correction_id)).first()
    if row is None:
        raise NotFoundError("unknown_correction", f"no correction {correction_id}")
    return _info(row._mapping, tz)


def day_bounds(first: date | None, last: date | None, tz: ZoneInfo) -> tuple[Any, Any]:
    """Calendar days ``first..last`` (both included) on the site's clock, as UTC instants
    (None where open)."""
    if first is not None and last is not None and last < first:
        raise UnacceptableError("bad_range", "'to' is before 'from'")
    lo = None if first is None else datetime.combine(first, time(), tz)
    hi = None if last is None else datetime.combine(last + timedelta(days=1), time(), tz)
    return lo, hi


def list_corrections(
    conn: Connection,
    *,
    tz: ZoneInfo,
    person_id: str | None = None,
    first: date | None = None,
    last: date | None = None,
    include_revoked: bool = True,
    limit: int = PAGE_SIZE,
    before_id: int | None = None,
) -> CorrectionList:
    """Corrections, newest first. ``first``/``last``: calendar days (site zone) of the
    punch added, or of the event voided."""
    query = _list_query().order_by(corrections.c.id.desc()).limit(limit + 1)
    if person_id is not None:
        query = query.where(corrections.c.person_id == person_id)
    if not include_revoked:
        query = query.where(LIVE)
    if before_id is not None:
        query = query.where(corrections.c.id < before_id)
    lo, hi = day_bounds(first, last, tz)
    when = sa.func.coalesce(corrections.c.effective_us, query.selected_columns.event_us)
    if lo is not None:
        query = query.where(when >= epoch_us(lo))
    if hi is not None:
        query = query.where(when < epoch_us(hi))
    rows = conn.execute(query).all()
    found = [_info(r._mapping, tz) for r in rows[:limit]]
    more = len(rows) > limit
    return CorrectionList(corrections=found, next_before_id=found[-1].id if more else None)


@dataclass(frozen=True, slots=True)
class DayPunch:
    """A punch of a person's day as the correction page lists it: a terminal's event (with
    whether a live void names it) or an added punch."""

    at: datetime
    kind: str
    event_id: UUID | None
    device_id: str | None
    voided_by: int | None
    correction_id: int | None
    reason: str | None


def day_punches(conn: Connection, person_id: str, day: date, tz: ZoneInfo) -> list[DayPunch]:
    """The events and live added punches of a person's calendar day (site zone), in time
    order, each event with the live void that names it, if any."""
    lo, hi = day_bounds(day, day, tz)
    lo_us, hi_us = epoch_us(lo), epoch_us(hi)
    void = corrections.alias("void")
    stored = conn.execute(
        sa.select(
            events.c.id,
            events.c.kind,
            events.c.corrected_time,
            events.c.device_id,
            void.c.id.label("voided_by"),
        )
        .select_from(
            events.outerjoin(
                void,
                sa.and_(
                    void.c.event_id == events.c.id,
                    void.c.action == "void",
                    void.c.revoked_at.is_(None),
                ),
            )
        )
        .where(
            events.c.person_id == person_id,
            events.c.effective_us >= lo_us,
            events.c.effective_us < hi_us,
        )
    ).all()
    added = conn.execute(
        sa.select(
            corrections.c.id, corrections.c.kind, corrections.c.at, corrections.c.reason
        ).where(
            LIVE_ADDS,
            corrections.c.person_id == person_id,
            corrections.c.effective_us >= lo_us,
            corrections.c.effective_us < hi_us,
        )
    ).all()
    punches = [
        DayPunch(r.corrected_time, r.kind, r.id, r.device_id, r.voided_by, None, None)
        for r in stored
    ] + [DayPunch(r.at, r.kind, None, None, None, r.id, r.reason) for r in added]
    return sorted(punches, key=lambda p: (p.at, p.kind))


# --- the audit trail ----------------------------------------------------------------------------


def check_entity(entity: str | None) -> str | None:
    if entity is not None and entity not in audit.ENTITIES:
        raise UnacceptableError(
            "unknown_entity", f"entity {entity!r} is not one of {', '.join(audit.ENTITIES)}"
        )
    return entity


def audit_info(entry: audit.AuditEntry, tz: ZoneInfo) -> AuditEntryInfo:
    return AuditEntryInfo(
        id=entry.id,
        at=entry.at.astimezone(tz),
        actor=entry.actor,
        action=entry.action,
        entity=entry.entity,
        entity_id=entry.entity_id,
        before=entry.before,
        after=entry.after,
    )


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What the audit page, API and CSV filter on; days on the site's clock."""

    entity: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    first: date | None = None
    last: date | None = None

    def entries(
        self, conn: Connection, tz: ZoneInfo, limit: int, before_id: int | None
    ) -> list[audit.AuditEntry]:
        check_entity(self.entity)
        since, until = day_bounds(self.first, self.last, tz)
        return audit.entries(
            conn,
            entity=self.entity,
            entity_id=self.entity_id,
            actor=self.actor,
            since=since,
            until=until,
            limit=limit,
            before_id=before_id,
        )


def audit_page(
    conn: Connection,
    where: AuditFilter,
    *,
    tz: ZoneInfo,
    limit: int = PAGE_SIZE,
    before_id: int | None = None,
) -> AuditList:
    """A page of audit rows, newest first, and the id to ask the next (older) page with."""
    found = where.entries(conn, tz, limit + 1, before_id)
    shown = found[:limit]
    more = len(found) > limit
    return AuditList(
        entries=[audit_info(e, tz) for e in shown],
        next_before_id=shown[-1].id if more else None,
    )


# The header's words, translated for a reader of another language (the cells stay codes, ISO
# times and JSON in every language, so a file is read the same way whatever its header says).
AUDIT_COLUMNS = (
    N_("id"),
    N_("at"),
    N_("actor"),
    N_("action"),
    N_("entity"),
    N_("entity_id"),
    N_("before"),
    N_("after"),
)


def _json_text(values: Mapping[str, Any] | None) -> str:
    return "" if values is None else json.dumps(values, sort_keys=True, ensure_ascii=False)


def audit_csv(
    db: Database, where: AuditFilter, *, tz: ZoneInfo, locale: str = DEFAULT
) -> Iterator[str]:
    """The audit rows the filter selects as CSV (RFC 4180, CRLF, header first), newest first,
    in chunks: one short read transaction per 1,000 rows, so a long download holds no
    transaction open. ``at`` is ISO 8601 with the site's offset; ``before``/``after`` JSON.
    Admins' text (actor, entity id) that a spreadsheet would run as a formula starts with '.
    The header is in ``locale``'s words (English: the column names as always)."""
    check_entity(where.entity)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if locale == DEFAULT:
        writer.writerow(AUDIT_COLUMNS)
    else:
        writer.writerow([translations(locale).gettext(column) for column in AUDIT_COLUMNS])
    before_id: int | None = None
    while True:
        with db.read() as conn:
            page = where.entries(conn, tz, CSV_PAGE, before_id)
        for e in page:
            writer.writerow(
                (
                    e.id,
                    e.at.astimezone(tz).isoformat(),
                    csv_cell(e.actor),
                    e.action,
                    e.entity,
                    csv_cell(e.entity_id),
                    _json_text(e.before),
                    _json_text(e.after),
                )
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(page) < CSV_PAGE:
            return
        before_id = page[-1].id


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of an audit row's before/after, as the audit page shows it."""

    name: str
    before: str
    after: str
    changed: bool


# An instant as audit.record writes it (datetime.isoformat() of an aware UTC time).
_UTC_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00")


def _shown(value: Any, tz: ZoneInfo | None) -> str:
    """A field's value for a reader: text as it is, an instant on the site's clock, other
    values as JSON; nothing for null."""
    if value is None:
        return ""
    if isinstance(value, str):
        if tz is not None and _UTC_INSTANT.fullmatch(value):
            return datetime.fromisoformat(value).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def field_changes(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    tz: ZoneInfo | None = None,
) -> list[FieldChange]:
    """Every field of either side that holds something, in name order, each marked changed
    when the two sides differ (a creation's fields are all changed, as are a deletion's).
    With ``tz``, instants show on the site's clock (the row keeps UTC)."""
    old = before or {}
    new = after or {}
    names: Sequence[str] = sorted(set(old) | set(new))
    return [
        FieldChange(
            name=name,
            before=_shown(old.get(name), tz),
            after=_shown(new.get(name), tz),
            changed=(name in old) != (name in new) or old.get(name) != new.get(name),
        )
        for name in names
        # A field null on both sides (an add's event_id) says nothing.
        if old.get(name) is not None or new.get(name) is not None
    ]
