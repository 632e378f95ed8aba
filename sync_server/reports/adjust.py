"""What the reports read besides the terminals' events: leave, and the admins' corrections
(docs/corrections.md has the contract), and the per-day arithmetic in Python for the few
people they touch.

The bulk of a report is SQL over ``events`` (the covering index). People with a live
correction in the report's range (an added punch, or a voided event) are recomputed here from
their events plus corrections, with the same rules as the SQL (first in, last out, day number
``(effective_us + offset - anchor) // DAY``): corrections are a handful among hundreds of
thousands of events, so patching those people costs a query, not a slower scan for everyone.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_server.db import corrections, events, leave_kinds, leaves
from sync_server.reports.timebase import DAY_US, Offsets, sql_int


@dataclass(frozen=True, slots=True)
class LeaveKind:
    code: str
    label_en: str
    label_id: str


@dataclass(frozen=True, slots=True)
class Correction:
    """A live correction as the reports show it: an added punch, or a voided event."""

    id: int
    person_id: str
    action: str  # add | void
    kind: str  # in | out (void: the voided event's kind)
    effective_us: int  # the punch's time (void: the voided event's)
    reason: str
    created_by: str
    event_id: str | None = None  # void: the voided event


# One punch as a report counts it: (effective_us, kind "in"/"out", added by an admin). Plain
# tuples: a month builds tens of thousands for the people it counts in Python.
Punch = tuple[int, str, bool]


@dataclass(slots=True)
class PunchDay:
    """One person's shift day from their punches: what the SQL aggregates compute."""

    first_in: int | None = None
    first_in_added: bool = False
    last_out: int | None = None
    last_out_added: bool = False
    last_in: int | None = None
    count: int = 0

    def add(self, at: int, kind: str, added: bool) -> None:
        self.count += 1
        if kind == "in":
            if self.first_in is None or at < self.first_in:
                self.first_in, self.first_in_added = at, added
            if self.last_in is None or at > self.last_in:
                self.last_in = at
        elif kind == "out" and (self.last_out is None or at > self.last_out):
            self.last_out, self.last_out_added = at, added

    @property
    def complete(self) -> bool:
        return (
            self.first_in is not None
            and self.last_out is not None
            and self.last_out > self.first_in
        )


@dataclass(slots=True)
class Adjustments:
    """Live corrections over a UTC range, by person."""

    by_person: dict[str, list[Correction]] = field(default_factory=lambda: defaultdict(list))

    @property
    def people(self) -> set[str]:
        return set(self.by_person)

    def punches(self, person_id: str, counted: Iterable[tuple[int, str]]) -> list[Punch]:
        """A person's punches: their counted events (:func:`raw_events`, voids already left
        out) plus the punches an admin added."""
        punches: list[Punch] = [(eu, kind, False) for eu, kind in counted]
        punches.extend(
            (c.effective_us, c.kind, True)
            for c in self.by_person.get(person_id, [])
            if c.action == "add"
        )
        return punches


def load_corrections(conn: Connection, lo_us: int, hi_us: int) -> Adjustments:
    """Live (not revoked) corrections whose punch falls in ``[lo_us, hi_us)``: added punches
    at that time, voids of events at that time."""
    found = Adjustments()
    live = corrections.c.revoked_at.is_(None)
    added = conn.execute(
        sa.select(
            corrections.c.id,
            corrections.c.person_id,
            corrections.c.kind,
            corrections.c.effective_us,
            corrections.c.reason,
            corrections.c.created_by,
        )
        .where(
            corrections.c.action == "add",
            live,
            corrections.c.effective_us >= sql_int(lo_us),
            corrections.c.effective_us < sql_int(hi_us),
        )
        .order_by(corrections.c.id)
    )
    for row in added:
        found.by_person[row.person_id].append(
            Correction(
                row.id,
                row.person_id,
                "add",
                row.kind,
                int(row.effective_us),
                row.reason,
                row.created_by,
            )
        )
    voided = conn.execute(
        sa.select(
            corrections.c.id,
            events.c.person_id,
            events.c.kind,
            events.c.effective_us,
            corrections.c.reason,
            corrections.c.created_by,
            events.c.id.label("event_id"),
        )
        .select_from(corrections.join(events, events.c.id == corrections.c.event_id))
        .where(
            corrections.c.action == "void",
            live,
            events.c.effective_us >= sql_int(lo_us),
            events.c.effective_us < sql_int(hi_us),
        )
        .order_by(corrections.c.id)
    )
    for void in voided:
        found.by_person[void.person_id].append(
            Correction(
                void.id,
                void.person_id,
                "void",
                void.kind,
                int(void.effective_us),
                void.reason,
                void.created_by,
                str(void.event_id),
            )
        )
    return found


def raw_events(
    conn: Connection,
    people_ids: Iterable[str],
    lo_us: int,
    hi_us: int,
    *,
    voids: Adjustments | None = None,
) -> dict[str, list[tuple[int, str]]]:
    """The counted events of a few people in ``[lo_us, hi_us)``: (effective_us, kind), the
    voided ones left out.

    ``voids``: the live corrections of the same range (:func:`load_corrections`), whose voids
    are then taken out here instead of by SQL. Without them, a ``NOT IN`` on the event id
    reads every event's table row beside the covering index (a month: 5,000 rows for 100
    people, most of the query)."""
    wanted = sorted(set(people_ids))
    voided = sa.select(corrections.c.event_id).where(
        corrections.c.action == "void",
        corrections.c.revoked_at.is_(None),
        corrections.c.event_id.is_not(None),
    )
    found: dict[str, list[tuple[int, str]]] = defaultdict(list)
    # Chunks: SQLite caps bound parameters per statement.
    for start in range(0, len(wanted), 500):
        query = (
            sa.select(events.c.person_id, events.c.effective_us, events.c.kind)
            .where(
                events.c.person_id.in_(wanted[start : start + 500]),
                events.c.effective_us >= sql_int(lo_us),
                events.c.effective_us < sql_int(hi_us),
            )
            .order_by(events.c.person_id, events.c.effective_us)
        )
        if voids is None:
            query = query.where(events.c.id.not_in(voided))
        for person_id, eu, kind in conn.execute(query):
            found[person_id].append((int(eu), kind))
    if voids is not None:
        for person_id, fixes in voids.by_person.items():
            if person_id in found:
                found[person_id] = _without_voided(found[person_id], fixes)
    return found


def _without_voided(
    counted: list[tuple[int, str]], fixes: Iterable[Correction]
) -> list[tuple[int, str]]:
    """A person's events less their voided ones. A void names one event; the events are
    (time, kind) pairs here, so each voided event takes out one pair equal to it: the same
    pairs remain as when SQL leaves out the event ids (two identical events, one voided: the
    other stays)."""
    by_event = {c.event_id: (c.effective_us, c.kind) for c in fixes if c.action == "void"}
    if not by_event:
        return counted
    left = Counter(by_event.values())
    kept = []
    for punch in counted:
        if left[punch] > 0:
            left[punch] -= 1
        else:
            kept.append(punch)
    return kept


def punch_days(punches: Iterable[Punch], offsets: Offsets, anchor_us: int) -> dict[int, PunchDay]:
    """Punches by shift-day number, as the SQL's ``local_day`` counts them."""
    days: dict[int, PunchDay] = {}
    starts, values = offsets.starts, offsets.values
    constant = values[0] if len(values) == 1 else None
    for at, kind, added in punches:
        if constant is None:
            offset = values[max(0, bisect.bisect_right(starts, at) - 1)]
        else:
            offset = constant
        number = (at + offset - anchor_us) // DAY_US
        day = days.get(number)
        if day is None:
            day = days[number] = PunchDay()
        day.add(at, kind, added)
    return days


def load_leave_kinds(conn: Connection) -> dict[str, LeaveKind]:
    rows = conn.execute(
        sa.select(leave_kinds.c.code, leave_kinds.c.label_en, leave_kinds.c.label_id)
    )
    return {r.code: LeaveKind(r.code, r.label_en, r.label_id) for r in rows}


def load_leaves(
    conn: Connection, first: date, last: date, people_ids: Iterable[str] | None = None
) -> dict[str, dict[date, str]]:
    """person -> day -> leave kind, for the days ``first..last`` (both included). Two leaves on
    one day: the one entered first counts."""
    query = (
        sa.select(leaves.c.person_id, leaves.c.kind, leaves.c.start_day, leaves.c.end_day)
        .where(leaves.c.start_day <= last, leaves.c.end_day >= first)
        .order_by(leaves.c.id)
    )
    if people_ids is not None:
        query = query.where(leaves.c.person_id.in_(sorted(set(people_ids))))
    found: dict[str, dict[date, str]] = defaultdict(dict)
    for person_id, kind, start, end in conn.execute(query):
        day = max(start, first)
        stop = min(end, last)
        mine = found[person_id]
        while day <= stop:
            mine.setdefault(day, kind)
            day += timedelta(days=1)
    return found


def leave_counts(by_kind: Mapping[str, int]) -> dict[str, int]:
    """Leave days by kind in a stable order (kind code), zero counts left out."""
    return {kind: by_kind[kind] for kind in sorted(by_kind) if by_kind[kind]}
