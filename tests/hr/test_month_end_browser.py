"""An HR officer's month end in a real Chromium, in Indonesian (issue 15).

A real server process with a site in Jakarta: three people of one group with a shift, and a
terminal that sent last month's punches through the terminal API (Ani forgot one check-out,
Budi stayed home sick two days, and nobody came on a public holiday nobody had entered yet).
The officer logs in, sets the account to Bahasa Indonesia with the language switch, reads
the month, enters the holiday in the calendar, Budi's sick leave, Ani's forgotten check-out
with a reason, reads the month again, sees the three changes in the audit trail, and
downloads the month's CSV and the audit CSV. Everything by clicking and typing, on a phone
(375x812 at device scale 2) and on a desktop screen (1366x900); every page is checked for
Indonesian words and for English labels that leaked, and photographed into
``test-output/browser/month-end/`` (docs/corrections.md, "Month end, step by step").
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from edge.protocol import API_PREFIX
from sync_server.process import ServerProcess
from sync_server.reports.export import DAY_COLUMNS
from sync_server.web import i18n
from tests.reports.helpers import backdate_people
from tests.server.helpers import batch, bearer, event
from tests.support import ROOT
from tests.web.test_browser import ADMIN_TOKEN, PASSWORD, USER, _unlabelled
from tests.web.test_browser import chromium as chromium  # the browser tests' fixture, reused

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SITE = ZoneInfo("Asia/Jakarta")
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1366, "height": 900}
DEVICE = "gerbang"
PEOPLE = {"ani": "Ani Lestari", "budi": "Budi Santoso", "citra": "Citra Dewi"}
CHECK_IN = time(7, 50)
CHECK_OUT = time(16, 10)  # 8 h 20 min a day
DAY_HOURS = 8 + 20 / 60
HOLIDAY_NAME = "Hari Libur Nasional"
SICK_NOTE = "surat dokter"
FIX_REASON = "lupa absen pulang, dikonfirmasi mandor"
# Labels of these pages in English: none may show on a page in Indonesian (whole words, case
# kept). Data the officer typed, people's names and the audit's raw field names are not labels.
ENGLISH = (
    "Today", "People", "Terminals", "Reports", "Leave", "Calendar", "Corrections",
    "Audit trail", "Needs review", "Log out", "Save", "Delete", "Change", "Add", "Show",
    "Filter", "Reason", "Person", "Kind", "Time", "Day", "Date", "Name", "From", "To",
    "Download CSV", "Working days", "Absent", "Hours", "Sick", "public holiday", "corrected",
    "check-in", "check-out", "Who", "When", "Before", "After", "Field", "created", "Monthly",
    "summary", "Export", "Worked", "First in", "Last out", "Department",
    "complete", "in only", "absent", "holiday", "on leave", "late", "Punctuality", "Month",
    "everything", "Year", "Note", "Days", "Entered", "counts", "revoked", "Language",
    "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "none",
)  # fmt: skip
# The reports page (reports.html and _day_table.html, other engineers' templates) had its
# words wrapped on the day this walk was written, and their Indonesian is merged into the
# catalogue at the end of that day. Until the catalogue has it, these of the page's labels
# are tolerated there, by name (any other English word fails); once it has, none is.
REPORTS_NOT_YET_INDONESIAN = frozenset(
    (
        "Day", "Days", "Department", "Export", "First in", "Hours", "Last out", "Monthly",
        "Punctuality", "Worked", "absent", "check-in", "check-out", "complete", "in only",
        "late", "on leave", "summary", "holiday",
    )
)  # fmt: skip


def reports_tolerance() -> frozenset[str]:
    indonesian = i18n.lang("id")
    pending = any(
        indonesian.gettext(word) == word for word in ("Days present", "First in", "Punctuality")
    )
    return REPORTS_NOT_YET_INDONESIAN if pending else frozenset()


ENGLISH_WORDS = re.compile(
    r"(?<!\w)(" + "|".join(map(re.escape, sorted(ENGLISH, key=len, reverse=True))) + r")(?!\w)"
)


@dataclass(frozen=True, slots=True)
class Month:
    """Last month on the site's calendar and the days this walk is about."""

    first: date
    working: list[date]  # Monday to Friday
    holiday: date
    sick: tuple[date, date]
    forgotten: date  # Ani's check-in without a check-out

    @property
    def text(self) -> str:
        return self.first.strftime("%Y-%m")

    @property
    def last(self) -> date:
        return (self.first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def last_month(today: date) -> Month:
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    days = [first + timedelta(days=n) for n in range(31)]
    working = [d for d in days if d.month == first.month and d.weekday() < 5]
    # Two sick days in a row (no weekend between), after the holiday, before the forgotten day.
    start = next(d for d in working[5:] if d + timedelta(days=1) in working)
    return Month(
        first=first,
        working=working,
        holiday=working[2],
        sick=(start, start + timedelta(days=1)),
        forgotten=working[-3],
    )


def _at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=SITE).astimezone(UTC)


def punches(month: Month) -> list[dict[str, Any]]:
    """What the terminal recorded: everyone in and out each working day, except the holiday
    (nobody came), Budi's sick days, and Ani's forgotten check-out."""
    found = []
    for day in month.working:
        if day == month.holiday:
            continue
        for person in PEOPLE:
            if person == "budi" and day in month.sick:
                continue
            kinds = ("in",) if person == "ani" and day == month.forgotten else ("in", "out")
            for kind in kinds:
                at = _at(day, CHECK_IN if kind == "in" else CHECK_OUT)
                found.append(event(DEVICE, person, kind=kind, wall_time=at, event_id=uuid.uuid4()))
    return found


@pytest.fixture(scope="module")
def shots() -> Path:
    base = Path(os.environ.get("HADIR_TEST_OUTPUT") or ROOT / "test-output")
    folder = base / "browser" / "month-end"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[ServerProcess, Month]]:
    database_url = f"sqlite:///{tmp_path}/srv.db"
    proc = ServerProcess(
        tmp_path / "srv", database_url, ADMIN_TOKEN, extra_toml='site_timezone = "Asia/Jakarta"\n'
    )
    month = last_month(datetime.now(SITE).date())
    with proc:
        made = subprocess.run(
            [sys.executable, "-m", "sync_server", "add-admin", USER, "--config", proc.config_path],
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=False,
        )
        assert made.returncode == 0, made.stderr
        with httpx.Client(base_url=proc.url + API_PREFIX, headers=bearer(ADMIN_TOKEN)) as api:
            for person, name in PEOPLE.items():
                body = {"id": person, "name": name, "group": "pabrik"}
                created = api.post("/admin/people", json=body)
                assert created.status_code == 201, created.text
            shift = api.post(
                "/admin/shifts", json={"name": "pagi", "start": "08:00", "end": "16:00"}
            )
            assert shift.status_code == 201, shift.text
            put = api.put("/admin/groups/pabrik/shift", json={"shift_id": shift.json()["id"]})
            assert put.status_code == 200, put.text
            terminal = api.post("/admin/terminals", json={"id": DEVICE})
            assert terminal.status_code == 201, terminal.text
            token = terminal.json()["token"]
        # People made today would not be listed last month; they have worked here for years.
        backdate_people(database_url)
        recorded = punches(month)
        with httpx.Client(base_url=proc.url + API_PREFIX, headers=bearer(token)) as gate:
            sent = gate.post("/events", json=batch(DEVICE, recorded))
            assert sent.status_code == 200, sent.text
            assert {r["status"] for r in sent.json()["results"]} == {"accepted"}, sent.text
        yield proc, month


# --- what every page is checked for ---------------------------------------------------------


def _leaks(page: Any) -> list[str]:
    """English labels in the page's visible text. The audit's field tables show the records
    as stored (JSON keys and values, as in the CSV), so they are left out."""
    text: str = page.evaluate(
        """() => {
            let text = document.body.innerText;
            for (const raw of document.querySelectorAll('table.changes')) {
                text = text.replace(raw.innerText, '');
            }
            return text;
        }"""
    )
    return sorted(set(ENGLISH_WORDS.findall(text)))


def _shot(
    page: Any,
    shots: Path,
    screen: str,
    step: str,
    *,
    words: tuple[str, ...],
    untranslated: frozenset[str] = frozenset(),
) -> None:
    """A page of the walk: in Indonesian (its words there, no English label), every control
    labelled, no sideways scrolling on either screen, and its screenshot."""
    # The picture first: a page that fails a check below is the one a human wants to see.
    page.screenshot(path=str(shots / f"{step}-{screen}.png"), full_page=True)
    assert page.get_attribute("html", "lang") == "id", step
    body = page.inner_text("body")
    for word in words:
        assert word in body, f"{step}: {word!r} is not on the page"
    leaks = [word for word in _leaks(page) if word not in untranslated]
    assert leaks == [], f"{step}: English on an Indonesian page: {leaks}"
    assert _unlabelled(page) == [], step
    _fits(page, f"{step}-{screen}")


def _fits(page: Any, name: str) -> None:
    """No sideways scrolling of the page itself (wide tables scroll inside their box)."""
    width = page.evaluate(
        "() => [document.scrollingElement.scrollWidth, window.innerWidth,"
        " document.documentElement.clientWidth]"
    )
    assert width[0] <= min(width[1], width[2]), f"{name} scrolls sideways: {width}"


def _nav(page: Any, path: str) -> None:
    """Follow the header's link (on a phone the header wraps; the link is still there)."""
    with page.expect_navigation():
        page.click(f'header nav a[href="{path}"]')
    assert re.search(re.escape(path) + r"(\?|$)", page.url), page.url


def _show_reports(page: Any, month: Month, day: date) -> None:
    _nav(page, "/admin/reports")
    page.fill("#r-month", month.text)
    page.fill("#r-date", day.isoformat())
    with page.expect_navigation():
        page.click('form.filters button[type="submit"]')
    page.locator('#day-table tr[data-person="citra"]').wait_for()


def _month_row(page: Any, person: str) -> dict[str, str]:
    cells = page.locator(f'#month-table tr[data-person="{person}"] td').all_inner_texts()
    names = ("person", "working", "present", "absent", "leave", "complete", "late", "punctual")
    return dict(zip((*names, "hours"), (c.strip() for c in cells), strict=True))


def _word(english: str) -> set[str]:
    """A cell word in either language: the CSV may follow the account's language."""
    return {english, i18n.lang("id").gettext(english)}


def _download(page: Any, click: str, saved: Path) -> list[list[str]]:
    with page.expect_download() as info:
        page.click(click)
    info.value.save_as(saved)
    return list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8"))))


# --- the walk -------------------------------------------------------------------------------


@pytest.mark.parametrize(("screen", "browser_locale"), [("phone", "id-ID"), ("desktop", "en-US")])
def test_month_end_in_indonesian(
    chromium: Any,
    site: tuple[ServerProcess, Month],
    shots: Path,
    tmp_path: Path,
    screen: str,
    browser_locale: str,
) -> None:
    from playwright.sync_api import expect

    server, month = site
    phone = screen == "phone"
    context = chromium.new_context(
        viewport=PHONE if phone else DESKTOP,
        device_scale_factor=2 if phone else 1,
        is_mobile=phone,
        has_touch=phone,
        locale=browser_locale,  # the browser's Accept-Language
        accept_downloads=True,
    )
    # Two busy cores: wait long for what must come, never sleep.
    context.set_default_timeout(60_000)
    expect.set_options(timeout=60_000)
    page = context.new_page()
    foreign: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(server.url) else foreign.append(r.url))
    try:
        # 1. Log in. The login page follows the browser: Indonesian on the phone, English on
        # the desktop; the account's choice then makes every page Indonesian on both.
        page.goto(server.url + "/admin/")
        page.wait_for_url(re.compile(r"/admin/login\b"))
        login_word = "Masuk" if phone else "Log in"
        expect(page.locator('button[type="submit"]')).to_have_text(login_word)
        assert page.get_attribute("html", "lang") == ("id" if phone else "en")
        assert _unlabelled(page) == []
        _fits(page, f"00-login-{screen}")
        page.screenshot(path=str(shots / f"00-login-{screen}.png"), full_page=True)
        page.fill("#username", USER)
        page.fill("#password", PASSWORD)
        page.click('button[type="submit"]')
        page.wait_for_url(server.url + "/admin/")
        page.select_option("#lang-choice", "id")
        with page.expect_navigation():
            page.click('form.lang button[type="submit"]')
        expect(page.locator("#lang-choice")).to_have_value("id")
        expect(page.locator("html")).to_have_attribute("lang", "id")

        # 2. The month as the terminal left it: the holiday and the sick days are absences.
        _show_reports(page, month, month.forgotten)
        before = {p: _month_row(page, p) for p in PEOPLE}
        working = len(month.working)
        assert before["citra"]["working"] == str(working)
        assert before["citra"]["absent"] == "1"  # the holiday nobody entered yet
        assert before["budi"]["absent"] == "3"  # the holiday and two sick days
        assert before["ani"]["absent"] == "1"
        assert page.get_attribute('#day-table tr[data-person="ani"]', "data-status") == "in_only"
        _shot(
            page,
            shots,
            screen,
            "01-month-before",
            words=("Laporan", "Hari kerja"),
            untranslated=reports_tolerance(),
        )

        # 3. The public holiday, in the calendar.
        _nav(page, "/admin/calendar")
        if month.holiday.year != datetime.now(SITE).year:
            page.click("#year-before")
            page.wait_for_url(re.compile(f"year={month.holiday.year}"))
        page.fill("#d-day", month.holiday.isoformat())
        page.select_option("#d-kind", label="libur nasional")
        page.fill("#d-name", HOLIDAY_NAME)
        page.click('#add-day-off button[type="submit"]')
        expect(page.locator("#calendar-done")).to_have_text("Hari libur ditambahkan.")
        holiday_row = page.locator(f'#days-off-table tr[data-day="{month.holiday.isoformat()}"]')
        expect(holiday_row).to_have_attribute("data-kind", "holiday")
        expect(holiday_row).to_contain_text(HOLIDAY_NAME)
        expect(holiday_row).to_contain_text("libur nasional")
        _shot(page, shots, screen, "02-calendar-holiday", words=("Kalender", "Hari libur"))

        # 4. Budi's sick leave, two days.
        _nav(page, "/admin/leave")
        page.fill("#new-person", "budi")
        page.select_option("#new-kind", label="Sakit")
        page.fill("#new-start", month.sick[0].isoformat())
        page.fill("#new-end", month.sick[1].isoformat())
        page.fill("#new-note", SICK_NOTE)
        page.click('section[aria-labelledby="add-h"] button[type="submit"]')
        expect(page.locator("#leave-flash")).to_contain_text("dicatat")
        leave_row = page.locator('#leave-table tr[data-person="budi"][data-kind="sick"]')
        expect(leave_row).to_contain_text("Sakit")
        expect(leave_row.locator("td").nth(4)).to_have_text("2")
        _shot(page, shots, screen, "03-leave-sick", words=("Cuti dan izin", "Sakit"))

        # 5. Ani's forgotten check-out: from her day in the reports to the correction form.
        _show_reports(page, month, month.forgotten)
        page.locator('#day-table tr[data-person="ani"] a.fix').click()
        page.wait_for_url(re.compile(r"/admin/corrections/new\?"))
        expect(page.locator("#a-person")).to_have_value("ani")
        expect(page.locator("#a-day")).to_have_value(month.forgotten.isoformat())
        expect(page.locator("#a-kind")).to_have_value("out")  # the usual case, pre-chosen
        expect(page.locator("#punches-table tr[data-event]")).to_have_count(1)
        _shot(page, shots, screen, "04-correction-form", words=("Koreksi kehadiran", "Alasan"))
        page.fill("#a-time", CHECK_OUT.strftime("%H:%M:%S"))
        page.fill("#a-reason", FIX_REASON)
        page.click('#add-form button[type="submit"]')
        expect(page.locator("#correction-done")).to_contain_text("disimpan")
        added = page.locator("#punches-table tr[data-added]")
        expect(added).to_contain_text(CHECK_OUT.strftime("%H:%M:%S"))
        expect(added).to_contain_text("dikoreksi")
        expect(added).to_contain_text(FIX_REASON)
        _shot(page, shots, screen, "05-correction-saved", words=("Koreksi", "dikoreksi"))
        _nav(page, "/admin/corrections")
        listed = page.locator('#corrections-table tr[data-correction][data-live="yes"]')
        expect(listed).to_have_count(1)
        expect(listed).to_contain_text(FIX_REASON)
        expect(listed).to_contain_text(f"{month.forgotten.isoformat()} {CHECK_OUT:%H:%M:%S}")
        expect(listed.locator("td").nth(4)).to_contain_text(USER)
        _shot(
            page,
            shots,
            screen,
            "06-corrections-list",
            words=("Koreksi", "absen pulang ditambahkan", "dihitung"),
        )

        # 6. The month again: no absence left, the sick days are leave, Ani's day corrected.
        _show_reports(page, month, month.forgotten)
        after = {p: _month_row(page, p) for p in PEOPLE}
        for person in PEOPLE:
            assert after[person]["working"] == str(working - 1), after[person]
            assert after[person]["absent"] == "0", after[person]
        assert after["citra"]["present"] == str(working - 1)
        assert after["budi"]["present"] == str(working - 3)
        assert after["budi"]["leave"] == "Sakit 2"
        assert after["ani"]["present"] == str(working - 1)
        assert after["ani"]["complete"] == str(working - 1)
        assert "dikoreksi" in after["ani"]["person"]
        assert "dikoreksi" not in after["citra"]["person"]
        assert after["ani"]["hours"] == f"{DAY_HOURS * (working - 1):.2f}"
        assert after["budi"]["hours"] == f"{DAY_HOURS * (working - 3):.2f}"
        ani_day = page.locator('#day-table tr[data-person="ani"]')
        expect(ani_day).to_have_attribute("data-status", "complete")
        expect(ani_day.locator(".badge.corrected")).to_have_count(1)
        ani_cells = ani_day.locator("td").all_inner_texts()
        assert ani_cells[4].startswith(CHECK_OUT.strftime("%H:%M")), ani_cells
        assert ani_day.locator("td").nth(4).locator("abbr.corrected").count() == 1
        assert ani_cells[5].strip() == "8 j 20 mnt", ani_cells
        _shot(
            page,
            shots,
            screen,
            "07-month-after",
            words=("Hari kerja", "Tidak hadir"),
            untranslated=reports_tolerance(),
        )

        # The holiday's day and a sick day, as the day view shows them.
        page.fill("#r-date", month.holiday.isoformat())
        with page.expect_navigation():
            page.click('form.filters button[type="submit"]')
        for person in PEOPLE:
            row = page.locator(f'#day-table tr[data-person="{person}"]')
            expect(row).to_have_attribute("data-status", "holiday")
            expect(row).to_contain_text(HOLIDAY_NAME)
        _shot(
            page,
            shots,
            screen,
            "08-day-holiday",
            words=("Laporan", HOLIDAY_NAME),
            untranslated=reports_tolerance(),
        )
        page.fill("#r-date", month.sick[0].isoformat())
        with page.expect_navigation():
            page.click('form.filters button[type="submit"]')
        budi_day = page.locator('#day-table tr[data-person="budi"]')
        expect(budi_day).to_have_attribute("data-status", "leave")
        expect(budi_day.locator('[data-leave="sick"]')).to_contain_text("Sakit")

        # 7. The month's CSV, one row a person and day.
        page.fill("#e-from", month.first.isoformat())
        page.fill("#e-to", month.last.isoformat())
        page.select_option("#e-rows", "days")
        table = _download(page, "#export-csv", tmp_path / f"month-{screen}.csv")
        assert len(table[0]) == len(DAY_COLUMNS)
        col = {name: i for i, name in enumerate(DAY_COLUMNS)}
        days = {(r[col["date"]], r[col["person_id"]]): r for r in table[1:]}
        assert len(days) == len(table) - 1 == month.last.day * len(PEOPLE)
        statuses = {r[col["status"]] for r in table[1:]}
        assert not statuses & _word("absent"), statuses
        for person in PEOPLE:
            off = days[(month.holiday.isoformat(), person)]
            assert off[col["status"]] in _word("holiday")
            assert off[col["day_off"]] == HOLIDAY_NAME
        for sick_day in month.sick:
            sick = days[(sick_day.isoformat(), "budi")]
            assert sick[col["status"]] in _word("leave")
            assert sick[col["leave"]] == "sick"
        fixed = days[(month.forgotten.isoformat(), "ani")]
        assert fixed[col["status"]] in _word("complete")
        assert fixed[col["last_out"]].startswith(
            f"{month.forgotten.isoformat()}T{CHECK_OUT:%H:%M}"
        ) or fixed[col["last_out"]].endswith(CHECK_OUT.strftime("%H:%M:%S")), fixed
        assert fixed[col["worked_minutes"]] == str(8 * 60 + 20)
        assert fixed[col["corrected"]] in _word("last_out")
        assert FIX_REASON in fixed[col["corrections"]]
        assert f"({USER})" in fixed[col["corrections"]]

        # 8. The audit trail: the three changes, by the officer, and the language choice.
        _nav(page, "/admin/audit")
        rows = page.locator("tr[data-audit]")
        expect(rows.first).to_be_visible()
        mine = {
            (row.get_attribute("data-action"), row.get_attribute("data-entity")): row
            for row in rows.all()
        }
        assert {
            ("create", "day_off"),
            ("create", "leave"),
            ("create", "correction"),
            ("update", "account"),
        } <= set(mine), sorted(mine)
        for key in (("create", "day_off"), ("create", "leave"), ("create", "correction")):
            cells = mine[key].locator("td").all_inner_texts()
            assert cells[1].strip() == USER, cells
        expect(mine[("create", "day_off")]).to_contain_text(month.holiday.isoformat())
        expect(mine[("create", "day_off")]).to_contain_text("Hari libur")
        expect(mine[("create", "leave")]).to_contain_text("Izin/cuti")
        expect(mine[("create", "correction")]).to_contain_text("Koreksi")
        for key in (("create", "day_off"), ("create", "leave"), ("create", "correction")):
            expect(mine[key]).to_contain_text("ditambahkan")
        _shot(page, shots, screen, "09-audit", words=("Jejak audit", "Siapa", USER))

        # 9. The audit trail as CSV.
        audit_rows = _download(page, "#audit-csv", tmp_path / f"audit-{screen}.csv")
        # The officer reads Indonesian: the header is in it, the cells stay codes and JSON.
        assert audit_rows[0] == [
            "id", "waktu", "pelaku", "tindakan", "entitas", "id_entitas", "sebelum", "sesudah"
        ]  # fmt: skip
        by_change = {(r[3], r[4]): r for r in audit_rows[1:] if r[2] == USER}
        holiday = json.loads(by_change[("create", "day_off")][7])
        assert (holiday["day"], holiday["name"]) == (month.holiday.isoformat(), HOLIDAY_NAME)
        leave = json.loads(by_change[("create", "leave")][7])
        assert (leave["person_id"], leave["kind"], leave["note"]) == ("budi", "sick", SICK_NOTE)
        correction = json.loads(by_change[("create", "correction")][7])
        assert (correction["person_id"], correction["kind"]) == ("ani", "out")
        assert correction["reason"] == FIX_REASON
        assert json.loads(by_change[("update", "account")][7]) == {"locale": "id"}
        assert foreign == [], f"requests left the server: {foreign}"
    finally:
        context.close()
