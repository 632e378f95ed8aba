"""Reading days off from iCalendar and CSV files (sync_server/calendar_files.py)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync_server.calendar_files import (
    MAX_NAME,
    CalendarFileError,
    Entry,
    decode,
    looks_like_ics,
    parse_csv,
    parse_ics,
    write_csv,
)

JAKARTA = ZoneInfo("Asia/Jakarta")
JAYAPURA = ZoneInfo("Asia/Jayapura")


def _ics(*events: str, newline: str = "\r\n") -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//hadir//ID", "CALSCALE:GREGORIAN"]
    for event in events:
        lines += ["BEGIN:VEVENT", *event.strip().splitlines(), "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return newline.join(lines) + newline


def _line(text: str, needle: str) -> int:
    """The 1-based number of the line holding ``needle`` (once in the text)."""
    found = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(found) == 1, (needle, found)
    return found[0]


def _days(entries: list[Entry]) -> list[tuple[date | None, str | None]]:
    return [(e.day, e.name) for e in entries if not e.refused]


# An Indonesian public holiday calendar as Google Calendar exports one (the national holidays
# of 2026 and the collective leave, SKB 3 Menteri): Idul Fitri over two days with DTEND
# exclusive, collective leave of four days, a long SUMMARY folded over three lines, escaped
# commas, Christmas as a yearly rule with BYMONTH/BYMONTHDAY repeating its date, and a
# time-zone block that is not an event.
GOOGLE_EXPORT = """BEGIN:VCALENDAR\r
PRODID:-//Google Inc//Google Calendar 70.9054//EN\r
VERSION:2.0\r
CALSCALE:GREGORIAN\r
METHOD:PUBLISH\r
X-WR-CALNAME:Hari libur di Indonesia\r
X-WR-TIMEZONE:Asia/Jakarta\r
BEGIN:VTIMEZONE\r
TZID:Asia/Jakarta\r
BEGIN:STANDARD\r
TZOFFSETFROM:+0700\r
TZOFFSETTO:+0700\r
TZNAME:WIB\r
DTSTART:19700101T000000\r
END:STANDARD\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
DTSTART;VALUE=DATE:20260320\r
DTEND;VALUE=DATE:20260322\r
DTSTAMP:20261201T000000Z\r
UID:20260320_idulfitri@google.com\r
CLASS:PUBLIC\r
SUMMARY:Hari Raya Idul Fitri 1447 Hijriah\\, hari pertama dan hari kedua (libur \r
 nasional menurut SKB 3 Menteri tentang hari libur nasional dan cuti bersama \r
 tahun 2026)\r
TRANSP:TRANSPARENT\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART;VALUE=DATE:20260318\r
DTEND;VALUE=DATE:20260319\r
SUMMARY:Cuti Bersama Idul Fitri\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART;VALUE=DATE:20260323\r
DURATION:P2D\r
SUMMARY:Cuti Bersama Idul Fitri\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART;VALUE=DATE:20191225\r
RRULE:FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25\r
SUMMARY:Hari Raya Natal\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART;TZID=Asia/Jakarta:20260817T080000\r
DTEND;TZID=Asia/Jakarta:20260817T100000\r
SUMMARY:Upacara HUT RI ke-81\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_a_google_export_of_indonesian_holidays_gives_one_entry_per_day() -> None:
    entries = parse_ics(GOOGLE_EXPORT, JAKARTA, 2026)
    assert not [e for e in entries if e.refused]
    assert [e.day for e in entries] == [
        date(2026, 3, 20),
        date(2026, 3, 21),
        date(2026, 3, 18),
        date(2026, 3, 23),
        date(2026, 3, 24),
        date(2026, 12, 25),
        date(2026, 8, 17),
    ]
    assert entries[0].name == (
        "Hari Raya Idul Fitri 1447 Hijriah, hari pertama dan hari kedua (libur nasional menurut "
        "SKB 3 Menteri tentang hari libur nasional dan cuti bersama tahun 2026)"
    )
    assert entries[0].line == 17  # the BEGIN:VEVENT line
    assert {e.kind for e in entries} == {"holiday"}


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_line_endings_and_folds_read_the_same(newline: str) -> None:
    text = _ics("DTSTART;VALUE=DATE:20261225\nSUMMARY:Hari \n\tRaya\n  Natal", newline=newline)
    assert _days(parse_ics(text, JAKARTA, 2026)) == [(date(2026, 12, 25), "Hari Raya Natal")]


def test_a_date_time_counts_by_its_date_on_the_sites_clock() -> None:
    text = _ics(
        "DTSTART:20261224T200000Z\nSUMMARY:utc evening",  # the 25th, 05:00 in Jayapura
        "DTSTART:20261231T080000\nSUMMARY:floating",  # the site's own wall clock
        "DTSTART;TZID=Europe/Amsterdam:20261231T230000\nSUMMARY:elsewhere",  # 07:00 next day
        "DTSTART:20261226T220000Z\nDTEND:20261227T160000Z\nSUMMARY:overnight",  # 27th, 28th
        "DTSTART:20261229T150000Z\nDTEND:20261229T150000Z\nSUMMARY:instant",
        "DTSTART;TZID=Asia/Jayapura:20261230T000000\nDTEND;TZID=Asia/Jayapura:20261231T000000"
        "\nSUMMARY:ends at midnight",
    )
    assert _days(parse_ics(text, JAYAPURA, 2026)) == [
        (date(2026, 12, 25), "utc evening"),
        (date(2026, 12, 31), "floating"),
        (date(2027, 1, 1), "elsewhere"),
        (date(2026, 12, 27), "overnight"),
        (date(2026, 12, 28), "overnight"),
        (date(2026, 12, 30), "instant"),
        (date(2026, 12, 30), "ends at midnight"),
    ]


def test_yearly_rules_expand_for_the_year_asked_and_other_rules_are_refused_on_their_line() -> None:
    text = _ics(
        "DTSTART;VALUE=DATE:20200101\nRRULE:FREQ=YEARLY\nSUMMARY:Tahun Baru",
        "DTSTART;VALUE=DATE:20200501\nRRULE:FREQ=YEARLY;INTERVAL=2\nSUMMARY:every other year",
        "DTSTART;VALUE=DATE:20200817\nRRULE:FREQ=YEARLY;COUNT=3\nSUMMARY:three times",
        "DTSTART;VALUE=DATE:20200601\nRRULE:FREQ=YEARLY;UNTIL=20250601\nSUMMARY:until 2025",
        "DTSTART;VALUE=DATE:20200229\nRRULE:FREQ=YEARLY\nSUMMARY:leap day",
        "DTSTART;VALUE=DATE:20201224\nDTEND;VALUE=DATE:20201227\nRRULE:FREQ=YEARLY\n"
        "SUMMARY:three days",
        "DTSTART;VALUE=DATE:20200101\nRRULE:FREQ=MONTHLY\nSUMMARY:monthly",
        "DTSTART;VALUE=DATE:20200101\nRRULE:FREQ=YEARLY;BYDAY=1MO\nSUMMARY:by day",
        "DTSTART;VALUE=DATE:20200101\nRRULE:FREQ=YEARLY;BYMONTH=2\nSUMMARY:moved",
        "DTSTART;VALUE=DATE:20200704\nRRULE:FREQ=YEARLY\nEXDATE;VALUE=DATE:20260704\n"
        "SUMMARY:excluded",
        "DTSTART;VALUE=DATE:20200101\nRDATE;VALUE=DATE:20200601\nSUMMARY:rdate",
    )
    entries = parse_ics(text, JAKARTA, 2026)
    assert _days(entries) == [
        (date(2026, 1, 1), "Tahun Baru"),
        (date(2026, 5, 1), "every other year"),
        (date(2026, 12, 24), "three days"),
        (date(2026, 12, 25), "three days"),
        (date(2026, 12, 26), "three days"),
    ]
    refused = [(e.line, e.name, e.reason) for e in entries if e.refused]
    assert refused == [
        (_line(text, "COUNT=3"), "three times", "no_occurrence"),
        (_line(text, "UNTIL="), "until 2025", "no_occurrence"),
        (_line(text, "20200229") + 1, "leap day", "no_occurrence"),  # its RRULE
        (_line(text, "FREQ=MONTHLY"), "monthly", "unsupported_rule"),
        (_line(text, "BYDAY"), "by day", "unsupported_rule"),
        (_line(text, "BYMONTH=2"), "moved", "unsupported_rule"),
        (_line(text, "EXDATE"), "excluded", "no_occurrence"),
        (_line(text, "RDATE"), "rdate", "unsupported_rule"),
    ]
    assert [e.day for e in parse_ics(text, JAKARTA, 2028) if e.name == "leap day"] == [
        date(2028, 2, 29)
    ]
    odd_year = next(e for e in parse_ics(text, JAKARTA, 2027) if e.name == "every other year")
    assert (odd_year.day, odd_year.reason) == (None, "no_occurrence")


def test_bad_events_are_refused_one_by_one_naming_their_line() -> None:
    text = _ics(
        "DTSTART;VALUE=DATE:20260230\nSUMMARY:no such day",
        "SUMMARY:no start",
        "DTSTART;VALUE=DATE:20260101\nSUMMARY:",
        "DTSTART;VALUE=DATE:20260105\nDTEND;VALUE=DATE:20260105\nSUMMARY:empty span",
        "DTSTART;TZID=Mars/Olympus:20260101T080000\nSUMMARY:unknown zone",
        "DTSTART;VALUE=DATE:20260106\nSTATUS:CANCELLED\nSUMMARY:cancelled",
        "DTSTART;VALUE=DATE:20260107\nDURATION:soon\nSUMMARY:bad duration",
        "DTSTART;VALUE=DATE:20260108\nSUMMARY:" + "x" * (MAX_NAME + 1),
        "DTSTART;VALUE=DATE:20260101\nDTEND;VALUE=DATE:20280101\nSUMMARY:two years",
        "DTSTART;VALUE=DATE:99991231\nSUMMARY:the end of the calendar",
        "DTSTART:99991231T230000Z\nSUMMARY:the end, in UTC",
        "DTSTART;VALUE=DATE:20260109\nSUMMARY:fine",
    )
    entries = parse_ics(text, JAKARTA, 2026)
    lines = text.splitlines()
    begins = [n for n, line in enumerate(lines, start=1) if line == "BEGIN:VEVENT"]
    assert [(e.line, e.reason) for e in entries] == [
        (_line(text, "20260230"), "bad_date"),
        (begins[1], "bad_value"),  # no DTSTART: the event's first line
        (begins[2], "empty_name"),
        (_line(text, "DTEND;VALUE=DATE:20260105"), "bad_value"),
        (_line(text, "Mars/Olympus"), "bad_value"),
        (_line(text, "CANCELLED"), "cancelled"),
        (_line(text, "DURATION:soon"), "bad_value"),
        (begins[7], "name_too_long"),
        (begins[8], "range_too_long"),
        (_line(text, "DATE:99991231"), "bad_date"),
        (_line(text, "99991231T230000Z"), "bad_date"),
        (begins[11], None),
    ]
    assert "1900-2999" in entries[9].detail
    assert "Mars/Olympus" in entries[4].detail
    assert entries[-1].name == "fine"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", 1, "empty"),
        ("date,name\n2026-01-01,x\n", 1, "not an iCalendar file"),
        ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:x\nEND:VCALENDAR\n", 4, "closes BEGIN:VEVENT"),
        ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:x\n", 2, "never closed"),
        ("BEGIN:VCALENDAR\nEND:VCALENDAR\nSUMMARY:x\n", 3, "outside BEGIN:VCALENDAR"),
        ("BEGIN:VCALENDAR\nEND:VCALENDAR\nEND:VCALENDAR\n", 3, "without a BEGIN"),
        ("BEGIN:VCALENDAR\n\nno colon here\nEND:VCALENDAR\n", 3, "NAME:value"),
    ],
)
def test_a_file_that_is_not_a_calendar_is_one_error_naming_its_line(
    text: str, line: int, words: str
) -> None:
    with pytest.raises(CalendarFileError) as caught:
        parse_ics(text, JAKARTA, 2026)
    assert caught.value.line == line
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"line {line}: ")


def test_two_calendars_in_one_file_and_quoted_parameters_are_read() -> None:
    text = _ics('DTSTART;X-NOTE="a;b:c";VALUE=DATE:20260101\nSUMMARY:Tahun Baru') + _ics(
        "DTSTART;VALUE=DATE:20260817\nSUMMARY:HUT RI"
    )
    assert _days(parse_ics(text, JAKARTA, 2026)) == [
        (date(2026, 1, 1), "Tahun Baru"),
        (date(2026, 8, 17), "HUT RI"),
    ]


def test_decode_drops_a_bom_and_names_the_line_of_a_bad_byte() -> None:
    assert decode("\ufeffBEGIN:VCALENDAR".encode()) == "BEGIN:VCALENDAR"
    with pytest.raises(CalendarFileError, match="line 2: the file is not UTF-8"):
        decode(b"date,name\n2026-01-01,Tahun Baru \xff\n")


def test_the_format_is_known_by_content_then_by_name() -> None:
    assert looks_like_ics("  \r\nbegin:vcalendar\r\n")
    assert looks_like_ics("", "Libur.ICS")
    assert not looks_like_ics("date,name\n", "libur.csv")
    assert not looks_like_ics("date,name\n", None)


# A spreadsheet of the site's days off as an HR officer keeps it (saved by a spreadsheet in
# the Indonesian locale: semicolons, a header in Indonesian, Indonesian kinds).
HR_SHEET = (
    "Tanggal;Nama;Jenis\r\n"
    "2026-01-01;Tahun Baru 2026 Masehi;libur nasional\r\n"
    "2026-03-18;Cuti Bersama Idul Fitri;cuti bersama\r\n"
    "\r\n"
    "# cuti bersama Natal belum ditetapkan\r\n"
    '2026-12-24;"Cuti Bersama; Natal";Day-Off\r\n'
    "2026-12-25;Hari Raya Natal\r\n"
    "25-12-2026;Natal (format salah)\r\n"
    "2026-12-31;Tutup buku;tutup\r\n"
    "2026-08-17;\r\n"
    "2026-08-18\r\n"
    "2026-08-19;a;holiday;extra\r\n"
    "0001-01-01;the first day\r\n"
)


def test_an_hr_spreadsheet_saved_with_semicolons_reads_line_by_line() -> None:
    entries = parse_csv(HR_SHEET)
    assert [(e.line, e.day, e.kind, e.reason) for e in entries] == [
        (2, date(2026, 1, 1), "holiday", None),
        (3, date(2026, 3, 18), "day_off", None),
        (6, date(2026, 12, 24), "day_off", None),
        (7, date(2026, 12, 25), "holiday", None),
        (8, None, None, "bad_date"),
        (9, date(2026, 12, 31), None, "unknown_kind"),
        (10, date(2026, 8, 17), "holiday", "empty_name"),
        (11, None, None, "bad_line"),
        (12, None, None, "bad_line"),
        (13, None, None, "bad_date"),
    ]
    assert entries[2].name == "Cuti Bersama; Natal"
    assert "'25-12-2026' is not a date (YYYY-MM-DD)" in entries[4].detail
    assert "'tutup' is not a kind" in entries[5].detail


def test_a_csv_without_header_takes_the_default_kind_and_counts_lines_of_quoted_newlines() -> None:
    text = '2026-05-01,"Hari Buruh\nInternasional"\n2026-05-14,Kenaikan Isa Almasih\n'
    entries = parse_csv(text, default_kind="day_off")
    assert [(e.line, e.day, e.name, e.kind) for e in entries] == [
        (1, date(2026, 5, 1), "Hari Buruh Internasional", "day_off"),
        (3, date(2026, 5, 14), "Kenaikan Isa Almasih", "day_off"),
    ]


_names = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
        min_size=1,
        max_size=60,
    )
    .map(lambda s: " ".join(s.split()))
    .filter(lambda s: bool(s) and not s.startswith("#"))
)


@given(
    st.dictionaries(
        st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)),
        st.tuples(_names, st.sampled_from(["holiday", "day_off"])),
        max_size=40,
    )
)
def test_what_write_csv_writes_parse_csv_reads_back(days: dict[date, tuple[str, str]]) -> None:
    rows = sorted((day, name, kind) for day, (name, kind) in days.items())
    entries = parse_csv(write_csv(rows))
    assert [(e.day, e.name, e.kind) for e in entries] == rows
    assert not [e for e in entries if e.refused]
