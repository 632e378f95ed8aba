"""Day-by-day numbers for the charts (docs/charts.md): a person's month, a site's month, a
terminal's day.

These are built from the reports' building blocks (the same punches, shift days, working
calendar, leave and corrections), so each chart agrees with the month summary and the day
view: a person's day marks count to their ``range_summary`` row, and a day's present count
is the day view's present rows. The month summary packs a person's days into bits and
throws the days away; the charts need the days themselves, hence these functions.
"""

from __future__ import annotations

import bisect
import enum
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_server.calendar import load_calendar
from sync_server.db import epoch_us, events, people, person_days, terminals
from sync_server.domain_errors import PersonNotFoundError, TerminalNotFoundError
from sync_server.reports import person_days as folding
from sync_server.reports.adjust import (
    Adjustments,
    PunchDay,
    leave_counts,
    load_corrections,
    load_leaves,
    punch_days,
    raw_events,
)
from sync_server.reports.shifts import (
    Shift,
    ShiftClass,
    load_shifts,
    people_and_shift,
    person_filters,
    shift_classes,
)
from sync_server.reports.timebase import (
    DAY_US,
    EPOCH,
    HOUR_US,
    MINUTE_US,
    NO_SHIFT,
    Offsets,
    day_number,
    local_day,
    offsets_for_days,
    sql_int,
)

HOURS = 24


class DayMark(enum.StrEnum):
    """What a person's day was, in the day view's order of precedence: a punch shows the
    attendance (late or not) even on a holiday or on leave; otherwise the calendar, leave,
    then absent once the day is due."""

    PRESENT = "present"
    LATE = "late"
    ABSENT = "absent"
    LEAVE = "leave"
    HOLIDAY = "holiday"
    DAY_OFF = "day_off"
    NOT_WORKING = "not_working"  # not one of the group's working weekdays
    NOT_YET = "not_yet"  # not due yet (a later day, or today before shift start + grace)
    UNLISTED = "unlisted"  # before the person was created: no day to judge


@dataclass(frozen=True, slots=True)
class PersonDay:
    day: date
    mark: DayMark
    # A working, listed day on leave: the leave's kind. The month summary counts it as
    # leave even when the person came anyway (the day then shows the attendance).
    leave: str | None = None
    day_off_name: str | None = None
    corrected: bool = False  # a live correction (added punch or void) falls on this day


@dataclass(frozen=True, slots=True)
class PersonMonth:
    person_id: str
    name: str
    group: str
    shift: Shift | None
    days: list[PersonDay]

    def counts(self) -> dict[str, int]:
        """Days per mark, plus ``present_any`` (every day with a punch, late ones included,
        the summary's days present)."""
        found = dict.fromkeys((m.value for m in DayMark), 0)
        for d in self.days:
            found[d.mark.value] += 1
        found["present_any"] = found[DayMark.PRESENT] + found[DayMark.LATE]
        return found

    def leave_days(self) -> dict[str, int]:
        """Leave days by kind, as the summary's ``days_on_leave``."""
        by_kind: dict[str, int] = defaultdict(int)
        for d in self.days:
            if d.leave is not None:
                by_kind[d.leave] += 1
        return leave_counts(by_kind)


def _month_days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _window_starts(offsets: Offsets, d0: int, d1: int, anchor_us: int) -> list[int]:
    """UTC start of each shift-day window ``d0..d1``: a person is listed on a day when created
    before it began (the day view's rule)."""
    return [offsets.first_at_or_after(n * DAY_US + anchor_us) for n in range(d0, d1 + 1)]


def _due(offsets: Offsets, shift: Shift | None, d0: int, d1: int, now_us: int) -> list[bool]:
    due_us = shift.due_us if shift else DAY_US
    return [now_us > offsets.first_at_or_after(n * DAY_US + due_us) for n in range(d0, d1 + 1)]


def _corrected_days(
    adjustments: Adjustments, person_id: str, offsets: Offsets, anchor_us: int
) -> set[int]:
    return {
        (c.effective_us + offsets.at(c.effective_us) - anchor_us) // DAY_US
        for c in adjustments.by_person.get(person_id, [])
    }


def person_month(
    conn: Connection,
    person_id: str,
    first_day: date,
    last_day: date,
    *,
    tz: ZoneInfo,
    now: datetime | None = None,
) -> PersonMonth:
    """One mark per shift day ``first_day..last_day`` of one person (``PersonNotFoundError``
    for an unknown id)."""
    join, effective = people_and_shift()
    found = conn.execute(
        sa.select(people.c.id, people.c.name, people.c.group_name, people.c.created_at, effective)
        .select_from(join)
        .where(people.c.id == person_id)
    ).first()
    if found is None:
        raise PersonNotFoundError(person_id)
    shift = load_shifts(conn).get(found[4])
    anchor = shift.anchor_us if shift else 0
    d0, d1 = day_number(first_day), day_number(last_day)
    offsets = offsets_for_days(tz, d0, d1)
    lo, hi = ShiftClass(shift).scan_range(offsets, d0, d1)
    adjustments = load_corrections(conn, lo, hi)
    counted = raw_events(conn, [person_id], lo, hi).get(person_id, [])
    by_day = punch_days(adjustments.punches(person_id, counted), offsets, anchor)
    corrected = _corrected_days(adjustments, person_id, offsets, anchor)
    calendar = load_calendar(conn, first_day, last_day, [found.group_name])
    on_leave = load_leaves(conn, first_day, last_day, [person_id]).get(person_id, {})
    created_us = epoch_us(found.created_at)
    starts = _window_starts(offsets, d0, d1, anchor)
    due = _due(offsets, shift, d0, d1, epoch_us(now or datetime.now(UTC)))
    marks = []
    for i, day in enumerate(_month_days(first_day, last_day)):
        number = d0 + i
        listed = created_us < starts[i]
        day_off = calendar.day_off(day)
        working = listed and calendar.is_working(found.group_name, day)
        leave = on_leave.get(day) if working else None
        punched = by_day.get(number)
        mark = _mark(
            punched,
            shift,
            offsets,
            number,
            listed=listed,
            day_off_kind=day_off.kind if day_off else None,
            working=working,
            leave=leave,
            due=due[i],
        )
        marks.append(
            PersonDay(
                day,
                mark,
                leave,
                day_off.name if day_off else None,
                number in corrected,
            )
        )
    return PersonMonth(found.id, found.name, found.group_name, shift, marks)


def _mark(
    punched: PunchDay | None,
    shift: Shift | None,
    offsets: Offsets,
    number: int,
    *,
    listed: bool,
    day_off_kind: str | None,
    working: bool,
    leave: str | None,
    due: bool,
) -> DayMark:
    if punched is not None and (punched.first_in is not None or punched.last_out is not None):
        first_in = punched.first_in
        # Only a working day not on leave can be late (the day view and the summary agree).
        if shift is not None and first_in is not None and working and leave is None:
            after_start = first_in + offsets.at(first_in) - number * DAY_US - shift.start_us
            if after_start > shift.grace_minutes * MINUTE_US:
                return DayMark.LATE
        return DayMark.PRESENT
    if not listed:
        return DayMark.UNLISTED
    if day_off_kind is not None:
        return DayMark.HOLIDAY if day_off_kind == "holiday" else DayMark.DAY_OFF
    if not working:
        return DayMark.NOT_WORKING
    if leave is not None:
        return DayMark.LEAVE
    return DayMark.ABSENT if due else DayMark.NOT_YET


@dataclass(frozen=True, slots=True)
class SiteDay:
    day: date
    present: int  # people with a punch that shift day (the day view's present rows)
    # People listed by then whose group works that day (the calendar), not on leave.
    expected: int
    happened: bool  # the day has begun on the site's clock (later days have no attendance)


@dataclass(frozen=True, slots=True)
class SiteMonth:
    first_day: date
    last_day: date
    group: str | None
    department: str | None
    days: list[SiteDay]


def site_month(
    conn: Connection,
    first_day: date,
    last_day: date,
    *,
    tz: ZoneInfo,
    group: str | None = None,
    department: str | None = None,
    now: datetime | None = None,
) -> SiteMonth:
    """Present and expected people per day of ``first_day..last_day`` (filters as the
    reports page's).

    Present is one ``GROUP BY`` day per shift class (distinct people per shift-day number);
    people with a live correction in the range are counted from their punches instead, as
    the day view does."""
    d0, d1 = day_number(first_day), day_number(last_day)
    offsets = offsets_for_days(tz, d0, d1)
    all_shifts = load_shifts(conn)
    classes = shift_classes(conn, all_shifts)
    filters = person_filters(group, department)
    join, effective = people_and_shift()
    roster = conn.execute(
        sa.select(people.c.id, people.c.group_name, people.c.created_at, effective)
        .select_from(join)
        .where(*filters)
    ).all()
    scan_lo = min(c.scan_range(offsets, d0, d1)[0] for c in classes)
    scan_hi = max(c.scan_range(offsets, d0, d1)[1] for c in classes)
    adjustments = load_corrections(conn, scan_lo, scan_hi)
    touched = adjustments.people & {r.id for r in roster}
    present = [0] * (d1 - d0 + 1)
    eu = events.c.effective_us
    postgres = conn.dialect.name == "postgresql"
    for cls in classes:
        lo, hi = cls.scan_range(offsets, d0, d1)
        dk = local_day(eu, offsets, sql_int(cls.anchor_us))
        # Per person, their days with a punch as bits (bit i: day d0 + i), from a correlated
        # subquery over their own events, as the month summary counts: a GROUP BY day over
        # all the month's events measured 3.5x slower on SQLite (sorting every event).
        per_day = (
            sa.select(dk.label("dk"))
            .where(events.c.person_id == people.c.id, eu >= sql_int(lo), eu < sql_int(hi))
            .group_by(dk)
            .correlate(people)
            .subquery("pd")
        )
        days_mask = _days_mask(
            per_day.c.dk, d0, postgres, per_day.c.dk.between(sql_int(d0), sql_int(d1)), per_day
        )
        # People whose days are folded on this class's anchor (person_days) count from those
        # rows (their days of the range by primary key), everyone else from their events.
        folded_mask = _days_mask(
            person_days.c.day, d0, postgres, folding.days_of(d0, d1), person_days
        )
        people_join, in_class = cls.people()
        query = (
            sa.select(sa.case((folding.folded_on(cls.anchor_us), folded_mask), else_=days_mask))
            .select_from(folding.with_basis(people_join, tz))
            .where(in_class, *filters)
        )
        if touched:
            query = query.where(people.c.id.not_in(sorted(touched)))
        for (mask,) in conn.execute(query):
            bits = int(mask or 0)
            while bits:
                low = bits & -bits
                present[low.bit_length() - 1] += 1
                bits ^= low
    if touched:
        raw = raw_events(conn, touched, scan_lo, scan_hi)
        shift_of = {r.id: all_shifts.get(r[3]) for r in roster if r.id in touched}
        for person_id in touched:
            shift = shift_of[person_id]
            anchor = shift.anchor_us if shift else 0
            punches = adjustments.punches(person_id, raw.get(person_id, []))
            for number, punched in punch_days(punches, offsets, anchor).items():
                if d0 <= number <= d1 and (
                    punched.first_in is not None or punched.last_out is not None
                ):
                    present[number - d0] += 1
    days = _month_days(first_day, last_day)
    calendar = load_calendar(conn, first_day, last_day)
    on_leave = load_leaves(conn, first_day, last_day)
    starts = {
        shift_id: _window_starts(offsets, d0, d1, shift.anchor_us if shift else 0)
        for shift_id, shift in [(NO_SHIFT, None), *all_shifts.items()]
    }
    working = {
        name: [calendar.is_working(name, day) for day in days]
        for name in {r.group_name for r in roster}
    }
    expected = [0] * len(days)
    # People without leave counted together by group and first listed day: thousands of
    # people, a few dozen such classes.
    alike: Counter[tuple[str, int]] = Counter()
    for person_id, group_name, created_at, shift_id in roster:
        # Window starts rise day by day: listed (created before the start) from this day on.
        listed_from = bisect.bisect_right(
            starts[shift_id if shift_id in all_shifts else NO_SHIFT], epoch_us(created_at)
        )
        leave = on_leave.get(person_id)
        if not leave:
            alike[group_name, listed_from] += 1
            continue
        works = working[group_name]
        for i in range(listed_from, len(days)):
            if works[i] and days[i] not in leave:
                expected[i] += 1
    for (group_name, listed_from), count in alike.items():
        works = working[group_name]
        for i in range(listed_from, len(days)):
            if works[i]:
                expected[i] += count
    now_us = epoch_us(now or datetime.now(UTC))
    return SiteMonth(
        first_day,
        last_day,
        group,
        department,
        [
            SiteDay(
                day,
                present[i],
                expected[i],
                now_us >= offsets.first_at_or_after((d0 + i) * DAY_US),
            )
            for i, day in enumerate(days)
        ],
    )


def _days_mask(day: Any, d0: int, postgres: bool, where: Any, source: Any) -> Any:
    """A person's days with a punch as bits (bit i: day d0 + i), from their day rows."""
    shift_by: Any = day - sql_int(d0)
    if postgres:  # its << takes an int4 on the right
        shift_by = sa.cast(shift_by, sa.Integer)
    return (
        sa.select(sa.func.sum(sql_int(1).op("<<")(shift_by.self_group())))
        .select_from(source)
        .where(where)
        .correlate(people)
        .scalar_subquery()
    )


def terminal_hours(conn: Connection, terminal_id: str, day: date, *, tz: ZoneInfo) -> list[int]:
    """Punches per local hour (0-23, the site's wall clock) that a terminal recorded on a
    calendar day, voided ones included: this is the terminal's activity, not attendance.
    On a fall-back day the repeated hour holds both passes; a spring-forward gap stays 0.
    ``TerminalNotFoundError`` for an unknown terminal."""
    known = conn.execute(sa.select(terminals.c.id).where(terminals.c.id == terminal_id)).first()
    if known is None:
        raise TerminalNotFoundError(terminal_id)
    n = day_number(day)
    offsets = offsets_for_days(tz, n, n)
    lo = offsets.first_at_or_after(n * DAY_US)
    hi = offsets.first_at_or_after((n + 1) * DAY_US)
    eu = events.c.effective_us
    hour = (eu + offsets.expr(eu) - sql_int(n * DAY_US)) // sql_int(HOUR_US)
    rows = conn.execute(
        sa.select(hour.label("hour"), sa.func.count())
        .where(
            events.c.device_id == terminal_id,
            # corrected_time is effective_us as a timestamp; its index finds the day's events.
            events.c.corrected_time >= EPOCH + timedelta(microseconds=lo),
            events.c.corrected_time < EPOCH + timedelta(microseconds=hi),
        )
        .group_by(hour)
    )
    counts = [0] * HOURS
    for value, count in rows:
        counts[min(max(int(value), 0), HOURS - 1)] += int(count)
    return counts
