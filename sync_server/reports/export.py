"""CSV exports: one row per person and shift day, or one per stored event."""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_server.db import events, people
from sync_server.reports.day import day_view
from sync_server.reports.shifts import person_filters
from sync_server.reports.timebase import EPOCH, calendar_range


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


def local_text(value: datetime | None) -> str:
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
                    local_text(r.first_in),
                    local_text(r.last_out),
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


def events_query(
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
        .where(*person_filters(group, department))
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
    lo, hi, offsets = calendar_range(tz, first_day, last_day)
    query = events_query(lo, hi, group, department, known_only=False)
    out = _CsvChunks(EVENT_COLUMNS)
    result = conn.execution_options(yield_per=1000).execute(query)
    for r in result:
        at = EPOCH + timedelta(microseconds=int(r.effective_us))
        chunk = out.add(
            (
                str(r.id),
                local_text(offsets.local(int(r.effective_us))),
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
                local_text(None if r.reviewed_at is None else r.reviewed_at.astimezone(tz)),
                r.reviewed_by or "",
            )
        )
        if chunk:
            yield chunk
    yield out.take()
