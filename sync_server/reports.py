"""Attendance reports: the day view, the monthly summary, CSV and HRMS exports, the HRMS push.

The rules (docs/reports.md has the long form):

* **Site time.** Days, shift starts and lateness are read on the site's wall clock
  (``ServerConfig.site_timezone``, an IANA zone), daylight saving included.
* **Shift day.** A person's shift is their own (``person_shifts``) or else their group's
  (``group_shifts``). The shift day ``D`` of a shift starting at ``S`` is the wall-clock window
  ``[D S - 4 h, D+1 S - 4 h)``: from 4 hours before the start until 20 hours after it. The
  windows of consecutive days touch, so every event belongs to exactly one day; a night shift
  22:00-06:00 of 25 November owns 18:00 on the 25th to 18:00 on the 26th, its morning
  check-out included. A person without a shift has the calendar day (``[00:00, 24:00)``).
* **First in, last out.** The earliest ``in`` and the latest ``out`` event of the day. Worked
  time is last out minus first in (breaks are not deducted; intermediate punches do not
  matter), and only when the last out is after the first in.
* **Status.** ``complete`` (an in and a later out), ``in_only`` (an in, no later out),
  ``out_only`` (outs only: the person forgot to check in), ``absent`` (no event, and the day
  is due: its shift start + grace has passed, or without a shift the day is over),
  ``not_yet`` (no event, not due yet: every day after today, and today until then). People
  are listed when created before the day's window began. **Late** when the first in is more
  than the shift's grace minutes after its start (wall clock); people without a shift are
  never late.
* **Event time** is ``events.effective_us``, the corrected time (see docs/protocol.md) as
  integer microseconds. Local time is ``effective_us + offset`` where the offset is the zone's
  UTC offset, a piecewise constant that Python computes for the range (zoneinfo) and hands to
  SQL as a ``CASE`` on the transition instants. The day number of an event is
  ``(effective_us + offset - anchor) // DAY`` with ``anchor = S - 4 h``: plain integer SQL,
  the same on SQLite and PostgreSQL, and the same in the day view and the month.

Query cost: the day view is one ``GROUP BY person`` over ``people LEFT JOIN events`` using the
covering index ``(person_id, effective_us, kind)``. The month is one query over people with a
correlated subquery per person that groups that person's events by day number (a few dozen
rows, sorted in cache) and returns the person's totals as one JSON array. A single
``GROUP BY person, day`` over all the month's events measured 2-3x slower on SQLite: sorting
300,000 rows costs more than 5,000 tiny sorts.
"""

from __future__ import annotations

import asyncio
import bisect
import csv
import enum
import functools
import io
import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from edge.protocol import EARLIEST_TIME, LATEST_TIME
from sync_server.config import HrmsConfig
from sync_server.db import (
    UTCDateTime,
    epoch_us,
    events,
    group_shifts,
    people,
    person_shifts,
    shifts,
)
from sync_server.domain_errors import UnacceptableError

SECOND_US = 1_000_000
MINUTE_US = 60 * SECOND_US
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US
# A shift day starts this long before the shift (early arrivals belong to it).
SHIFT_LEAD = timedelta(hours=4)
SHIFT_LEAD_US = 4 * HOUR_US
# shift_id of "no shift" in the query's shift table (real ids start at 1).
NO_SHIFT = 0
# Longest date range of one export or push: a year of day rows is already millions of lines.
MAX_RANGE_DAYS = 366
# Days a report may ask for: those events can have (docs/protocol.md, "Limits"). Day windows
# reach a day beyond, which at year 1 or 9999 is past what a datetime can hold.
FIRST_DAY = EARLIEST_TIME.date()
LAST_DAY = LATEST_TIME.date() - timedelta(days=1)
_DAYS = f"{FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class Status(enum.StrEnum):
    COMPLETE = "complete"
    IN_ONLY = "in_only"
    OUT_ONLY = "out_only"
    ABSENT = "absent"
    # No event yet and not due yet (a later day, or today before shift start + grace): a day
    # that has not happened is nobody's absence.
    NOT_YET = "not_yet"


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


def day_number(day: date) -> int:
    return day.toordinal() - _EPOCH_ORDINAL


def from_us(value: int, tz: ZoneInfo) -> datetime:
    return (_EPOCH + timedelta(microseconds=value)).astimezone(tz)


@functools.cache
def _fixed_zone(offset_us: int) -> timezone:
    return timezone(timedelta(microseconds=offset_us))


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_today(tz: ZoneInfo, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(tz).date()


def check_range(first: date, last: date) -> None:
    """Refuse a range of days an export or push cannot cover (``UnacceptableError`` bad_range)."""
    if not FIRST_DAY <= first <= LAST_DAY or not FIRST_DAY <= last <= LAST_DAY:
        raise UnacceptableError("bad_range", f"days must be from {_DAYS}")
    if last < first:
        raise UnacceptableError("bad_range", "'to' is before 'from'")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise UnacceptableError("bad_range", f"at most {MAX_RANGE_DAYS} days per request")


# --- the zone's UTC offset as SQL ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Offsets:
    """The zone's UTC offset over a time range: ``values[i]`` holds from ``starts[i]`` on
    (``starts[0]`` is the range start but the first value also covers anything before)."""

    starts: tuple[int, ...]
    values: tuple[int, ...]

    @classmethod
    def over(cls, tz: ZoneInfo, lo_us: int, hi_us: int) -> Offsets:
        """Offsets from ``lo_us`` to ``hi_us``, transitions found to the second.

        Sampled hourly (no zone changes its offset twice within an hour), each change then
        bisected; about 24 lookups per day of range, microseconds each.
        """

        def offset_at(t_us: int) -> int:
            found = from_us(t_us, tz).utcoffset()
            assert found is not None
            return found // timedelta(microseconds=1)

        starts = [lo_us]
        values = [offset_at(lo_us)]
        previous = lo_us
        t = lo_us + HOUR_US
        while True:
            t = min(t, hi_us)
            value = offset_at(t)
            if value != values[-1]:
                # Largest second still on the old offset, then the first on the new one.
                low, high = previous // SECOND_US, t // SECOND_US
                while high - low > 1:
                    middle = (low + high) // 2
                    if offset_at(middle * SECOND_US) == values[-1]:
                        low = middle
                    else:
                        high = middle
                starts.append(high * SECOND_US)
                values.append(value)
            if t >= hi_us:
                break
            previous, t = t, t + HOUR_US
        return cls(tuple(starts), tuple(values))

    def at(self, utc_us: int) -> int:
        return self.values[max(0, bisect.bisect_right(self.starts, utc_us) - 1)]

    def local(self, utc_us: int) -> datetime:
        """The site's wall-clock time of an instant, with its UTC offset.

        The same as ``astimezone(zone)`` but with a fixed-offset tzinfo, several times
        cheaper: reports convert two times per row for thousands of rows."""
        i = bisect.bisect_right(self.starts, utc_us) - 1 if len(self.starts) > 1 else 0
        offset = self.values[max(i, 0)]
        return (_EPOCH_NAIVE + timedelta(microseconds=utc_us + offset)).replace(
            tzinfo=_fixed_zone(offset)
        )

    @property
    def smallest(self) -> int:
        return min(self.values)

    @property
    def largest(self) -> int:
        return max(self.values)

    def expr(self, utc_us: sa.ColumnElement[int]) -> sa.ColumnElement[int]:
        """SQL for the offset at ``utc_us``: a constant, or a CASE over the transitions."""
        if len(self.values) == 1:
            return _int(self.values[0])
        whens = [
            (utc_us < _int(start), _int(value))
            for start, value in zip(self.starts[1:], self.values[:-1], strict=True)
        ]
        return sa.case(*whens, else_=_int(self.values[-1]))

    def first_at_or_after(self, local_us: int) -> int:
        """The first UTC instant whose wall clock reads ``local_us`` or later.

        In a spring-forward gap that is the transition; in a fall-back repeat, the first pass.
        """
        ends: list[int | None] = [*self.starts[1:], None]
        for i, (end, value) in enumerate(zip(ends, self.values, strict=True)):
            candidate = local_us - value
            if i > 0:  # the first segment also covers everything before the range
                candidate = max(candidate, self.starts[i])
            if end is None or candidate < end:
                return candidate
        raise AssertionError("unreachable: the last segment is open-ended")


def _int(value: int) -> sa.ColumnElement[int]:
    # Typed BIGINT so that // stays integer division on PostgreSQL too.
    return sa.literal(value, sa.BigInteger)


def _local_day(eu: sa.ColumnElement[int], offsets: Offsets, anchor: Any) -> Any:
    """Shift-day number of an event: integer division, identical on both databases."""
    return (eu + offsets.expr(eu) - anchor) // _int(DAY_US)


def _offsets_for_days(tz: ZoneInfo, first: int, last: int) -> Offsets:
    # Two days of margin each side: anchors reach -4 h/+24 h and offsets +-14 h.
    return Offsets.over(tz, (first - 2) * DAY_US, (last + 3) * DAY_US)


# --- shifts ---------------------------------------------------------------------------------------


def load_shifts(conn: Connection) -> dict[int, Shift]:
    rows = conn.execute(sa.select(shifts).order_by(shifts.c.id)).all()
    return {r.id: Shift(r.id, r.name, r.start_time, r.end_time, int(r.grace_minutes)) for r in rows}


@dataclass(frozen=True, slots=True)
class _ShiftClass:
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
        join, effective = _people_and_shift()
        return join, effective == self.id

    def scan_range(self, offsets: Offsets, first: int, last: int) -> tuple[int, int]:
        """A UTC range that surely holds the shift days first..last, for the index range
        scan; the exact test is the day-number expression."""
        return (
            first * DAY_US + self.anchor_us - offsets.largest,
            (last + 1) * DAY_US + self.anchor_us - offsets.smallest,
        )


def _people_and_shift() -> tuple[sa.Join, sa.ColumnElement[int]]:
    """People joined to their shift assignments, and their shift id (NO_SHIFT for none)."""
    join = people.outerjoin(person_shifts, person_shifts.c.person_id == people.c.id).outerjoin(
        group_shifts, group_shifts.c.group_name == people.c.group_name
    )
    effective = sa.func.coalesce(person_shifts.c.shift_id, group_shifts.c.shift_id, NO_SHIFT)
    return join, effective


def _shift_classes(conn: Connection, all_shifts: dict[int, Shift]) -> list[_ShiftClass]:
    """No shift, plus every shift that is assigned to a group or a person."""
    used = set(
        conn.execute(
            sa.union(sa.select(group_shifts.c.shift_id), sa.select(person_shifts.c.shift_id))
        ).scalars()
    )
    return [_ShiftClass(None)] + [_ShiftClass(s) for i, s in all_shifts.items() if i in used]


def _ordered_union(selects: list[sa.Select[Any]]) -> Any:
    if len(selects) == 1:
        return selects[0].order_by(people.c.id)
    return sa.union_all(*selects).order_by(sa.literal_column("person_id"))


def _filters(group: str | None, department: str | None) -> list[sa.ColumnElement[bool]]:
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
    matching = int(conn.execute(everyone.where(*_filters(group, department))).scalar_one())
    return total, matching


# --- day view -------------------------------------------------------------------------------------


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
    offsets = _offsets_for_days(tz, n, n)
    eu = events.c.effective_us
    is_in = events.c.kind == "in"
    is_out = events.c.kind == "out"
    count = sa.func.count(events.c.kind)
    selects = []
    for cls in _shift_classes(conn, all_shifts):
        lo, hi = cls.scan_range(offsets, n, n)
        window_start = _EPOCH + timedelta(
            microseconds=offsets.first_at_or_after(n * DAY_US + cls.anchor_us)
        )
        matched = sa.and_(
            events.c.person_id == people.c.id,
            eu >= _int(lo),
            eu < _int(hi),
            _local_day(eu, offsets, _int(cls.anchor_us)) == _int(n),
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
            .where(in_class, *_filters(group, department))
            .group_by(people.c.id)
            .having(sa.or_(count > 0, people.c.created_at < sa.literal(window_start, UTCDateTime)))
        )
    query = _ordered_union(selects)
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


# --- monthly summary ------------------------------------------------------------------------------


@dataclass(slots=True)
class SummaryRow:
    person_id: str
    name: str
    group: str
    department: str | None
    employee_id: str
    shift: Shift | None
    days_present: int
    days_complete: int
    days_in_only: int
    days_out_only: int
    days_late: int | None
    punctuality_pct: float | None
    worked: timedelta

    @property
    def worked_hours(self) -> float:
        return worked_hours(self.worked)


def worked_hours(worked: timedelta) -> float:
    """Hours to two decimals (8 h 15 min is 8.25): the one rounding of the API, the command
    line and the web page."""
    return round(worked.total_seconds() / 3600, 2)


@dataclass(frozen=True, slots=True)
class SummaryReport:
    first_day: date
    last_day: date
    timezone: str
    rows: list[SummaryRow]


def month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def month_summary(
    conn: Connection,
    month: date,
    *,
    tz: ZoneInfo,
    group: str | None = None,
    department: str | None = None,
) -> SummaryReport:
    """Per person over the calendar month holding ``month`` (any day of it)."""
    first, last = month_bounds(month)
    return range_summary(conn, first, last, tz=tz, group=group, department=department)


def range_summary(
    conn: Connection,
    first_day: date,
    last_day: date,
    *,
    tz: ZoneInfo,
    group: str | None = None,
    department: str | None = None,
) -> SummaryReport:
    """Per person over the shift days ``first_day..last_day``: days present (any event), days
    complete / in only / out only, days late and punctuality (on-time share of the days with
    an in; null without a shift), worked time (sum over complete days)."""
    if last_day < first_day:
        raise ValueError("last_day is before first_day")
    d0, d1 = day_number(first_day), day_number(last_day)
    all_shifts = load_shifts(conn)
    offsets = _offsets_for_days(tz, d0, d1)
    eu = events.c.effective_us
    is_in = events.c.kind == "in"
    is_out = events.c.kind == "out"
    array = "json_build_array" if conn.dialect.name == "postgresql" else "json_array"
    range_end = _EPOCH + timedelta(microseconds=offsets.first_at_or_after((d1 + 1) * DAY_US))
    by_class: list[tuple[int, Any]] = []
    for cls in _shift_classes(conn, all_shifts):
        lo, hi = cls.scan_range(offsets, d0, d1)
        anchor = _int(cls.anchor_us)
        dk = _local_day(eu, offsets, anchor)
        # One person's days: a few dozen rows, grouped (and sorted) per person, in cache.
        per_day = (
            sa.select(
                dk.label("dk"),
                sa.func.min(sa.case((is_in, eu))).label("fi"),
                sa.func.max(sa.case((is_out, eu))).label("lo"),
            )
            .where(events.c.person_id == people.c.id, eu >= _int(lo), eu < _int(hi))
            .group_by(dk)
            .correlate(people)
            .subquery("pd")
        )
        complete = per_day.c.lo > per_day.c.fi
        if cls.shift is None:
            late: sa.ColumnElement[bool] = sa.false()
        else:
            # Wall-clock time of the first in, from the start of the shift-day window (the
            # offset once per day, not per event: every aggregate per event costs here).
            first_in_local = per_day.c.fi + offsets.expr(per_day.c.fi)
            since_window = first_in_local - per_day.c.dk * _int(DAY_US) - anchor
            late = since_window > _int(cls.shift.late_after_us)
        totals = [
            sa.func.count(),
            sa.func.count(per_day.c.fi),
            sa.func.sum(sa.case((complete, 1), else_=0)),
            sa.func.sum(sa.case((late, 1), else_=0)),
            sa.func.sum(sa.case((complete, per_day.c.lo - per_day.c.fi), else_=0)),
        ]
        stats = (
            sa.select(getattr(sa.func, array)(*totals))
            .select_from(per_day)
            .where(per_day.c.dk.between(_int(d0), _int(d1)))
            .correlate(people)
            .scalar_subquery()
        )
        by_class.append((cls.id, stats))
    # One pass over people; CASE runs only the subquery of the person's own shift.
    join, effective = _people_and_shift()
    stats_expr: Any = (
        by_class[0][1]
        if len(by_class) == 1
        else sa.case(*[(effective == k, q) for k, q in by_class[1:]], else_=by_class[0][1])
    )
    query = (
        sa.select(
            people.c.id.label("person_id"),
            people.c.name,
            people.c.group_name,
            people.c.department,
            sa.func.coalesce(people.c.employee_id, people.c.id).label("employee_id"),
            effective.label("shift_id"),
            sa.type_coerce(stats_expr, sa.String).label("stats"),
        )
        .select_from(join)
        .where(
            people.c.created_at < sa.literal(range_end, UTCDateTime),
            *_filters(group, department),
        )
        .order_by(people.c.id)
    )
    rows = []
    for (
        person_id,
        name,
        group_name,
        dept,
        employee_id,
        shift_id,
        stats_value,
    ) in conn.execute(query):
        # PostgreSQL's driver decodes json itself; SQLite hands over the text.
        stats_row = stats_value if isinstance(stats_value, list) else json.loads(stats_value)
        present, with_in, n_complete, n_late, worked_us = (int(v or 0) for v in stats_row)
        shift = all_shifts.get(shift_id)
        rows.append(
            SummaryRow(
                person_id,
                name,
                group_name,
                dept,
                employee_id,
                shift,
                days_present=present,
                days_complete=n_complete,
                days_in_only=with_in - n_complete,
                days_out_only=present - with_in,
                days_late=n_late if shift is not None else None,
                punctuality_pct=round(100.0 * (with_in - n_late) / with_in, 1)
                if shift is not None and with_in
                else None,
                worked=timedelta(microseconds=worked_us),
            )
        )
    return SummaryReport(first_day, last_day, tz.key, rows)


# --- exports --------------------------------------------------------------------------------------


class CsvRows(enum.StrEnum):
    DAYS = "days"
    EVENTS = "events"


DAY_COLUMNS = (
    "date",
    "person_id",
    "name",
    "group",
    "department",
    "employee_id",
    "shift",
    "shift_start",
    "first_in",
    "last_out",
    "worked_minutes",
    "status",
    "late",
    "late_minutes",
    "events",
)
EVENT_COLUMNS = (
    "event_id",
    "local_time",
    "utc_time",
    "person_id",
    "name",
    "group",
    "department",
    "employee_id",
    "kind",
    "device_id",
    "time_source",
    "person_known",
    "liveness_score",
    "liveness_passed",
    "liveness_reasons",
    "needs_review",
    "reviewed_at",
    "reviewed_by",
)


# A spreadsheet reads a cell starting with one of these as a formula (CSV injection): a name
# "=HYPERLINK(...)" would run when payroll opens the file.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Columns whose text comes from admins or terminals. The others are written by this module
# (dates, times, statuses, numbers) and never start with one of those characters; checking
# only these keeps a year's export as fast as before.
FREE_TEXT_COLUMNS = frozenset(
    ("person_id", "name", "group", "department", "employee_id", "shift", "device_id", "reviewed_by")
)


def csv_cell(value: str) -> str:
    """Text that a spreadsheet would run as a formula gets a leading ``'`` (OWASP's rule) and
    shows as the text it is. Numeric columns hold ints and never pass here, so a -5 there
    stays a number."""
    return "'" + value if value.startswith(FORMULA_START) else value


class _CsvChunks:
    """CSV rows gathered into chunks of about 64 KiB: a streamed response pays a thread hop
    per chunk, which per line made a month's export 30 times slower than its queries.

    The header goes first; the free-text cells of every row go through :func:`csv_cell`."""

    SIZE = 64 * 1024

    def __init__(self, columns: Sequence[str]) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")
        self._free = tuple(i for i, name in enumerate(columns) if name in FREE_TEXT_COLUMNS)
        self._writer.writerow(columns)

    def add(self, values: Sequence[Any]) -> str | None:
        row = list(values)
        for i in self._free:
            row[i] = csv_cell(row[i])
        self._writer.writerow(row)
        return self.take() if self._buffer.tell() >= self.SIZE else None

    def take(self) -> str:
        chunk = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return chunk


def _local_text(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def export_csv(
    conn: Connection,
    first_day: date,
    last_day: date,
    *,
    tz: ZoneInfo,
    rows: CsvRows = CsvRows.DAYS,
    group: str | None = None,
    department: str | None = None,
    now: datetime | None = None,
) -> Iterator[str]:
    """CSV text (header first, RFC 4180, CRLF) in chunks of whole lines, generated lazily
    for streaming.

    ``days``: one row per person and shift day, exactly the day view (absent days included;
    days not due yet at ``now`` are ``not_yet``).
    ``events``: one row per stored event in the calendar days ``first_day..last_day`` (site
    zone), people the server no longer knows included (``person_known`` false).
    """
    if last_day < first_day:
        raise ValueError("last_day is before first_day")
    if rows is CsvRows.EVENTS:
        yield from _export_events(conn, first_day, last_day, tz, group, department)
        return
    out = _CsvChunks(DAY_COLUMNS)
    now = now or datetime.now(UTC)  # one instant for the whole file
    day = first_day
    while day <= last_day:
        report = day_view(conn, day, tz=tz, group=group, department=department, now=now)
        for r in report.rows:
            chunk = out.add(
                (
                    day.isoformat(),
                    r.person_id,
                    r.name,
                    r.group,
                    r.department or "",
                    r.employee_id,
                    r.shift.name if r.shift else "",
                    r.shift.start.strftime("%H:%M") if r.shift else "",
                    _local_text(r.first_in),
                    _local_text(r.last_out),
                    "" if r.worked is None else int(r.worked.total_seconds() // 60),
                    r.status.value,
                    "" if r.late is None else ("yes" if r.late else "no"),
                    "" if r.late_minutes is None else r.late_minutes,
                    r.events,
                )
            )
            if chunk:
                yield chunk
        day += timedelta(days=1)
    yield out.take()


def _calendar_range(
    tz: ZoneInfo, first_day: date, last_day: date
) -> tuple[datetime, datetime, Offsets]:
    """UTC bounds of the calendar days first_day..last_day in the site zone, and its offsets."""
    d0, d1 = day_number(first_day), day_number(last_day)
    offsets = _offsets_for_days(tz, d0, d1)
    lo = offsets.first_at_or_after(d0 * DAY_US)
    hi = offsets.first_at_or_after((d1 + 1) * DAY_US)
    return _EPOCH + timedelta(microseconds=lo), _EPOCH + timedelta(microseconds=hi), offsets


def _events_query(
    lo: datetime,
    hi: datetime,
    group: str | None,
    department: str | None,
    *,
    known_only: bool,
) -> sa.Select[Any]:
    join = (
        events.join(people, people.c.id == events.c.person_id)
        if known_only
        else events.outerjoin(people, people.c.id == events.c.person_id)
    )
    # corrected_time has its own index, and orders exactly like effective_us.
    return (
        sa.select(
            events.c.id,
            events.c.effective_us,
            events.c.person_id,
            events.c.kind,
            events.c.device_id,
            events.c.time_source,
            events.c.person_known,
            events.c.liveness_score,
            events.c.liveness_passed,
            events.c.liveness_reasons,
            events.c.reviewed_at,
            events.c.reviewed_by,
            people.c.id.label("known_id"),
            people.c.name,
            people.c.group_name,
            people.c.department,
            sa.func.coalesce(people.c.employee_id, people.c.id).label("employee_id"),
        )
        .select_from(join)
        .where(events.c.corrected_time >= lo, events.c.corrected_time < hi)
        .where(*_filters(group, department))
        .order_by(events.c.corrected_time, events.c.id)
    )


def _export_events(
    conn: Connection,
    first_day: date,
    last_day: date,
    tz: ZoneInfo,
    group: str | None,
    department: str | None,
) -> Iterator[str]:
    lo, hi, offsets = _calendar_range(tz, first_day, last_day)
    query = _events_query(lo, hi, group, department, known_only=False)
    out = _CsvChunks(EVENT_COLUMNS)
    result = conn.execution_options(yield_per=1000).execute(query)
    for r in result:
        at = _EPOCH + timedelta(microseconds=int(r.effective_us))
        chunk = out.add(
            (
                str(r.id),
                _local_text(offsets.local(int(r.effective_us))),
                at.isoformat().replace("+00:00", "Z"),
                r.person_id,
                r.name or "",
                r.group_name or "",
                r.department or "",
                r.employee_id or "",
                r.kind,
                r.device_id,
                r.time_source,
                "yes" if r.person_known else "no",
                "" if r.liveness_score is None else r.liveness_score,
                _yes_no(r.liveness_passed),
                r.liveness_reasons or "",
                "yes" if r.liveness_passed is False and r.reviewed_at is None else "no",
                _local_text(None if r.reviewed_at is None else r.reviewed_at.astimezone(tz)),
                r.reviewed_by or "",
            )
        )
        if chunk:
            yield chunk
    yield out.take()


# --- HRMS (ERPNext / Frappe "Employee Checkin") ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkin:
    """One Frappe HRMS ``Employee Checkin``: the fields as the resource API takes them."""

    employee: str
    time: str  # site-local "YYYY-MM-DD HH:MM:SS", as Frappe stores Datetime
    log_type: str  # "IN" or "OUT"
    device_id: str

    def as_json(self) -> dict[str, str]:
        return {
            "employee": self.employee,
            "time": self.time,
            "log_type": self.log_type,
            "device_id": self.device_id,
        }


def hrms_checkins(
    conn: Connection,
    first_day: date,
    last_day: date,
    *,
    tz: ZoneInfo,
    group: str | None = None,
    department: str | None = None,
) -> list[Checkin]:
    """Every event of a known person in the calendar days ``first_day..last_day`` (site zone),
    oldest first. Frappe assigns shifts and computes attendance from checkins itself, so it gets
    every punch, not our first-in/last-out; events of deleted people have no employee."""
    if last_day < first_day:
        raise ValueError("last_day is before first_day")
    lo, hi, offsets = _calendar_range(tz, first_day, last_day)
    result = conn.execute(_events_query(lo, hi, group, department, known_only=True))
    return [
        Checkin(
            employee=r.employee_id,
            time=_local_text(offsets.local(int(r.effective_us))),
            log_type="IN" if r.kind == "in" else "OUT",
            device_id=r.device_id,
        )
        for r in result
    ]


class PushOutcome(enum.StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"
    FAILED = "failed"


@dataclass(slots=True)
class PushFailure:
    checkin: Checkin
    status: int | None
    detail: str


@dataclass(slots=True)
class PushResult:
    total: int = 0
    created: int = 0
    duplicates: int = 0
    attempts: int = 0
    failed: list[PushFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


CHECKIN_RESOURCE = "/api/resource/Employee%20Checkin"
# What Frappe says when the record is already there: a unique-name clash
# (frappe.DuplicateEntryError, HTTP 409) or HRMS's own check of employee + time + log type
# (a ValidationError, HTTP 417: "This employee already has a log with the same timestamp").
_DUPLICATE_MARKERS = (
    "duplicateentryerror",
    "already exists",
    "already has a log with the same timestamp",
)


def _is_duplicate(response: httpx.Response) -> bool:
    if response.status_code == 409:
        return True
    if response.status_code < 400:
        return False
    text = response.text.lower()
    return any(marker in text for marker in _DUPLICATE_MARKERS)


def _retryable(status: int | None) -> bool:
    return status is None or status == 429 or status >= 500


async def push_checkins(
    checkins: Sequence[Checkin],
    config: HrmsConfig,
    api_secret: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> PushResult:
    """POST each checkin to ``{url}/api/resource/Employee Checkin`` (Frappe token auth).

    Created and "already exists" both count as done, so a push can be repeated over the same
    range safely. Network errors, 429 and 5xx are retried up to ``max_attempts`` times per
    checkin with doubling backoff (and jitter); any other refusal is reported at once.
    """
    if not config.url or not config.api_key:
        raise ValueError("hrms.url and hrms.api_key must be configured")
    result = PushResult(total=len(checkins))
    headers = {
        "Authorization": f"token {config.api_key}:{api_secret}",
        "Accept": "application/json",
    }
    limit = asyncio.Semaphore(config.concurrency)

    async def send(
        client: httpx.AsyncClient, checkin: Checkin
    ) -> tuple[PushOutcome, int | None, str]:
        async with limit:
            try:
                response = await client.post(CHECKIN_RESOURCE, json=checkin.as_json())
            except httpx.HTTPError as exc:
                return PushOutcome.FAILED, None, f"{type(exc).__name__}: {exc}"
        if response.is_success:
            return PushOutcome.CREATED, response.status_code, ""
        if _is_duplicate(response):
            return PushOutcome.DUPLICATE, response.status_code, ""
        return PushOutcome.FAILED, response.status_code, response.text[:300]

    pending = list(checkins)
    async with httpx.AsyncClient(
        base_url=config.url.rstrip("/"),
        headers=headers,
        timeout=config.timeout_s,
        transport=transport,
    ) as client:
        for attempt in range(1, config.max_attempts + 1):
            if attempt > 1:
                delay = config.backoff_s * 2 ** (attempt - 2)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            result.attempts = attempt
            answers = await asyncio.gather(*(send(client, c) for c in pending))
            retry: list[Checkin] = []
            for checkin, (outcome, status, detail) in zip(pending, answers, strict=True):
                if outcome is PushOutcome.CREATED:
                    result.created += 1
                elif outcome is PushOutcome.DUPLICATE:
                    result.duplicates += 1
                elif _retryable(status) and attempt < config.max_attempts:
                    retry.append(checkin)
                else:
                    result.failed.append(PushFailure(checkin, status, detail))
            pending = retry
            if not pending:
                break
    return result
