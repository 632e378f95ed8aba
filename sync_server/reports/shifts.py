"""The shifts as the reports apply them, and which people a report lists (classes of people
sharing a shift, the group and department filters). Creating and assigning shifts is
sync_server/shifts.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_server.db import group_shifts, people, person_shifts, shifts
from sync_server.reports.timebase import (
    DAY_US,
    MINUTE_US,
    NO_SHIFT,
    SECOND_US,
    SHIFT_LEAD_US,
    Offsets,
)


@dataclass(frozen=True, slots=True)
class Shift:
    id: int
    name: str
    start: time
    end: time
    grace_minutes: int

    @property
    def crosses_midnight(self) -> bool:
        return self.end < self.start

    @property
    def start_us(self) -> int:
        """The start as microseconds after local midnight."""
        return (self.start.hour * 3600 + self.start.minute * 60 + self.start.second) * SECOND_US

    @property
    def anchor_us(self) -> int:
        """Where the shift day begins, relative to local midnight (negative: the day before)."""
        return self.start_us - SHIFT_LEAD_US

    @property
    def due_us(self) -> int:
        """After this (from local midnight of the shift day) a person without events is absent:
        the latest on-time first in."""
        return self.start_us + self.grace_minutes * MINUTE_US

    @property
    def late_after_us(self) -> int:
        """Lateness threshold, measured from the start of the shift-day window."""
        return SHIFT_LEAD_US + self.grace_minutes * MINUTE_US


def load_shifts(conn: Connection) -> dict[int, Shift]:
    rows = conn.execute(sa.select(shifts).order_by(shifts.c.id)).all()
    return {r.id: Shift(r.id, r.name, r.start_time, r.end_time, int(r.grace_minutes)) for r in rows}


@dataclass(frozen=True, slots=True)
class ShiftClass:
    """The people sharing one shift, or having none: each class is its own SELECT with the
    shift's numbers as constants (SQLite refuses outer references in a subquery's GROUP BY,
    and constants keep the per-event arithmetic cheap)."""

    shift: Shift | None

    @property
    def id(self) -> int:
        return self.shift.id if self.shift else NO_SHIFT

    @property
    def anchor_us(self) -> int:
        return self.shift.anchor_us if self.shift else 0

    def people(self) -> tuple[sa.Join, sa.ColumnElement[bool]]:
        """People joined to their shift assignments, and the condition "in this class"."""
        join, effective = people_and_shift()
        return join, effective == self.id

    def scan_range(self, offsets: Offsets, first: int, last: int) -> tuple[int, int]:
        """A UTC range that surely holds the shift days first..last, for the index range
        scan; the exact test is the day-number expression."""
        return (
            first * DAY_US + self.anchor_us - offsets.largest,
            (last + 1) * DAY_US + self.anchor_us - offsets.smallest,
        )


def people_and_shift() -> tuple[sa.Join, sa.ColumnElement[int]]:
    """People joined to their shift assignments, and their shift id (NO_SHIFT for none)."""
    join = people.outerjoin(person_shifts, person_shifts.c.person_id == people.c.id).outerjoin(
        group_shifts, group_shifts.c.group_name == people.c.group_name
    )
    effective = sa.func.coalesce(person_shifts.c.shift_id, group_shifts.c.shift_id, NO_SHIFT)
    return join, effective


def shift_classes(conn: Connection, all_shifts: dict[int, Shift]) -> list[ShiftClass]:
    """No shift, plus every shift that is assigned to a group or a person."""
    used = set(
        conn.execute(
            sa.union(sa.select(group_shifts.c.shift_id), sa.select(person_shifts.c.shift_id))
        ).scalars()
    )
    return [ShiftClass(None)] + [ShiftClass(s) for i, s in all_shifts.items() if i in used]


def ordered_union(selects: list[sa.Select[Any]]) -> Any:
    if len(selects) == 1:
        return selects[0].order_by(people.c.id)
    return sa.union_all(*selects).order_by(sa.literal_column("person_id"))


def person_filters(group: str | None, department: str | None) -> list[sa.ColumnElement[bool]]:
    found: list[sa.ColumnElement[bool]] = []
    if group is not None:
        found.append(people.c.group_name == group)
    if department is not None:
        found.append(people.c.department == department)
    return found


def people_counts(
    conn: Connection, group: str | None = None, department: str | None = None
) -> tuple[int, int]:
    """(people, people matching the filters): what an empty report can truthfully say."""
    everyone = sa.select(sa.func.count()).select_from(people)
    total = int(conn.execute(everyone).scalar_one())
    if group is None and department is None:
        return total, total
    matching = int(conn.execute(everyone.where(*person_filters(group, department))).scalar_one())
    return total, matching
