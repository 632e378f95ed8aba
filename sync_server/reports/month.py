"""The monthly (or any range's) summary per person: days present, late, punctuality, hours."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_server.calendar import SiteCalendar, load_calendar
from sync_server.db import UTCDateTime, epoch_us, events, people, person_days
from sync_server.reports import person_days as folding
from sync_server.reports.adjust import (
    Punch,
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
    SHIFT_LEAD_US,
    Offsets,
    day_number,
    local_day,
    offsets_for_days,
    sql_int,
    without_jit,
)


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
    # The working calendar (docs/reports.md, "Month"): working days of the person's group in
    # the range (from the day they were listed), absences up to today, leave by kind.
    working_days: int = 0
    days_absent: int = 0
    days_on_leave: dict[str, int] = field(default_factory=dict)
    # Working days attended with an in, not on leave: what punctuality divides.
    days_attended: int = 0
    corrected: bool = False  # a live correction changed this person's numbers

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


# Days per summary: each day is a bit in the low and in the high half of a BIGINT in the
# query (bits 0-30 and 31-61), a month's 31 days.
MAX_SUMMARY_DAYS = 31
HIGH = 31
LOW_MASK = (1 << HIGH) - 1


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
    now: datetime | None = None,
) -> SummaryReport:
    """Per person over the calendar month holding ``month`` (any day of it)."""
    first, last = month_bounds(month)
    return range_summary(conn, first, last, tz=tz, group=group, department=department, now=now)


def range_summary(
    conn: Connection,
    first_day: date,
    last_day: date,
    *,
    tz: ZoneInfo,
    group: str | None = None,
    department: str | None = None,
    now: datetime | None = None,
) -> SummaryReport:
    """Per person over the shift days ``first_day..last_day``: days present (any event), days
    complete / in only / out only, worked time (sum over complete days), and over the working
    calendar: working days, days absent (working, not on leave, no event, due by ``now``),
    days on leave by kind, days late and punctuality (on-time share of the working days
    attended with an in, not on leave; null without a shift).

    Everyone is one SQL pass (see the package's docstring); people with leave in the range, a
    live correction, or created after the range began are recomputed in Python from their
    punches (:mod:`sync_server.reports.adjust`), with the same rules."""
    if last_day < first_day:
        raise ValueError("last_day is before first_day")
    d0, d1 = day_number(first_day), day_number(last_day)
    if d1 - d0 + 1 > MAX_SUMMARY_DAYS:
        raise ValueError(f"at most {MAX_SUMMARY_DAYS} days per summary")
    now_us = epoch_us(now or datetime.now(UTC))
    without_jit(conn)
    all_shifts = load_shifts(conn)
    offsets = offsets_for_days(tz, d0, d1)
    calendar = load_calendar(conn, first_day, last_day)
    eu = events.c.effective_us
    is_in = events.c.kind == "in"
    is_out = events.c.kind == "out"
    postgres = conn.dialect.name == "postgresql"
    range_end = EPOCH + timedelta(microseconds=offsets.first_at_or_after((d1 + 1) * DAY_US))
    # Before this everyone is listed on every day of the range (the earliest shift-day window
    # starts 4 h before midnight); people created later are counted in Python.
    range_start = EPOCH + timedelta(
        microseconds=offsets.first_at_or_after(d0 * DAY_US - SHIFT_LEAD_US)
    )
    # Working days as a bit mask per week (bit i: day d0 + i), the same for every shift class.
    working_masks: dict[str, int] = {}
    classes = shift_classes(conn, all_shifts)
    last_due = {cls.id: _last_due(offsets, cls.shift, d0, d1, now_us) for cls in classes}
    by_class: list[tuple[int, Any]] = []
    join, effective = people_and_shift()
    # The site zone's folded days (person_days): a person's rows count when folded on the
    # anchor of the shift they have now, else their events are sorted into days here.
    join = folding.with_basis(join, tz)
    for cls in classes:
        lo, hi = cls.scan_range(offsets, d0, d1)
        dk = local_day(eu, offsets, sql_int(cls.anchor_us))
        # One person's days: a few dozen rows, grouped (and sorted) per person, in cache.
        per_day = (
            sa.select(
                dk.label("dk"),
                sa.func.min(sa.case((is_in, eu))).label("fi"),
                sa.func.max(sa.case((is_out, eu))).label("lo"),
            )
            .where(events.c.person_id == people.c.id, eu >= sql_int(lo), eu < sql_int(hi))
            .group_by(dk)
            # Days of the range only: per day row here, where a WHERE on the outer query
            # was pushed down to every event (computing the day number twice more each).
            .having(dk.between(sql_int(d0), sql_int(d1)))
            .correlate(people)
            .subquery("pd")
        )
        from_events = (
            sa.select(
                _day_totals(per_day.c.dk, per_day.c.fi, per_day.c.lo, cls, offsets, d0, postgres)
            )
            .select_from(per_day)
            .correlate(people)
            .scalar_subquery()
        )
        folded = person_days.c
        from_days = (
            sa.select(
                _day_totals(
                    folded.day, folded.first_in_us, folded.last_out_us, cls, offsets, d0, postgres
                )
            )
            .where(folding.days_of(d0, d1))
            .correlate(people)
            .scalar_subquery()
        )
        stats = sa.case((folding.folded_on(cls.anchor_us), from_days), else_=from_events)
        by_class.append((cls.id, stats))
    # One pass over people; CASE runs only the subquery of the person's own shift.
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
            # Created after the range began: counted in Python (fewer working days).
            sa.case(
                (people.c.created_at >= sa.literal(range_start, UTCDateTime), 1), else_=0
            ).label("new"),
        )
        .select_from(join)
        .where(
            people.c.created_at < sa.literal(range_end, UTCDateTime),
            *person_filters(group, department),
        )
        .order_by(people.c.id)
    )
    result = conn.execute(query).all()
    # Leave and a creation during the range change the calendar's masks of a person; a
    # correction changes their days: those few people are counted in Python from punches.
    # Rows by position: a Row's attribute lookup by name costs more than the tuple's.
    listed = {r[0] for r in result}
    # All leave of the range (a few rows), then only the listed people: an IN over thousands
    # of ids cost more than the rows.
    leave_days = {
        p: d for p, d in load_leaves(conn, first_day, last_day).items() if d and p in listed
    }
    scan_lo = min(c.scan_range(offsets, d0, d1)[0] for c in classes)
    scan_hi = max(c.scan_range(offsets, d0, d1)[1] for c in classes)
    adjustments = load_corrections(conn, scan_lo, scan_hi)
    special = listed & adjustments.by_person.keys()
    raw = raw_events(conn, special, scan_lo, scan_hi, voids=adjustments) if special else {}
    created = _created(conn, special | {r[0] for r in result if r[7]})
    # Bit masks over the range (bit i: day d0 + i): due days per shift class.
    due_masks = {k: (1 << max(0, last - d0 + 1)) - 1 for k, last in last_due.items()}
    bit_count = int.bit_count
    range_days = [first_day + timedelta(days=i) for i in range(d1 - d0 + 1)]

    def working_mask(group_name: str) -> int:
        found = working_masks.get(group_name)
        if found is None:
            found = working_masks[group_name] = _working_mask(calendar, group_name, range_days)
        return found

    rows = []
    for (
        person_id,
        name,
        group_name,
        dept,
        employee_id,
        shift_id,
        stats_value,
        new,
    ) in result:
        shift = all_shifts.get(shift_id)
        row = SummaryRow(
            person_id, name, group_name, dept, employee_id, shift, 0, 0, 0, 0, None, None,
            timedelta(0),
        )  # fmt: skip
        if person_id in special:
            _count_in_python(
                row,
                adjustments.punches(person_id, raw.get(person_id, [])),
                offsets=offsets,
                days=range_days,
                d0=d0,
                working=working_mask(group_name),
                due=due_masks[shift_id],
                leave=leave_days.get(person_id, {}),
                listed_after=created[person_id],
            )
            row.corrected = person_id in adjustments.by_person
        else:
            presence, lateness, worked_us = map(int, stats_value.split(","))
            present_bits, in_bits = presence & LOW_MASK, presence >> HIGH
            late_bits = lateness & LOW_MASK
            present = bit_count(present_bits)
            with_in = bit_count(in_bits)
            n_complete = bit_count(lateness >> HIGH)
            working = working_mask(group_name)
            if new:  # listed from the first day whose window begins after the creation
                start = shift.anchor_us if shift else 0
                working &= ~_unlisted_mask(offsets, d0, d1, start, created[person_id])
            # Working days not on leave: the days attendance is expected.
            expected = working
            mine = leave_days.get(person_id)
            if mine:
                by_kind: dict[str, int] = {}
                for i, day in enumerate(range_days):
                    kind = mine.get(day)
                    if kind is not None and working >> i & 1:
                        by_kind[kind] = by_kind.get(kind, 0) + 1
                        expected &= ~(1 << i)
                row.days_on_leave = leave_counts(by_kind)
            row.days_present = present
            row.days_complete = n_complete
            row.days_in_only = with_in - n_complete
            row.days_out_only = present - with_in
            row.worked = timedelta(microseconds=worked_us)
            row.working_days = bit_count(working)
            row.days_absent = bit_count(expected & due_masks[shift_id] & ~present_bits)
            row.days_attended = bit_count(expected & in_bits)
            row.days_late = bit_count(expected & late_bits)
        if shift is None:
            row.days_late = None
        elif row.days_attended:
            row.punctuality_pct = round(
                100.0 * (row.days_attended - (row.days_late or 0)) / row.days_attended, 1
            )
        rows.append(row)
    return SummaryReport(first_day, last_day, tz.key, rows)


def _day_totals(
    dk: Any, fi: Any, lo: Any, cls: ShiftClass, offsets: Offsets, d0: int, postgres: bool
) -> Any:
    """A person's totals over their day rows (day number, first in, last out) as one text
    (:func:`_packed`); the same SQL over their events sorted into days and over their
    folded days."""
    complete = lo > fi
    if cls.shift is None:
        late: sa.ColumnElement[bool] = sa.false()
    else:
        # Wall-clock time of the first in, from the start of the shift-day window (the
        # offset once per day, not per event: every aggregate per event costs here).
        since_window = fi + offsets.expr(fi) - dk * sql_int(DAY_US) - sql_int(cls.anchor_us)
        late = since_window > sql_int(cls.shift.late_after_us)
    # The day's bit: one per day and person, so the sums are bitwise ORs. The calendar
    # (working days, leave, due days) is applied to the masks in Python: a constant
    # list per week and day in SQL measured slower than the whole rest of the query.
    # Two day masks per BIGINT (bits 0-30 and 31-61): the counts are their bit counts,
    # so three aggregates per day instead of seven (each costs per day row and person).
    shift_by: Any = dk - sql_int(d0)
    if postgres:  # its << takes an int4 on the right; SQLite's integers are all 64-bit
        shift_by = sa.cast(shift_by, sa.Integer)
    bit = sql_int(1).op("<<")(shift_by.self_group())
    high = sql_int(1 << HIGH)
    totals = [
        # present (low), with an in (high)
        sa.func.sum(bit * (1 + sa.case((fi.is_not(None), high), else_=0))),
        # late (low), complete (high)
        sa.func.sum(bit * (sa.case((late, 1), else_=0) + sa.case((complete, high), else_=0))),
        sa.func.sum(sa.case((complete, lo - fi), else_=0)),
    ]
    return _packed(totals, postgres)


def _unlisted_mask(offsets: Offsets, d0: int, d1: int, anchor: int, created_us: int) -> int:
    """The range's days (bits) whose window began at or before ``created_us``: a person
    created then is not listed on them (no working day, no absence)."""
    mask = 0
    for number in range(d0, d1 + 1):
        if offsets.first_at_or_after(number * DAY_US + anchor) > created_us:
            break
        mask |= 1 << (number - d0)
    return mask


def _packed(totals: list[Any], postgres: bool) -> Any:
    """The person's totals as one comma-separated text (``str.split`` parses it several times
    faster than ``json.loads`` of an array; a sum over no day is null, hence the coalesce)."""
    if postgres:
        return sa.func.concat_ws(",", *(sa.func.coalesce(t, 0) for t in totals))
    packed: Any = None
    for total in totals:
        part = sa.func.coalesce(total, 0)
        packed = part if packed is None else packed.op("||")(",").op("||")(part)
    return packed


def _working_mask(calendar: SiteCalendar, group: str, days: list[date]) -> int:
    """The group's working days of the range as bits (bit i: ``days[i]``)."""
    mask = 0
    for i, day in enumerate(days):
        if calendar.is_working(group, day):
            mask |= 1 << i
    return mask


def _created(conn: Connection, people_ids: set[str]) -> dict[str, int]:
    """When each of a few people was created, as microseconds since the epoch."""
    found: dict[str, int] = {}
    wanted = sorted(people_ids)
    for start in range(0, len(wanted), 500):
        rows = conn.execute(
            sa.select(people.c.id, people.c.created_at).where(
                people.c.id.in_(wanted[start : start + 500])
            )
        )
        found.update((person_id, epoch_us(at)) for person_id, at in rows)
    return found


def _last_due(offsets: Offsets, shift: Shift | None, d0: int, d1: int, now_us: int) -> int:
    """The last shift day of ``d0..d1`` that is due at ``now_us`` (its shift start + grace
    has passed; without a shift, the day is over); ``d0 - 1`` when none is."""
    due_us = shift.due_us if shift else DAY_US
    # Days are due in order: find the last one by bisection over day numbers.
    low, high = d0 - 1, d1
    while low < high:
        middle = (low + high + 1) // 2
        if now_us > offsets.first_at_or_after(middle * DAY_US + due_us):
            low = middle
        else:
            high = middle - 1
    return low


def _count_in_python(
    row: SummaryRow,
    punches: list[Punch],
    *,
    offsets: Offsets,
    days: list[date],
    d0: int,
    working: int,
    due: int,
    leave: dict[date, str],
    listed_after: int,
) -> None:
    """One person's numbers from their punches, day by day: the rules of the SQL plus leave,
    corrections and a creation inside the range. ``working`` and ``due`` are day masks."""
    shift = row.shift
    anchor = shift.anchor_us if shift else 0
    by_day = punch_days(punches, offsets, anchor)
    # A day lists the person when they were created before its window began.
    unlisted = _unlisted_mask(offsets, d0, d0 + len(days) - 1, anchor, listed_after)
    leave_by_kind: dict[str, int] = {}
    late = 0
    for i, day in enumerate(days):
        number = d0 + i
        found = by_day.get(number)
        if found is not None:
            row.days_present += 1
            if found.complete:
                row.days_complete += 1
                assert found.first_in is not None
                assert found.last_out is not None
                row.worked += timedelta(microseconds=found.last_out - found.first_in)
            elif found.first_in is not None:
                row.days_in_only += 1
            else:
                row.days_out_only += 1
        if unlisted >> i & 1 or not working >> i & 1:
            continue
        row.working_days += 1
        kind = leave.get(day)
        if kind is not None:
            leave_by_kind[kind] = leave_by_kind.get(kind, 0) + 1
        elif found is not None:
            if found.first_in is not None:
                row.days_attended += 1
                if shift is not None:
                    fi = found.first_in
                    since_window = fi + offsets.at(fi) - number * DAY_US - anchor
                    late += since_window > shift.late_after_us
        elif due >> i & 1:
            row.days_absent += 1
    row.days_late = late
    row.days_on_leave = leave_counts(leave_by_kind)
