"""The day view: everyone's shift day, first in, last out, worked time, status, lateness."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_server.db import UTCDateTime, epoch_us, events, people
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
)


class Status(enum.StrEnum):
    COMPLETE = "complete"
    IN_ONLY = "in_only"
    OUT_ONLY = "out_only"
    ABSENT = "absent"
    # No event yet and not due yet (a later day, or today before shift start + grace): a day
    # that has not happened is nobody's absence.
    NOT_YET = "not_yet"


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


@dataclass(frozen=True, slots=True)
class DayReport:
    day: date
    timezone: str
    rows: list[DayRow]

    def totals(self) -> dict[str, int]:
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
    all_shifts = load_shifts(conn)
    offsets = offsets_for_days(tz, n, n)
    eu = events.c.effective_us
    is_in = events.c.kind == "in"
    is_out = events.c.kind == "out"
    count = sa.func.count(events.c.kind)
    selects = []
    for cls in shift_classes(conn, all_shifts):
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
    # Plain tuples and local names: this loop runs once per person (thousands per request).
    rows = []
    local = offsets.local
    day_start_us = n * DAY_US
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
    ) in conn.execute(query):
        shift = all_shifts.get(shift_id)
        complete = first_in is not None and last_out is not None and last_out > first_in
        if complete:
            status = Status.COMPLETE
        elif first_in is not None:
            status = Status.IN_ONLY
        elif last_out is not None:
            status = Status.OUT_ONLY
        elif due[shift_id]:
            status = Status.ABSENT
        else:
            status = Status.NOT_YET
        late: bool | None = None
        late_minutes: int | None = None
        if shift is not None and first_in_local is not None:
            after_start = int(first_in_local) - day_start_us - shift.start_us
            late = after_start > shift.grace_minutes * MINUTE_US
            late_minutes = max(0, after_start // MINUTE_US)
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
            )
        )
    return DayReport(day, tz.key, rows)


def _window(offsets: Offsets, n: int, anchor: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = offsets.first_at_or_after(n * DAY_US + anchor)
    end = offsets.first_at_or_after((n + 1) * DAY_US + anchor)
    return from_us(start, tz), from_us(end, tz)
