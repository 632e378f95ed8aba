"""The monthly (or any range's) summary per person: days present, late, punctuality, hours."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_server.db import UTCDateTime, events, people
from sync_server.reports.shifts import (
    Shift,
    load_shifts,
    people_and_shift,
    person_filters,
    shift_classes,
)
from sync_server.reports.timebase import (
    DAY_US,
    EPOCH,
    day_number,
    local_day,
    offsets_for_days,
    sql_int,
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
    offsets = offsets_for_days(tz, d0, d1)
    eu = events.c.effective_us
    is_in = events.c.kind == "in"
    is_out = events.c.kind == "out"
    array = "json_build_array" if conn.dialect.name == "postgresql" else "json_array"
    range_end = EPOCH + timedelta(microseconds=offsets.first_at_or_after((d1 + 1) * DAY_US))
    by_class: list[tuple[int, Any]] = []
    for cls in shift_classes(conn, all_shifts):
        lo, hi = cls.scan_range(offsets, d0, d1)
        anchor = sql_int(cls.anchor_us)
        dk = local_day(eu, offsets, anchor)
        # One person's days: a few dozen rows, grouped (and sorted) per person, in cache.
        per_day = (
            sa.select(
                dk.label("dk"),
                sa.func.min(sa.case((is_in, eu))).label("fi"),
                sa.func.max(sa.case((is_out, eu))).label("lo"),
            )
            .where(events.c.person_id == people.c.id, eu >= sql_int(lo), eu < sql_int(hi))
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
            since_window = first_in_local - per_day.c.dk * sql_int(DAY_US) - anchor
            late = since_window > sql_int(cls.shift.late_after_us)
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
            .where(per_day.c.dk.between(sql_int(d0), sql_int(d1)))
            .correlate(people)
            .scalar_subquery()
        )
        by_class.append((cls.id, stats))
    # One pass over people; CASE runs only the subquery of the person's own shift.
    join, effective = people_and_shift()
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
            *person_filters(group, department),
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
