"""Reading (and writing) days off from files: iCalendar (.ics, RFC 5545) and CSV.

Pure functions, no database: a file becomes a list of :class:`Entry`, one per day it names
or per entry refused (with the line it is on and why). sync_server/calendar.py compares
them with what is stored and applies them. A file that cannot be read as a whole (not
UTF-8, not an iCalendar file, a component never closed) raises :class:`CalendarFileError`
naming its line; a bad entry refuses that entry only.

Our own small parser rather than a dependency: a holiday calendar uses a handful of
properties (DTSTART, DTEND, DURATION, SUMMARY, RRULE, EXDATE, STATUS), and we want every
refusal to name its line, which general-purpose iCalendar libraries do not keep.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_NAME = 200  # days_off.name
MAX_SPAN_DAYS = 366  # one entry names at most a year of days
# Days off of the years a site can mean; the rest is a typing error (and near date.min or
# date.max, a day's arithmetic would overflow).
FIRST_YEAR, LAST_YEAR = 1900, 2999

# The kinds a CSV may spell, in English or Indonesian ("libur nasional" is a public holiday,
# "cuti bersama" the collective leave the government sets around Lebaran and Christmas).
KIND_WORDS = {
    "holiday": "holiday",
    "public_holiday": "holiday",
    "libur": "holiday",
    "libur_nasional": "holiday",
    "day_off": "day_off",
    "dayoff": "day_off",
    "company": "day_off",
    "cuti_bersama": "day_off",
    "libur_perusahaan": "day_off",
}
# A first CSV line starting with one of these is a header, not a refused date.
HEADER_WORDS = frozenset({"date", "day", "tanggal", "tgl", "hari"})
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CalendarFileError(ValueError):
    """The file cannot be read at all; ``line`` is where (1-based)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True)
class Entry:
    """One day a file names, or one entry of it refused (``reason`` set)."""

    line: int
    day: date | None
    name: str | None
    kind: str | None
    reason: str | None = None
    detail: str = ""

    @property
    def refused(self) -> bool:
        return self.reason is not None


def decode(data: bytes) -> str:
    """UTF-8 text (a byte-order mark is dropped); otherwise the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CalendarFileError(line, "the file is not UTF-8 text") from exc


def looks_like_ics(text: str, filename: str | None = None) -> bool:
    """By the content first (BEGIN:VCALENDAR), then by the file's name (.ics)."""
    if text.lstrip().upper().startswith("BEGIN:VCALENDAR"):
        return True
    return bool(filename) and str(filename).lower().endswith((".ics", ".ical", ".icalendar"))


def clean_name(raw: str) -> str:
    """Whitespace collapsed: a name copied from a spreadsheet or a folded line reads as one."""
    return " ".join(raw.split())


def kind_of(raw: str) -> str | None:
    """``holiday`` or ``day_off`` for the words a CSV may use; None for an unknown one."""
    word = re.sub(r"[\s-]+", "_", raw.strip().lower())
    return KIND_WORDS.get(word)


def _named(line: int, day: date | None, raw: str, kind: str) -> Entry:
    name = clean_name(raw)
    if not name:
        return Entry(line, day, None, kind, "empty_name", "the name is empty")
    if len(name) > MAX_NAME:
        return Entry(
            line, day, name[:MAX_NAME], kind, "name_too_long", f"longer than {MAX_NAME} characters"
        )
    return Entry(line, day, name, kind)


# --- CSV ------------------------------------------------------------------------------------


def _delimiter(text: str) -> str:
    """``;`` when the first line uses it and no comma: a spreadsheet saved in a locale whose
    decimal mark is the comma (Indonesia's) writes CSV that way."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return ";" if ";" in first and "," not in first else ","


def parse_csv(text: str, default_kind: str = "holiday") -> list[Entry]:
    """``date,name[,kind]`` per line, ISO dates; a header line is optional, blank lines and
    lines starting with ``#`` are skipped."""
    entries: list[Entry] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    end_of_previous = 0
    first_row = True
    try:
        for row in reader:
            line = end_of_previous + 1
            end_of_previous = reader.line_num
            cells = [cell.strip() for cell in row]
            if not any(cells) or cells[0].startswith("#"):
                continue
            if first_row:
                first_row = False
                if cells[0].lower() in HEADER_WORDS:
                    continue
            entries.append(_csv_entry(line, cells, default_kind))
    except csv.Error as exc:
        raise CalendarFileError(reader.line_num, f"not CSV ({exc})") from exc
    return entries


def _csv_entry(line: int, cells: Sequence[str], default_kind: str) -> Entry:
    if len(cells) < 2:
        return Entry(line, None, None, None, "bad_line", "expected date,name[,kind]")
    if len(cells) > 3 and any(cells[3:]):
        return Entry(line, None, None, None, "bad_line", "more than three columns")
    raw_day, raw_name = cells[0], cells[1]
    try:
        day = _in_range(date.fromisoformat(raw_day)) if _ISO_DATE.match(raw_day) else None
    except ValueError:  # 2026-02-30, 0001-01-01
        day = None
    if day is None:
        return Entry(
            line,
            None,
            clean_name(raw_name) or None,
            None,
            "bad_date",
            f"{raw_day!r} is not a date (YYYY-MM-DD)",
        )
    kind = default_kind
    if len(cells) > 2 and cells[2]:
        found = kind_of(cells[2])
        if found is None:
            return Entry(
                line,
                day,
                clean_name(raw_name) or None,
                None,
                "unknown_kind",
                f"{cells[2]!r} is not a kind (holiday or day_off)",
            )
        kind = found
    return _named(line, day, raw_name, kind)


def write_csv(days: Iterable[tuple[date, str, str]]) -> str:
    """``date,name,kind`` with a header: what :func:`parse_csv` reads back the same."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["date", "name", "kind"])
    for day, name, kind in days:
        writer.writerow([day.isoformat(), name, kind])
    return out.getvalue()


# --- iCalendar ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Property:
    line: int
    name: str
    params: dict[str, str]
    value: str


@dataclass(slots=True)
class _Event:
    line: int
    properties: list[_Property] = field(default_factory=list)

    def first(self, name: str) -> _Property | None:
        return next((p for p in self.properties if p.name == name), None)

    def all(self, name: str) -> list[_Property]:
        return [p for p in self.properties if p.name == name]


class _RefusedError(Exception):
    """An event refused: on ``line``, for ``reason``."""

    def __init__(self, line: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.line = line
        self.reason = reason
        self.detail = detail


def _content_lines(text: str) -> list[tuple[int, str]]:
    """Unfolded content lines with the number of the physical line each starts on: a line
    beginning with a space or a tab continues the one before (RFC 5545, 3.1)."""
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(re.split(r"\r\n|\n|\r", text), start=1):
        if raw[:1] in (" ", "\t") and lines:
            start, joined = lines[-1]
            lines[-1] = (start, joined + raw[1:])
        elif raw.strip():
            lines.append((number, raw))
    return lines


def _split(line: int, text: str) -> _Property:
    """``NAME;PARAM=value;...:value`` (a quoted parameter value may hold ``:`` and ``;``)."""
    quoted = False
    cuts: list[int] = []
    colon = -1
    for index, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif not quoted and char == ";":
            cuts.append(index)
        elif not quoted and char == ":":
            colon = index
            break
    if colon <= 0:
        raise CalendarFileError(line, f"not an iCalendar line (NAME:value): {text[:60]!r}")
    head = text[:colon]
    bounds = [-1, *cuts, colon]
    parts = [head[bounds[i] + 1 : bounds[i + 1]] for i in range(len(bounds) - 1)]
    params: dict[str, str] = {}
    for part in parts[1:]:
        key, _, value = part.partition("=")
        params[key.strip().upper()] = value.strip().strip('"')
    return _Property(line, parts[0].strip().upper(), params, text[colon + 1 :])


def _unescape(value: str) -> str:
    """TEXT values (RFC 5545, 3.3.11): ``\\,`` ``\\;`` ``\\\\`` and ``\\n`` (a space here)."""
    return re.sub(r"\\(.)", lambda m: " " if m.group(1) in "nN" else m.group(1), value, flags=re.S)


def _read_events(text: str) -> list[_Event]:
    lines = _content_lines(text)
    if not lines:
        raise CalendarFileError(1, "the file is empty")
    first_line, first = lines[0]
    if first.strip().upper() != "BEGIN:VCALENDAR":
        raise CalendarFileError(
            first_line, f"not an iCalendar file: it starts with {first[:40]!r}, not BEGIN:VCALENDAR"
        )
    events: list[_Event] = []
    stack: list[tuple[str, int]] = []
    current: _Event | None = None
    for number, text_line in lines:
        prop = _split(number, text_line)
        if prop.name == "BEGIN":
            component = prop.value.strip().upper()
            if not stack and component != "VCALENDAR":
                raise CalendarFileError(number, f"BEGIN:{component} outside BEGIN:VCALENDAR")
            if component == "VEVENT" and [name for name, _ in stack] == ["VCALENDAR"]:
                current = _Event(number)
            stack.append((component, number))
        elif prop.name == "END":
            component = prop.value.strip().upper()
            if not stack:
                raise CalendarFileError(number, f"END:{component} without a BEGIN")
            open_name, open_line = stack.pop()
            if component != open_name:
                raise CalendarFileError(
                    number, f"END:{component} closes BEGIN:{open_name} of line {open_line}"
                )
            if component == "VEVENT" and current is not None and len(stack) == 1:
                events.append(current)
                current = None
        elif not stack:
            raise CalendarFileError(number, f"{prop.name} outside BEGIN:VCALENDAR")
        elif current is not None and len(stack) == 2:
            # An event's own properties; those of a VALARM inside it are not the event's.
            current.properties.append(prop)
    if stack:
        name, line = stack[-1]
        raise CalendarFileError(line, f"BEGIN:{name} is never closed (no END:{name})")
    return events


_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DATE_TIME = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(Z?)$")
_DURATION = re.compile(r"^([+-]?)P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def _moment(prop: _Property, value: str, zone: tzinfo) -> date | datetime:
    """A DATE, or a DATE-TIME made aware: ``Z`` is UTC, ``TZID`` its zone, and a floating
    time (neither) the site's wall clock."""
    value = value.strip()
    if prop.params.get("VALUE", "").upper() == "DATE" or _DATE.match(value):
        found = _DATE.match(value)
        if found is None:
            raise _RefusedError(prop.line, "bad_date", f"{prop.name}: {value!r} is not a date")
        try:
            return _in_range(date(*(int(g) for g in found.groups())))
        except ValueError as exc:
            raise _RefusedError(prop.line, "bad_date", f"{prop.name}: {value!r} ({exc})") from exc
    found_time = _DATE_TIME.match(value)
    if found_time is None:
        raise _RefusedError(
            prop.line, "bad_date", f"{prop.name}: {value!r} is not a date or a date-time"
        )
    *digits, utc = found_time.groups()
    year, month, day, hour, minute, second = (int(d) for d in digits)
    where: tzinfo = zone
    if utc:
        where = UTC
    elif "TZID" in prop.params:
        try:
            where = ZoneInfo(prop.params["TZID"])
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise _RefusedError(
                prop.line, "bad_value", f"{prop.name}: unknown time zone {prop.params['TZID']!r}"
            ) from exc
    try:
        _in_range(date(year, month, day))
        return datetime(year, month, day, hour, minute, second, tzinfo=where)
    except ValueError as exc:
        raise _RefusedError(prop.line, "bad_date", f"{prop.name}: {value!r} ({exc})") from exc


def _in_range(day: date) -> date:
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValueError(f"the year is not within {FIRST_YEAR}-{LAST_YEAR}")
    return day


def _duration(prop: _Property) -> timedelta:
    found = _DURATION.match(prop.value.strip().upper())
    if found is None or not any(found.groups()[1:]):
        raise _RefusedError(prop.line, "bad_value", f"DURATION: {prop.value!r} is not a duration")
    sign, weeks, days, hours, minutes, seconds = found.groups()
    span = timedelta(
        weeks=int(weeks or 0),
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=int(seconds or 0),
    )
    if sign == "-":
        raise _RefusedError(prop.line, "bad_value", "DURATION: a negative duration")
    return span


def _site_day(value: date | datetime, zone: tzinfo) -> date:
    if isinstance(value, datetime):
        return value.astimezone(zone).date()
    return value


def _span(event: _Event, zone: tzinfo) -> tuple[date, date]:
    """The event's first and last day (both included) on the site's calendar."""
    start_prop = event.first("DTSTART")
    if start_prop is None:
        raise _RefusedError(event.line, "bad_value", "the event has no DTSTART")
    start = _moment(start_prop, start_prop.value, zone)
    first = _site_day(start, zone)
    end_prop, duration_prop = event.first("DTEND"), event.first("DURATION")
    if end_prop is not None:
        end = _moment(end_prop, end_prop.value, zone)
        if isinstance(start, datetime) != isinstance(end, datetime):
            raise _RefusedError(end_prop.line, "bad_value", "DTEND: not the same type as DTSTART")
        if isinstance(end, datetime):
            assert isinstance(start, datetime)
            if end < start:
                raise _RefusedError(end_prop.line, "bad_value", "DTEND: before DTSTART")
            # The end instant is not part of the event: an event ending at midnight ends
            # the day before.
            last = _site_day(max(start, end - timedelta(microseconds=1)), zone)
        else:
            if end <= start:
                raise _RefusedError(end_prop.line, "bad_value", "DTEND: not after DTSTART")
            last = end - timedelta(days=1)  # DTEND of a DATE event is exclusive
    elif duration_prop is not None:
        span = _duration(duration_prop)
        if isinstance(start, datetime):
            last = _site_day(start + max(span - timedelta(microseconds=1), timedelta()), zone)
        else:
            last = first + timedelta(days=max(span.days - 1, 0))
    else:
        last = first  # a DATE event without end lasts its day; a DATE-TIME one is an instant
    return first, max(first, last)


_YEARLY_PARTS = frozenset({"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYMONTH", "BYMONTHDAY", "WKST"})


def _yearly(event: _Event, first: date, year: int, zone: tzinfo) -> int:
    """How many years after ``first`` the event's rule places it in ``year``; refused when
    the rule is not a plain yearly one or has no occurrence in that year."""
    rules = event.all("RRULE")
    if len(rules) > 1:
        raise _RefusedError(rules[1].line, "unsupported_rule", "more than one RRULE")
    rule = rules[0]
    parts: dict[str, str] = {}
    for part in rule.value.strip().split(";"):
        key, _, value = part.partition("=")
        parts[key.strip().upper()] = value.strip()
    freq = parts.get("FREQ", "")
    if freq.upper() != "YEARLY":
        raise _RefusedError(
            rule.line,
            "unsupported_rule",
            f"only yearly rules (RRULE:FREQ=YEARLY) are expanded; this one is FREQ={freq or '?'}",
        )
    unknown = sorted(set(parts) - _YEARLY_PARTS)
    if unknown:
        raise _RefusedError(
            rule.line, "unsupported_rule", f"RRULE part {unknown[0]} is not supported"
        )
    # BYMONTH / BYMONTHDAY are accepted when they only repeat DTSTART's date (as calendar
    # programs write them); a rule that moves the date is another kind of rule.
    for key, expected in (("BYMONTH", first.month), ("BYMONTHDAY", first.day)):
        if key in parts and parts[key] != str(expected):
            raise _RefusedError(
                rule.line, "unsupported_rule", f"RRULE {key}={parts[key]} differs from DTSTART"
            )
    try:
        interval = int(parts.get("INTERVAL", "1"))
        count = int(parts["COUNT"]) if "COUNT" in parts else None
    except ValueError as exc:
        raise _RefusedError(rule.line, "bad_value", f"RRULE: {rule.value.strip()!r}") from exc
    if interval < 1:
        raise _RefusedError(rule.line, "bad_value", "RRULE: INTERVAL must be 1 or more")
    years = year - first.year
    if years < 0:
        raise _RefusedError(
            rule.line, "no_occurrence", f"the rule starts in {first.year}, after {year}"
        )
    if years % interval or (count is not None and years // interval >= count):
        raise _RefusedError(rule.line, "no_occurrence", f"the rule has no occurrence in {year}")
    if "UNTIL" in parts:
        until = _site_day(_moment(rule, parts["UNTIL"], zone), zone)
        moved = _shifted(first, years)
        if moved is not None and moved > until:
            raise _RefusedError(rule.line, "no_occurrence", f"the rule ends before {year}")
    return years


def _shifted(day: date, years: int) -> date | None:
    """The same month and day ``years`` later; None for 29 February in a common year (the
    occurrence does not exist, RFC 5545 3.3.10)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return None


def _excluded(event: _Event, zone: tzinfo) -> set[date]:
    days: set[date] = set()
    for prop in event.all("EXDATE"):
        for value in prop.value.split(","):
            if value.strip():
                days.add(_site_day(_moment(prop, value, zone), zone))
    return days


def _event_entries(event: _Event, zone: tzinfo, year: int, kind: str) -> list[Entry]:
    summary = event.first("SUMMARY")
    raw_name = _unescape(summary.value) if summary is not None else ""
    status = event.first("STATUS")
    if status is not None and status.value.strip().upper() == "CANCELLED":
        return [
            Entry(
                status.line,
                None,
                clean_name(raw_name) or None,
                kind,
                "cancelled",
                "the event is cancelled (STATUS:CANCELLED)",
            )
        ]
    try:
        first, last = _span(event, zone)
        if (last - first).days + 1 > MAX_SPAN_DAYS:
            raise _RefusedError(event.line, "range_too_long", f"more than {MAX_SPAN_DAYS} days")
        rdate = event.first("RDATE")
        if rdate is not None:
            raise _RefusedError(rdate.line, "unsupported_rule", "RDATE is not supported")
        rule = event.first("RRULE")
        if rule is not None:
            years = _yearly(event, first, year, zone)
            moved_first, moved_last = _shifted(first, years), _shifted(last, years)
            if moved_first is None or moved_last is None:
                raise _RefusedError(rule.line, "no_occurrence", f"29 February is not in {year}")
            if moved_first in _excluded(event, zone):
                exdate = event.all("EXDATE")[0]
                raise _RefusedError(exdate.line, "no_occurrence", f"{moved_first} is an EXDATE")
            first, last = moved_first, moved_last
    except _RefusedError as refused:
        return [
            Entry(
                refused.line,
                None,
                clean_name(raw_name) or None,
                kind,
                refused.reason,
                refused.detail,
            )
        ]
    entries: list[Entry] = []
    day = first
    while day <= last:
        entries.append(_named(event.line, day, raw_name, kind))
        day += timedelta(days=1)
    return entries


def parse_ics(text: str, zone: tzinfo, year: int, default_kind: str = "holiday") -> list[Entry]:
    """One entry per day of every VEVENT (DTEND of a DATE is exclusive; a DATE-TIME counts
    by its date on the site's clock), yearly rules expanded for ``year``."""
    entries: list[Entry] = []
    for event in _read_events(text):
        entries.extend(_event_entries(event, zone, year, default_kind))
    return entries
