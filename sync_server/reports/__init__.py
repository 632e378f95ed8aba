"""Attendance reports: the day view, the monthly summary, CSV and HRMS exports, the HRMS push.

One module per topic: ``timebase`` (microseconds, day numbers, the zone's offset as SQL),
``shifts`` (shifts as the reports apply them, who is listed), ``day``, ``month``, ``export``
(CSV) and ``hrms`` (the outbound Frappe HRMS client). This package re-exports what the rest
of the server uses.

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

from sync_server.reports.adjust import LeaveKind, load_leave_kinds
from sync_server.reports.day import DayCorrection, DayReport, DayRow, Status, day_view
from sync_server.reports.export import CsvRows, export_csv
from sync_server.reports.hrms import Checkin, PushFailure, PushResult, hrms_checkins, push_checkins
from sync_server.reports.month import (
    SummaryReport,
    SummaryRow,
    month_bounds,
    month_summary,
    range_summary,
    worked_hours,
)
from sync_server.reports.shifts import Shift, load_shifts, people_counts
from sync_server.reports.timebase import (
    DAY_US,
    FIRST_DAY,
    LAST_DAY,
    MAX_RANGE_DAYS,
    Offsets,
    check_range,
    day_number,
    from_us,
    local_today,
    zone,
)

__all__ = [
    "DAY_US",
    "FIRST_DAY",
    "LAST_DAY",
    "MAX_RANGE_DAYS",
    "Checkin",
    "CsvRows",
    "DayCorrection",
    "DayReport",
    "DayRow",
    "LeaveKind",
    "Offsets",
    "PushFailure",
    "PushResult",
    "Shift",
    "Status",
    "SummaryReport",
    "SummaryRow",
    "check_range",
    "day_number",
    "day_view",
    "export_csv",
    "from_us",
    "hrms_checkins",
    "load_leave_kinds",
    "load_shifts",
    "local_today",
    "month_bounds",
    "month_summary",
    "people_counts",
    "push_checkins",
    "range_summary",
    "worked_hours",
    "zone",
]
