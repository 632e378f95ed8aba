"""The reports' time base: microseconds since the epoch, day numbers, the site zone's UTC
offset as SQL, the range of days a report may cover."""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from edge.protocol import EARLIEST_TIME, LATEST_TIME
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
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def day_number(day: date) -> int:
    return day.toordinal() - _EPOCH_ORDINAL


def from_us(value: int, tz: ZoneInfo) -> datetime:
    return (EPOCH + timedelta(microseconds=value)).astimezone(tz)


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


@dataclass(frozen=True, slots=True)
class Offsets:
    """The zone's UTC offset over a time range: ``values[i]`` holds from ``starts[i]`` on
    (``starts[0]`` is the range start but the first value also covers anything before)."""

    starts: tuple[int, ...]
    values: tuple[int, ...]
    # Per segment: the Unix epoch on that segment's wall clock, with its fixed offset.
    _epochs: tuple[datetime, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        epochs = tuple(
            (_EPOCH_NAIVE + timedelta(microseconds=offset)).replace(tzinfo=_fixed_zone(offset))
            for offset in self.values
        )
        object.__setattr__(self, "_epochs", epochs)

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
        cheaper: reports convert two times per row for thousands of rows. One addition to
        the segment's local epoch (aware, so no ``replace`` per call)."""
        i = bisect.bisect_right(self.starts, utc_us) - 1 if len(self.starts) > 1 else 0
        return self._epochs[max(i, 0)] + timedelta(microseconds=utc_us)

    @property
    def smallest(self) -> int:
        return min(self.values)

    @property
    def largest(self) -> int:
        return max(self.values)

    def expr(self, utc_us: sa.ColumnElement[int]) -> sa.ColumnElement[int]:
        """SQL for the offset at ``utc_us``: a constant, or a CASE over the transitions."""
        if len(self.values) == 1:
            return sql_int(self.values[0])
        whens = [
            (utc_us < sql_int(start), sql_int(value))
            for start, value in zip(self.starts[1:], self.values[:-1], strict=True)
        ]
        return sa.case(*whens, else_=sql_int(self.values[-1]))

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


def sql_int(value: int) -> sa.ColumnElement[int]:
    # Typed BIGINT so that // stays integer division on PostgreSQL too.
    return sa.literal(value, sa.BigInteger)


def without_jit(conn: Connection) -> None:
    """PostgreSQL: no JIT compilation of the report's queries (for the rest of the caller's
    transaction). The month's plan is thousands of small index scans whose estimated cost
    passes ``jit_above_cost``; compiling it took a quarter of a second per request and the
    query ran 35% longer with it than without."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off")


def local_day(eu: sa.ColumnElement[int], offsets: Offsets, anchor: Any) -> Any:
    """Shift-day number of an event: integer division, identical on both databases."""
    return (eu + offsets.expr(eu) - anchor) // sql_int(DAY_US)


@functools.lru_cache(maxsize=256)
def offsets_for_days(tz: ZoneInfo, first: int, last: int) -> Offsets:
    # Two days of margin each side: anchors reach -4 h/+24 h and offsets +-14 h. Cached: a
    # zone's rules do not change while the server runs, and a month's offsets took about a
    # thousand zoneinfo lookups per request (Offsets is immutable).
    return Offsets.over(tz, (first - 2) * DAY_US, (last + 3) * DAY_US)


def calendar_range(
    tz: ZoneInfo, first_day: date, last_day: date
) -> tuple[datetime, datetime, Offsets]:
    """UTC bounds of the calendar days first_day..last_day in the site zone, and its offsets."""
    d0, d1 = day_number(first_day), day_number(last_day)
    offsets = offsets_for_days(tz, d0, d1)
    lo = offsets.first_at_or_after(d0 * DAY_US)
    hi = offsets.first_at_or_after((d1 + 1) * DAY_US)
    return EPOCH + timedelta(microseconds=lo), EPOCH + timedelta(microseconds=hi), offsets
