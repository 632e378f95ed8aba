"""The site's working calendar: which weekdays each group works, and the site's public
holidays and company days off. A day that is not a working day is never an absence.

Days are the site's wall-clock dates (``ServerConfig.site_timezone``), as the reports count
them. The week of a group is its row in ``work_weeks``; a group without a row works the
site's default week (the row of group ``*``), and a site without that works Monday to Friday.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_server.db import days_off, work_weeks

SITE_DEFAULT = "*"  # work_weeks.group_name of the site's default week
MONDAY_TO_FRIDAY = "1111100"
DAY_OFF_KINDS = ("holiday", "day_off")
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def parse_weekdays(text: str) -> str:
    """A week as stored: seven characters, Monday first, ``1`` a working day. Accepts that
    form, or day names and ranges (``Mon-Fri``, ``mon,wed,fri``, ``Mon-Sat``)."""
    spelled = text.strip()
    if len(spelled) == 7 and set(spelled) <= {"0", "1"}:
        return spelled
    names = [name.lower() for name in WEEKDAY_NAMES]
    working = ["0"] * 7
    for part in filter(None, (p.strip().lower() for p in spelled.split(","))):
        first, _, last = part.partition("-")
        if first[:3] not in names or (last and last[:3] not in names):
            raise ValueError(
                f"not a week: {text!r} (seven 0/1 characters from Monday, or day names such "
                "as Mon-Fri or Mon,Wed,Fri)"
            )
        start = names.index(first[:3])
        end = names.index(last[:3]) if last else start
        span = range(start, end + 1) if start <= end else [*range(start, 7), *range(end + 1)]
        for index in span:
            working[index] = "1"
    return "".join(working)


def describe_weekdays(weekdays: str) -> str:
    """``"1111100"`` -> ``"Mon-Fri"``; ``"1010100"`` -> ``"Mon, Wed, Fri"``."""
    runs: list[str] = []
    index = 0
    while index < 7:
        if weekdays[index] != "1":
            index += 1
            continue
        end = index
        while end + 1 < 7 and weekdays[end + 1] == "1":
            end += 1
        if end - index >= 2:
            runs.append(f"{WEEKDAY_NAMES[index]}-{WEEKDAY_NAMES[end]}")
        else:
            runs.extend(WEEKDAY_NAMES[i] for i in range(index, end + 1))
        index = end + 1
    return ", ".join(runs) or "none"


@dataclass(frozen=True, slots=True)
class DayOff:
    day: date
    kind: str  # holiday | day_off
    name: str


@dataclass(frozen=True, slots=True)
class SiteCalendar:
    """The calendar of a range of days, loaded once: answers per group and day in memory."""

    weeks: Mapping[str, str] = field(default_factory=dict)
    days_off: Mapping[date, DayOff] = field(default_factory=dict)

    def week(self, group: str) -> str:
        return self.weeks.get(group) or self.weeks.get(SITE_DEFAULT) or MONDAY_TO_FRIDAY

    def day_off(self, day: date) -> DayOff | None:
        return self.days_off.get(day)

    def is_working(self, group: str, day: date) -> bool:
        return self.week(group)[day.weekday()] == "1" and day not in self.days_off

    def working_days(self, group: str, first: date, last: date) -> list[date]:
        """The group's working days from ``first`` to ``last``, both included."""
        return [day for day in days(first, last) if self.is_working(group, day)]


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def load_calendar(
    conn: Connection, first: date, last: date, groups: Iterable[str] | None = None
) -> SiteCalendar:
    """The weeks of ``groups`` (all when None) and the days off from ``first`` to ``last``."""
    query = sa.select(work_weeks.c.group_name, work_weeks.c.weekdays)
    if groups is not None:
        query = query.where(work_weeks.c.group_name.in_({*groups, SITE_DEFAULT}))
    weeks = {row.group_name: row.weekdays for row in conn.execute(query)}
    rows = conn.execute(
        sa.select(days_off.c.day, days_off.c.kind, days_off.c.name).where(
            days_off.c.day.between(first, last)
        )
    )
    return SiteCalendar(weeks, {row.day: DayOff(row.day, row.kind, row.name) for row in rows})
