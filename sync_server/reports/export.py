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

from sync_server.db import corrections, epoch_us, events, people
from sync_server.reports.adjust import Adjustments, load_corrections
from sync_server.reports.day import DayCorrection, DayRow, day_view
from sync_server.reports.shifts import person_filters
from sync_server.reports.timebase import EPOCH, Offsets, calendar_range


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
    "working_day",
    "day_off",
    "leave",
    "corrected",
    "corrections",
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
    "corrected",
    "correction_reason",
)


# A spreadsheet reads a cell starting with one of these as a formula (CSV injection): a name
# "=HYPERLINK(...)" would run when payroll opens the file.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Columns whose text comes from admins or terminals. The others are written by this module
# (dates, times, statuses, numbers) and never start with one of those characters; checking
# only these keeps a year's export as fast as before.
FREE_TEXT_COLUMNS = frozenset(
    (
        "person_id",
        "name",
        "group",
        "department",
        "employee_id",
        "shift",
        "device_id",
        "reviewed_by",
        "day_off",
        "leave",
        "corrections",
        "correction_reason",
    )
)
# The correction columns (docs/reports.md, "Corrections in the reports and exports"): in the
# day rows, ``corrected`` says which values an admin's correction produced or changed
# (first_in, last_out, or voided when only voids touched the day); in the event rows,
# ``added`` (a punch an admin added: no terminal event) or ``voided`` (listed, not counted).
ADDED = "added"
VOIDED = "voided"


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
                    "yes" if r.working else "no",
                    r.day_off.name if r.day_off else "",
                    r.leave.code if r.leave else "",
                    day_corrected(r),
                    "; ".join(correction_text(c) for c in r.corrections),
                )
            )
            if chunk:
                yield chunk
        day += timedelta(days=1)
    yield out.take()


def day_corrected(row: DayRow) -> str:
    """The day row's ``corrected`` cell: which of its values come from a correction."""
    if not row.corrections:
        return ""
    which = [
        name
        for name, flag in (
            ("first_in", row.first_in_corrected),
            ("last_out", row.last_out_corrected),
        )
        if flag
    ]
    return " ".join(which) or VOIDED


def correction_text(c: DayCorrection) -> str:
    verb = ADDED if c.action == "add" else VOIDED
    return f"{verb} {c.kind} {c.at:%H:%M}: {c.reason} ({c.created_by})"


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


def added_punches(
    conn: Connection,
    lo: datetime,
    hi: datetime,
    group: str | None,
    department: str | None,
    *,
    known_only: bool,
) -> list[Any]:
    """Live added punches (corrections) in ``[lo, hi)``, with their person, oldest first."""
    join = (
        corrections.join(people, people.c.id == corrections.c.person_id)
        if known_only
        else corrections.outerjoin(people, people.c.id == corrections.c.person_id)
    )
    query = (
        sa.select(
            corrections.c.id,
            corrections.c.effective_us,
            corrections.c.person_id,
            corrections.c.kind,
            corrections.c.reason,
            people.c.name,
            people.c.group_name,
            people.c.department,
            sa.func.coalesce(people.c.employee_id, people.c.id).label("employee_id"),
        )
        .select_from(join)
        .where(
            corrections.c.action == "add",
            corrections.c.revoked_at.is_(None),
            corrections.c.effective_us >= epoch_us(lo),
            corrections.c.effective_us < epoch_us(hi),
        )
        .where(*person_filters(group, department))
        .order_by(corrections.c.effective_us, corrections.c.id)
    )
    return list(conn.execute(query))


def voided_events(conn: Connection, lo: datetime, hi: datetime) -> dict[str, str]:
    """event id -> the live void's reason, for the events of ``[lo, hi)``."""
    found: Adjustments = load_corrections(conn, epoch_us(lo), epoch_us(hi))
    return {
        str(c.event_id): c.reason
        for mine in found.by_person.values()
        for c in mine
        if c.action == "void"
    }


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
    voided = voided_events(conn, lo, hi)
    # Added punches are few: merged into the event stream by time.
    added = added_punches(conn, lo, hi, group, department, known_only=False)
    out = _CsvChunks(EVENT_COLUMNS)
    result = conn.execution_options(yield_per=1000).execute(query)
    position = 0
    for r in result:
        eu = int(r.effective_us)
        while position < len(added) and int(added[position].effective_us) < eu:
            chunk = out.add(_added_row(added[position], offsets))
            position += 1
            if chunk:
                yield chunk
        at = EPOCH + timedelta(microseconds=eu)
        reason = voided.get(str(r.id))
        chunk = out.add(
            (
                str(r.id),
                local_text(offsets.local(eu)),
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
                "" if reason is None else VOIDED,
                reason or "",
            )
        )
        if chunk:
            yield chunk
    for row in added[position:]:
        chunk = out.add(_added_row(row, offsets))
        if chunk:
            yield chunk
    yield out.take()


def _added_row(r: Any, offsets: Offsets) -> tuple[Any, ...]:
    eu = int(r.effective_us)
    at = EPOCH + timedelta(microseconds=eu)
    return (
        f"correction-{r.id}",
        local_text(offsets.local(eu)),
        at.isoformat().replace("+00:00", "Z"),
        r.person_id,
        r.name or "",
        r.group_name or "",
        r.department or "",
        r.employee_id or "",
        r.kind,
        "",
        "correction",
        "yes" if r.name is not None else "no",
        "",
        "",
        "",
        "no",
        "",
        "",
        ADDED,
        r.reason,
    )
