"""The day view: everyone's shift day, first in, last out, worked time, status, lateness."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_server.calendar import DayOff, load_calendar
from sync_server.db import UTCDateTime, epoch_us, events, people
from sync_server.reports.adjust import (
    LeaveKind,
    load_corrections,
    load_leave_kinds,
    load_leaves,
    punch_days,
    raw_events,
)
from sync_server.reports.shifts import (
    Shift,
    load_shifts,
    ordered_union,
    person_filters,
    shift_classes,
)
from sync_server.reports.timebase import (
    DAY_US,
    EPOCH,
    MINUTE_US,
    NO_SHIFT,
    Offsets,
    day_number,
    from_us,
    local_day,
    offsets_for_days,
    sql_int,
    without_jit,
)


class Status(enum.StrEnum):
    COMPLETE = "complete"
    IN_ONLY = "in_only"
    OUT_ONLY = "out_only"
    ABSENT = "absent"
    # No event yet and not due yet (a later day, or today before shift start + grace): a day
    # that has not happened is nobody's absence.
    NOT_YET = "not_yet"
    # No event on a day nobody is expected (the working calendar): never an absence.
    HOLIDAY = "holiday"
    DAY_OFF = "day_off"
    NOT_WORKING = "not_working"  # not one of the group's working weekdays
    LEAVE = "leave"  # a working day on leave (sick, annual leave, permission, ...)


# Statuses of a day with attendance (any event).
PRESENT = frozenset((Status.COMPLETE, Status.IN_ONLY, Status.OUT_ONLY))


@dataclass(frozen=True, slots=True)
class DayCorrection:
    """A live correction of the day, as the day view shows it (docs/corrections.md)."""

    id: int
    action: str  # add: an added punch; void: a voided event
    kind: str  # in | out
    at: datetime  # site wall clock
    reason: str
    created_by: str


# Not frozen: a frozen dataclass pays an object.__setattr__ per field, and reports build
# thousands of these per request.
@dataclass(slots=True)
class DayRow:
    person_id: str
    name: str
    group: str
    department: str | None
    employee_id: str
    shift: Shift | None
    window_start: datetime
    window_end: datetime
    first_in: datetime | None
    last_out: datetime | None
    worked: timedelta | None
    status: Status
    late: bool | None
    late_minutes: int | None
    events: int
    # The day's latest event is an in (a later in after going out counts): for today, "in now".
    inside: bool = False
    # The working calendar: a working day of the person's group (its week, not a day off).
    working: bool = True
    day_off: DayOff | None = None
    # Leave of a working day (a leave over a holiday or weekend shows the holiday).
    leave: LeaveKind | None = None
    # Corrections of the day; first in / last out added by an admin.
    corrections: list[DayCorrection] = field(default_factory=list)
    first_in_corrected: bool = False
    last_out_corrected: bool = False

    @property
    def corrected(self) -> bool:
        return bool(self.corrections)


@dataclass(frozen=True, slots=True)
class DayReport:
    day: date
    timezone: str
    rows: list[DayRow]

    def totals(self) -> dict[str, int]:
        """Rows per status, ``late``, and ``people``."""
        counts = dict.fromkeys((s.value for s in Status), 0)
        for row in self.rows:
            counts[row.status.value] += 1
        counts["late"] = sum(1 for r in self.rows if r.late)
        counts["people"] = len(self.rows)
        return counts


def day_view(
    conn: Connection,
    day: date,
    *,
    tz: ZoneInfo,
    group: str | None = None,
    department: str | None = None,
    now: datetime | None = None,
) -> DayReport:
    """Everyone's shift day ``day``: first in, last out, worked time, status and lateness.

    ``now`` (default: the clock) decides between ``absent`` and ``not_yet`` for people
    without events: absent only once their shift start + grace has passed (without a shift:
    once the day is over)."""
    n = day_number(day)
    now_us = epoch_us(now or datetime.now(UTC))
    without_jit(conn)
    all_shifts = load_shifts(conn)
    offsets = offsets_for_days(tz, n, n)
    eu = events.c.effective_us
    is_in = events.c.kind == "in"
    is_out = events.c.kind == "out"
    count = sa.func.count(events.c.kind)
    selects = []
    classes = shift_classes(conn, all_shifts)
    for cls in classes:
        lo, hi = cls.scan_range(offsets, n, n)
        window_start = EPOCH + timedelta(
            microseconds=offsets.first_at_or_after(n * DAY_US + cls.anchor_us)
        )
        matched = sa.and_(
            events.c.person_id == people.c.id,
            eu >= sql_int(lo),
            eu < sql_int(hi),
            local_day(eu, offsets, sql_int(cls.anchor_us)) == sql_int(n),
        )
        join, in_class = cls.people()
        selects.append(
            sa.select(
                people.c.id.label("person_id"),
                people.c.name,
                people.c.group_name,
                people.c.department,
                sa.func.coalesce(people.c.employee_id, people.c.id).label("employee_id"),
                sa.literal(cls.id, sa.Integer).label("shift_id"),
                sa.func.min(sa.case((is_in, eu))).label("first_in"),
                sa.func.max(sa.case((is_out, eu))).label("last_out"),
                sa.func.max(sa.case((is_in, eu))).label("last_in"),
                sa.func.min(sa.case((is_in, eu + offsets.expr(eu)))).label("first_in_local"),
                count.label("events"),
            )
            .select_from(join.outerjoin(events, matched))
            .where(in_class, *person_filters(group, department))
            .group_by(people.c.id)
            .having(sa.or_(count > 0, people.c.created_at < sa.literal(window_start, UTCDateTime)))
        )
    query = ordered_union(selects)
    windows = {
        shift_id: _window(offsets, n, shift.anchor_us if shift else 0, tz)
        for shift_id, shift in [(NO_SHIFT, None), *all_shifts.items()]
    }
    # Whether a person without events is absent yet, per shift (wall clock of the day).
    due = {
        shift_id: now_us > offsets.first_at_or_after(n * DAY_US + (s.due_us if s else DAY_US))
        for shift_id, s in [(NO_SHIFT, None), *all_shifts.items()]
    }
    calendar = load_calendar(conn, day, day)
    day_off = calendar.day_off(day)
    on_leave = {person: days[day] for person, days in load_leaves(conn, day, day).items()}
    kinds = load_leave_kinds(conn) if on_leave else {}
    # Corrections of the day: those people are recomputed from their punches below.
    scan_lo = min(c.scan_range(offsets, n, n)[0] for c in classes)
    scan_hi = max(c.scan_range(offsets, n, n)[1] for c in classes)
    adjustments = load_corrections(conn, scan_lo, scan_hi)
    result = conn.execute(query).all()
    touched = adjustments.people & {r[0] for r in result}
    raw = raw_events(conn, touched, scan_lo, scan_hi, voids=adjustments) if touched else {}
    # Plain tuples and local names: this loop runs once per person (thousands per request).
    rows = []
    local = offsets.local
    day_start_us = n * DAY_US
    weekday = day.weekday()
    # Per group, not per person: whether the day is one of the group's working days.
    working_by_group: dict[str, bool] = {}
    for (
        person_id,
        name,
        group_name,
        dept,
        employee_id,
        shift_id,
        first_in,
        last_out,
        last_in,
        first_in_local,
        n_events,
    ) in result:
        shift = all_shifts.get(shift_id)
        fixes: list[DayCorrection] = []
        in_added = out_added = False
        if person_id in touched:
            anchor = shift.anchor_us if shift else 0
            punches = adjustments.punches(person_id, raw.get(person_id, []))
            mine = punch_days(punches, offsets, anchor).get(n)
            first_in = mine.first_in if mine else None
            last_out = mine.last_out if mine else None
            last_in = mine.last_in if mine else None
            first_in_local = None if first_in is None else first_in + offsets.at(first_in)
            n_events = mine.count if mine else 0
            in_added = bool(mine and mine.first_in_added)
            out_added = bool(mine and mine.last_out_added)
            fixes = [
                DayCorrection(c.id, c.action, c.kind, local(c.effective_us), c.reason, c.created_by)
                for c in adjustments.by_person[person_id]
                if (c.effective_us + offsets.at(c.effective_us) - anchor) // DAY_US == n
            ]
        working = working_by_group.get(group_name)
        if working is None:
            working = working_by_group[group_name] = (
                day_off is None and calendar.week(group_name)[weekday] == "1"
            )
        leave_code = on_leave.get(person_id) if working else None
        leave = (
            (kinds.get(leave_code) or LeaveKind(leave_code, leave_code, leave_code))
            if (leave_code)
            else None
        )
        complete = first_in is not None and last_out is not None and last_out > first_in
        if complete:
            status = Status.COMPLETE
        elif first_in is not None:
            status = Status.IN_ONLY
        elif last_out is not None:
            status = Status.OUT_ONLY
        elif day_off is not None:
            status = Status.HOLIDAY if day_off.kind == "holiday" else Status.DAY_OFF
        elif not working:
            status = Status.NOT_WORKING
        elif leave is not None:
            status = Status.LEAVE
        elif due[shift_id]:
            status = Status.ABSENT
        else:
            status = Status.NOT_YET
        late: bool | None = None
        late_minutes: int | None = None
        if shift is not None and first_in_local is not None:
            if working and leave is None:
                after_start = int(first_in_local) - day_start_us - shift.start_us
                late = after_start > shift.grace_minutes * MINUTE_US
                late_minutes = max(0, after_start // MINUTE_US)
            else:
                late = False  # only a working day, not on leave, can be late
        start, end = windows[shift_id]
        rows.append(
            DayRow(
                person_id,
                name,
                group_name,
                dept,
                employee_id,
                shift,
                start,
                end,
                None if first_in is None else local(int(first_in)),
                None if last_out is None else local(int(last_out)),
                timedelta(microseconds=int(last_out) - int(first_in)) if complete else None,
                status,
                late,
                late_minutes,
                int(n_events),
                last_in is not None and (last_out is None or int(last_in) > int(last_out)),
                working,
                day_off,
                leave,
                fixes,
                in_added,
                out_added,
            )
        )
    return DayReport(day, tz.key, rows)


def _window(offsets: Offsets, n: int, anchor: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = offsets.first_at_or_after(n * DAY_US + anchor)
    end = offsets.first_at_or_after((n + 1) * DAY_US + anchor)
    return from_us(start, tz), from_us(end, tz)
