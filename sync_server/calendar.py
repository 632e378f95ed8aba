"""The site's working calendar: which weekdays each group works, and the site's public
holidays and company days off. A day that is not a working day is never an absence.

Days are the site's wall-clock dates (``ServerConfig.site_timezone``), as the reports count
them. The week of a group is its row in ``work_weeks``; a group without a row works the
site's default week (the row of group ``*``), and a site without that works Monday to Friday.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import MAXYEAR, MINYEAR, date, datetime, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from edge.protocol import ID_PATTERN
from sync_server import audit
from sync_server.calendar_files import (
    CalendarFileError,
    Entry,
    decode,
    looks_like_ics,
    parse_csv,
    parse_ics,
    write_csv,
)
from sync_server.db import (
    Database,
    days_off,
    group_shifts,
    people,
    shifts,
    terminals,
    work_weeks,
)
from sync_server.domain_errors import ConflictError, NotFoundError, UnacceptableError
from sync_server.schemas.calendar import (
    DayOffCreate,
    DayOffInfo,
    DayOffUpdate,
    ImportLine,
    ImportReport,
    WeekInfo,
    WeekShift,
)

SITE_DEFAULT = "*"  # work_weeks.group_name of the site's default week
MONDAY_TO_FRIDAY = "1111100"
DAY_OFF_KINDS = ("holiday", "day_off")
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_GROUP = re.compile(ID_PATTERN)


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


# --- bookkeeping: the weeks, the days off and their import (API, admin web, CLI) ------------
# Every change writes one audit row per week or day changed, in the change's transaction.


def _check_group(group: str) -> str:
    if group != SITE_DEFAULT and not _GROUP.match(group):
        raise UnacceptableError(
            "bad_group", f"{group!r} is not a group name (letters, digits, . _ -; or '*')"
        )
    return group


def _week_text(text: str) -> str:
    try:
        weekdays = parse_weekdays(text)
    except ValueError as exc:
        raise UnacceptableError("bad_week", str(exc)) from exc
    if "1" not in weekdays:
        raise UnacceptableError("bad_week", f"{text!r}: a week needs at least one working day")
    return weekdays


def known_groups(conn: Connection) -> list[str]:
    """Every group the server knows: of people, terminals, group shifts and weeks."""
    names: set[str] = set()
    for column in (
        people.c.group_name,
        terminals.c.group_name,
        group_shifts.c.group_name,
        work_weeks.c.group_name,
    ):
        names.update(conn.execute(sa.select(column).distinct()).scalars())
    names.discard(SITE_DEFAULT)
    return sorted(names)


def _group_shifts(conn: Connection) -> dict[str, WeekShift]:
    rows = conn.execute(
        sa.select(
            group_shifts.c.group_name,
            shifts.c.id,
            shifts.c.name,
            shifts.c.start_time,
            shifts.c.end_time,
        ).join(shifts, shifts.c.id == group_shifts.c.shift_id)
    )
    return {
        row.group_name: WeekShift(id=row.id, name=row.name, start=row.start_time, end=row.end_time)
        for row in rows
    }


def week_list(conn: Connection) -> list[WeekInfo]:
    """The site default first, then every known group: its week and its shift."""
    own = {row.group_name: row for row in conn.execute(sa.select(work_weeks))}
    group_shift = _group_shifts(conn)
    default_row = own.get(SITE_DEFAULT)
    default = default_row.weekdays if default_row is not None else MONDAY_TO_FRIDAY
    answer = []
    for group in [SITE_DEFAULT, *known_groups(conn)]:
        row = own.get(group)
        weekdays = row.weekdays if row is not None else default
        answer.append(
            WeekInfo(
                group=group,
                weekdays=weekdays,
                described=describe_weekdays(weekdays),
                own=row is not None,
                shift=group_shift.get(group),
                updated_at=row.updated_at if row is not None else None,
                updated_by=row.updated_by if row is not None else None,
            )
        )
    return answer


@contextmanager
def _changed_meanwhile(reason: str, detail: str) -> Iterator[None]:
    """A conflict when a concurrent request stored the same key between our check and write
    (PostgreSQL; SQLite's write transactions do not overlap)."""
    try:
        yield
    except sa.exc.IntegrityError as exc:
        raise ConflictError(reason, f"{detail}; try again") from exc


def _week(conn: Connection, group: str) -> WeekInfo:
    return next(w for w in week_list(conn) if w.group == group)


def set_week(db: Database, group: str, text: str, *, actor: str, now: datetime) -> WeekInfo:
    """Set a group's week (``*``: the site default) from ``Mon-Fri``-like text."""
    _check_group(group)
    weekdays = _week_text(text)
    # Two first weeks of one group at once (PostgreSQL): the second insert clashes.
    meanwhile = _changed_meanwhile("week_changed", f"the week of {group!r} was set meanwhile")
    with meanwhile, db.write() as conn:
        before = conn.execute(
            sa.select(work_weeks.c.weekdays).where(work_weeks.c.group_name == group)
        ).scalar_one_or_none()
        if before == weekdays:
            return _week(conn, group)
        values = {"weekdays": weekdays, "updated_at": now, "updated_by": actor}
        if before is None:
            conn.execute(sa.insert(work_weeks).values(group_name=group, **values))
        else:
            conn.execute(
                sa.update(work_weeks).where(work_weeks.c.group_name == group).values(values)
            )
        audit.record(
            conn,
            actor=actor,
            action="create" if before is None else "update",
            entity="work_week",
            entity_id=group,
            now=now,
            before=None if before is None else {"group": group, "weekdays": before},
            after={"group": group, "weekdays": weekdays},
        )
        return _week(conn, group)


def unset_week(db: Database, group: str, *, actor: str, now: datetime) -> None:
    """Remove a group's own week: it works the site default again (``*``: Monday-Friday)."""
    _check_group(group)
    with db.write() as conn:
        before = conn.execute(
            sa.select(work_weeks.c.weekdays).where(work_weeks.c.group_name == group)
        ).scalar_one_or_none()
        if before is None:
            raise NotFoundError("unknown_week", f"group {group!r} has no week of its own")
        conn.execute(sa.delete(work_weeks).where(work_weeks.c.group_name == group))
        audit.record(
            conn,
            actor=actor,
            action="delete",
            entity="work_week",
            entity_id=group,
            now=now,
            before={"group": group, "weekdays": before},
        )


def _day_off_info(row: Any) -> DayOffInfo:
    return DayOffInfo(
        day=row.day,
        weekday=WEEKDAY_NAMES[row.day.weekday()],
        kind=row.kind,
        name=row.name,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _plain(day: date, kind: str, name: str) -> dict[str, str]:
    return {"day": day.isoformat(), "kind": kind, "name": name}


def list_days_off(
    conn: Connection, first: date | None = None, last: date | None = None
) -> list[DayOffInfo]:
    query = sa.select(days_off).order_by(days_off.c.day)
    if first is not None:
        query = query.where(days_off.c.day >= first)
    if last is not None:
        query = query.where(days_off.c.day <= last)
    return [_day_off_info(row) for row in conn.execute(query)]


def year_range(year: int) -> tuple[date, date]:
    if not MINYEAR < year < MAXYEAR:
        raise UnacceptableError("bad_year", f"{year} is not a year")
    return date(year, 1, 1), date(year, 12, 31)


def add_days_off(
    db: Database, body: DayOffCreate, *, actor: str, now: datetime
) -> list[DayOffInfo]:
    """One day off per date from ``body.day`` to ``body.to``; none if any is there already."""
    last = body.to or body.day
    wanted = list(days(body.day, last))
    detail = f"a day off on {body.day}" + (f" to {last}" if last != body.day else "")
    with _changed_meanwhile("day_off_exists", detail + " exists"), db.write() as conn:
        taken = list_days_off(conn, body.day, last)
        if taken:
            listed = ", ".join(f"{d.day} ({d.name})" for d in taken[:5])
            raise ConflictError(
                "day_off_exists",
                f"already a day off: {listed}{' …' if len(taken) > 5 else ''}; rename or "
                "delete it, or import a file, which updates names",
            )
        conn.execute(
            sa.insert(days_off),
            [
                {
                    "day": day,
                    "kind": body.kind,
                    "name": body.name,
                    "created_at": now,
                    "created_by": actor,
                }
                for day in wanted
            ],
        )
        for day in wanted:
            audit.record(
                conn,
                actor=actor,
                action="create",
                entity="day_off",
                entity_id=day.isoformat(),
                now=now,
                after=_plain(day, body.kind, body.name),
            )
        return list_days_off(conn, body.day, last)


def _stored(conn: Connection, day: date) -> Any:
    row = conn.execute(sa.select(days_off).where(days_off.c.day == day)).first()
    if row is None:
        raise NotFoundError("unknown_day_off", f"no day off on {day}")
    return row


def update_day_off(
    db: Database, day: date, body: DayOffUpdate, *, actor: str, now: datetime
) -> DayOffInfo:
    """Rename a day off or change its kind (only the fields sent)."""
    with db.write() as conn:
        row = _stored(conn, day)
        name = body.name if body.name is not None else row.name
        kind = body.kind if body.kind is not None else row.kind
        if (name, kind) != (row.name, row.kind):
            conn.execute(
                sa.update(days_off).where(days_off.c.day == day).values(name=name, kind=kind)
            )
            audit.record(
                conn,
                actor=actor,
                action="update",
                entity="day_off",
                entity_id=day.isoformat(),
                now=now,
                before=_plain(day, row.kind, row.name),
                after=_plain(day, kind, name),
            )
        return _day_off_info(_stored(conn, day))


def delete_day_off(db: Database, day: date, *, actor: str, now: datetime) -> None:
    with db.write() as conn:
        row = _stored(conn, day)
        conn.execute(sa.delete(days_off).where(days_off.c.day == day))
        audit.record(
            conn,
            actor=actor,
            action="delete",
            entity="day_off",
            entity_id=day.isoformat(),
            now=now,
            before=_plain(day, row.kind, row.name),
        )


def days_off_csv(conn: Connection, first: date | None, last: date | None) -> str:
    """The days off as the CSV the import reads (``date,name,kind``)."""
    return write_csv((d.day, d.name, d.kind) for d in list_days_off(conn, first, last))


def read_file(
    data: bytes,
    *,
    zone: tzinfo,
    year: int,
    kind: str,
    fmt: str = "auto",
    filename: str | None = None,
) -> tuple[str, list[Entry]]:
    """The file's format (ics or csv) and its entries; a file that cannot be read at all is
    refused with one error naming the line."""
    if kind not in DAY_OFF_KINDS:
        raise UnacceptableError("unknown_kind", f"{kind!r} is not a kind (holiday or day_off)")
    try:
        text = decode(data)
        if not text.strip():
            raise CalendarFileError(1, "the file is empty")
        if fmt == "auto":
            fmt = "ics" if looks_like_ics(text, filename) else "csv"
        if fmt == "ics":
            return fmt, parse_ics(text, zone, year, kind)
        if fmt == "csv":
            return fmt, parse_csv(text, kind)
    except CalendarFileError as exc:
        raise UnacceptableError("bad_calendar_file", str(exc)) from exc
    raise UnacceptableError("bad_format", f"{fmt!r} is not a format (auto, ics or csv)")


def _plan(conn: Connection, entries: list[Entry]) -> list[ImportLine]:
    """What the import does with each entry, against what is stored."""
    days_named = [e.day for e in entries if not e.refused and e.day is not None]
    stored = {}
    if days_named:
        rows = conn.execute(
            sa.select(days_off).where(days_off.c.day.between(min(days_named), max(days_named)))
        )
        stored = {row.day: row for row in rows}
    seen: dict[date, int] = {}
    lines: list[ImportLine] = []
    for entry in entries:
        base = {"line": entry.line, "day": entry.day, "name": entry.name, "kind": entry.kind}
        if entry.refused or entry.day is None or entry.name is None or entry.kind is None:
            lines.append(
                ImportLine(**base, outcome="refused", reason=entry.reason, detail=entry.detail)
            )
            continue
        if entry.day in seen:
            lines.append(
                ImportLine(
                    **base,
                    outcome="refused",
                    reason="duplicate_in_file",
                    detail=f"{entry.day} is named already on line {seen[entry.day]}",
                )
            )
            continue
        seen[entry.day] = entry.line
        row = stored.get(entry.day)
        if row is None:
            lines.append(ImportLine(**base, outcome="added", reason=None, detail="new day off"))
        elif (row.name, row.kind) == (entry.name, entry.kind):
            lines.append(
                ImportLine(**base, outcome="unchanged", reason=None, detail="already there, kept")
            )
        else:
            was = row.name if row.kind == entry.kind else f"{row.name} ({row.kind})"
            lines.append(
                ImportLine(
                    **base,
                    outcome="updated",
                    reason=None,
                    detail=f"already there as {was!r}: updated to the file's",
                )
            )
    return lines


def _report(fmt: str, dry_run: bool, year: int, lines: list[ImportLine]) -> ImportReport:
    counts = {outcome: 0 for outcome in ("added", "updated", "unchanged", "refused")}
    for line in lines:
        counts[line.outcome] += 1
    return ImportReport(format=fmt, dry_run=dry_run, year=year, lines=lines, **counts)


def import_days_off(
    db: Database,
    data: bytes,
    *,
    zone: tzinfo,
    year: int,
    kind: str = "holiday",
    fmt: str = "auto",
    filename: str | None = None,
    dry_run: bool = False,
    actor: str,
    now: datetime,
) -> ImportReport:
    """Add the days off a file names and update the names that changed; entries that cannot
    be used are refused line by line and the rest imported. ``dry_run``: the same report,
    nothing stored. Importing the same file again changes nothing."""
    found_fmt, entries = read_file(
        data, zone=zone, year=year, kind=kind, fmt=fmt, filename=filename
    )
    if dry_run:
        with db.read() as conn:
            return _report(found_fmt, True, year, _plan(conn, entries))
    meanwhile = _changed_meanwhile("day_off_exists", "a day off of the file was stored meanwhile")
    with meanwhile, db.write() as conn:
        lines = _plan(conn, entries)
        for line in lines:
            if line.outcome in ("added", "updated"):
                _apply(conn, line, actor=actor, now=now)
    return _report(found_fmt, False, year, lines)


def _apply(conn: Connection, line: ImportLine, *, actor: str, now: datetime) -> None:
    day, name, kind = line.day, line.name, line.kind
    if day is None or name is None or kind is None:
        raise AssertionError(f"a planned line without day, name or kind: {line}")
    before = None
    if line.outcome == "added":
        conn.execute(
            sa.insert(days_off).values(
                day=day, kind=kind, name=name, created_at=now, created_by=actor
            )
        )
    else:
        row = _stored(conn, day)
        before = _plain(day, row.kind, row.name)
        conn.execute(sa.update(days_off).where(days_off.c.day == day).values(kind=kind, name=name))
    audit.record(
        conn,
        actor=actor,
        action="import",
        entity="day_off",
        entity_id=day.isoformat(),
        now=now,
        before=before,
        after=_plain(day, kind, name),
    )
