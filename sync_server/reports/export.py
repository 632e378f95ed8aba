"""CSV exports: one row per person and shift day, or one per stored event.

The words of an export (headers, statuses, yes/no, in/out, added/voided) come in the
reader's language from the one gettext catalogue (:mod:`sync_server.catalogue`); English is
the columns' names and the statuses' codes as integrations have always parsed them. Dates,
times and numbers stay in their ISO and plain forms in every language, so a file is read
by a program alike whatever its words.
"""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_server.catalogue import DEFAULT, N_, STATUS_WORDS, translations
from sync_server.db import Database, corrections, epoch_us, events, people
from sync_server.reports.adjust import Adjustments, load_corrections
from sync_server.reports.day import DayCorrection, DayRow, day_view
from sync_server.reports.shifts import person_filters
from sync_server.reports.timebase import EPOCH, Offsets, calendar_range


class CsvRows(enum.StrEnum):
    DAYS = "days"
    EVENTS = "events"


DAY_COLUMNS = (
    N_("date"),
    N_("person_id"),
    N_("name"),
    N_("group"),
    N_("department"),
    N_("employee_id"),
    N_("shift"),
    N_("shift_start"),
    N_("first_in"),
    N_("last_out"),
    N_("worked_minutes"),
    N_("status"),
    N_("late"),
    N_("late_minutes"),
    N_("events"),
    N_("working_day"),
    N_("day_off"),
    N_("leave"),
    N_("corrected"),
    N_("corrections"),
)
EVENT_COLUMNS = (
    N_("event_id"),
    N_("local_time"),
    N_("utc_time"),
    N_("person_id"),
    N_("name"),
    N_("group"),
    N_("department"),
    N_("employee_id"),
    N_("kind"),
    N_("device_id"),
    N_("time_source"),
    N_("person_known"),
    N_("liveness_score"),
    N_("liveness_passed"),
    N_("liveness_reasons"),
    N_("needs_review"),
    N_("reviewed_at"),
    N_("reviewed_by"),
    N_("corrected"),
    N_("correction_reason"),
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
ADDED = N_("added")
VOIDED = N_("voided")
YES = N_("yes")
NO = N_("no")
KINDS = (N_("in"), N_("out"))


class CsvWords:
    """An export's words in one language: English is the text as it has always been (every
    cell as the code writes it); another language translates each word once, up front,
    so a row costs a dictionary lookup, as in English."""

    def __init__(self, locale: str = DEFAULT) -> None:
        self.locale = locale
        word: Callable[[str], str]
        if locale == DEFAULT:
            word = str
            statuses = {status: status for status in STATUS_WORDS}
        else:
            gettext = translations(locale).gettext
            word = gettext
            statuses = {status: gettext(text) for status, text in STATUS_WORDS.items()}
        self.statuses = statuses
        self.yes, self.no = word(YES), word(NO)
        self.added, self.voided = word(ADDED), word(VOIDED)
        self.kinds = {kind: word(kind) for kind in KINDS}
        self.columns = {name: word(name) for name in (*DAY_COLUMNS, *EVENT_COLUMNS)}

    def header(self, columns: Sequence[str]) -> list[str]:
        return [self.columns[name] for name in columns]

    def yes_no(self, value: bool | None) -> str:
        return "" if value is None else (self.yes if value else self.no)

    def status(self, value: str) -> str:
        return self.statuses.get(value, value)

    def kind(self, value: str) -> str:
        return self.kinds.get(value, value)


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

    def __init__(self, columns: Sequence[str], header: Sequence[str] | None = None) -> None:
        """``columns``: the English names (they say which are free text); ``header``: the
        names written, in the reader's language (default: ``columns``)."""
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")
        self._free = tuple(i for i, name in enumerate(columns) if name in FREE_TEXT_COLUMNS)
        self._writer.writerow(columns if header is None else header)

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
    locale: str = DEFAULT,
) -> Iterator[str]:
    """CSV text (header first, RFC 4180, CRLF) in chunks of whole lines, generated lazily
    for streaming.

    ``days``: one row per person and shift day, exactly the day view (absent days included;
    days not due yet at ``now`` are ``not_yet``).
    ``events``: one row per stored event in the calendar days ``first_day..last_day`` (site
    zone), people the server no longer knows included (``person_known`` false).
    ``locale``: the language of the words (headers, statuses, yes/no); English by default.
    """
    if last_day < first_day:
        raise ValueError("last_day is before first_day")
    words = CsvWords(locale)
    if rows is CsvRows.EVENTS:
        yield from _export_events(conn, first_day, last_day, tz, group, department, words)
        return
    out = _CsvChunks(DAY_COLUMNS, words.header(DAY_COLUMNS))
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
                    words.status(r.status.value),
                    words.yes_no(r.late),
                    "" if r.late_minutes is None else r.late_minutes,
                    r.events,
                    words.yes_no(r.working),
                    r.day_off.name if r.day_off else "",
                    r.leave.code if r.leave else "",
                    day_corrected(r, words),
                    "; ".join(correction_text(c, words) for c in r.corrections),
                )
            )
            if chunk:
                yield chunk
        day += timedelta(days=1)
    yield out.take()


def export_stream(
    db: Database,
    first_day: date,
    last_day: date,
    *,
    tz: ZoneInfo,
    rows: CsvRows,
    group: str | None,
    department: str | None,
    locale: str,
) -> Iterator[str]:
    """:func:`export_csv` in its own read transaction, for a streamed answer (the API's and
    the admin web's download): the transaction lives as long as the stream, and closing the
    generator (the client gone) ends it."""
    with db.read() as conn:
        yield from export_csv(
            conn,
            first_day,
            last_day,
            tz=tz,
            rows=rows,
            group=group,
            department=department,
            locale=locale,
        )


def day_corrected(row: DayRow, words: CsvWords) -> str:
    """The day row's ``corrected`` cell: which of its values come from a correction (named
    as their columns are)."""
    if not row.corrections:
        return ""
    which = [
        words.columns[name]
        for name, flag in (
            ("first_in", row.first_in_corrected),
            ("last_out", row.last_out_corrected),
        )
        if flag
    ]
    return " ".join(which) or words.voided


def correction_text(c: DayCorrection, words: CsvWords) -> str:
    verb = words.added if c.action == "add" else words.voided
    return f"{verb} {words.kind(c.kind)} {c.at:%H:%M}: {c.reason} ({c.created_by})"


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
    words: CsvWords,
) -> Iterator[str]:
    lo, hi, offsets = calendar_range(tz, first_day, last_day)
    query = events_query(lo, hi, group, department, known_only=False)
    voided = voided_events(conn, lo, hi)
    # Added punches are few: merged into the event stream by time.
    added = added_punches(conn, lo, hi, group, department, known_only=False)
    out = _CsvChunks(EVENT_COLUMNS, words.header(EVENT_COLUMNS))
    result = conn.execution_options(yield_per=1000).execute(query)
    position = 0
    for r in result:
        eu = int(r.effective_us)
        while position < len(added) and int(added[position].effective_us) < eu:
            chunk = out.add(_added_row(added[position], offsets, words))
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
                words.kind(r.kind),
                r.device_id,
                r.time_source,
                words.yes_no(bool(r.person_known)),
                "" if r.liveness_score is None else r.liveness_score,
                words.yes_no(r.liveness_passed),
                r.liveness_reasons or "",
                words.yes_no(r.liveness_passed is False and r.reviewed_at is None),
                local_text(None if r.reviewed_at is None else r.reviewed_at.astimezone(tz)),
                r.reviewed_by or "",
                "" if reason is None else words.voided,
                reason or "",
            )
        )
        if chunk:
            yield chunk
    for row in added[position:]:
        chunk = out.add(_added_row(row, offsets, words))
        if chunk:
            yield chunk
    yield out.take()


def _added_row(r: Any, offsets: Offsets, words: CsvWords) -> tuple[Any, ...]:
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
        words.kind(r.kind),
        "",
        "correction",
        words.yes_no(r.name is not None),
        "",
        "",
        "",
        words.no,
        "",
        "",
        words.added,
        r.reason,
    )
