"""The Calendar page in a real Chromium, on a phone and a desktop screen: every control
labelled, nothing wider than the window, a week saved with its boxes, a holiday added, a
calendar file previewed and imported; screenshots in test-output/browser/calendar-*.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.protocol import API_PREFIX
from sync_server.process import ServerProcess
from tests.server.helpers import bearer
from tests.web.test_browser import (
    ADMIN_TOKEN,
    DESKTOP,
    PASSWORD,
    PHONE,
    USER,
    _check,
)
from tests.web.test_browser import chromium as chromium  # the browser tests' fixtures, reused
from tests.web.test_browser import server as server
from tests.web.test_browser import shots as shots

pytestmark = [pytest.mark.slow, pytest.mark.browser]

HOLIDAYS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
    "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260320\r\nDTEND;VALUE=DATE:20260322\r\n"
    "SUMMARY:Hari Raya Idul Fitri 1447 H\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20191225\r\nRRULE:FREQ=YEARLY\r\n"
    "SUMMARY:Hari Raya Natal\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260105\r\nRRULE:FREQ=WEEKLY\r\n"
    "SUMMARY:Rapat\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


@pytest.fixture
def site(server: ServerProcess) -> ServerProcess:
    with httpx.Client(base_url=server.url + API_PREFIX, headers=bearer(ADMIN_TOKEN)) as api:
        for person, group in (("budi", "pabrik"), ("siti", "kantor")):
            made = api.post("/admin/people", json={"id": person, "name": person, "group": group})
            assert made.status_code == 201, made.text
        shift = api.post("/admin/shifts", json={"name": "pagi", "start": "07:00", "end": "15:00"})
        assert shift.status_code == 201, shift.text
        put = api.put("/admin/groups/pabrik/shift", json={"shift_id": shift.json()["id"]})
        assert put.status_code == 200, put.text
    return server


def _login(page: Any, url: str) -> None:
    page.goto(f"{url}/admin/calendar?year=2026")
    page.fill("#username", USER)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/calendar?year=2026")


@pytest.mark.parametrize(("screen", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_the_calendar_page_in_a_browser(
    chromium: Any,
    site: ServerProcess,
    shots: Path,
    tmp_path: Path,
    screen: str,
    viewport: dict[str, int],
) -> None:
    phone = screen == "phone"
    context = chromium.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
    page = context.new_page()
    try:
        _login(page, site.url)
        _check(page, shots, f"calendar-{screen}-empty")

        # pabrik works Monday to Saturday: tick Saturday, save.
        row = page.locator('#weeks li[data-group="pabrik"]')
        assert "pagi" in row.inner_text()
        row.locator('input[name="day"][value="5"]').check()
        row.locator('button[value="save"]').click()
        page.wait_for_selector("#calendar-done")
        assert page.get_attribute('#weeks li[data-group="pabrik"]', "data-weekdays") == ("1111110")

        page.fill("#d-day", "2026-08-17")
        page.fill("#d-name", "Hari Kemerdekaan RI")
        page.click("#add-day-off button[type=submit]")
        page.wait_for_selector('#days-off-table tr[data-day="2026-08-17"]')
        # Renamed in place: the row's Change opens its form.
        added = page.locator('#days-off-table tr[data-day="2026-08-17"]')
        added.locator("summary").click()
        added.locator('input[name="name"]').fill("HUT RI ke-81")
        added.locator('button[type="submit"]', has_text="Save").click()
        page.wait_for_selector("#calendar-done")
        assert (
            "HUT RI ke-81" in page.locator('#days-off-table tr[data-day="2026-08-17"]').inner_text()
        )

        ics = tmp_path / "libur-2026.ics"
        ics.write_text(HOLIDAYS)
        page.set_input_files("#i-file", str(ics))
        page.click('#import-form button[value="preview"]')
        page.wait_for_selector('#import-report[data-dry-run="yes"]')
        assert page.locator('#import-lines tr[data-outcome="added"]').count() == 3
        assert page.locator('#import-lines tr[data-outcome="refused"]').count() == 1
        assert page.locator('#days-off-table tr[data-day="2026-12-25"]').count() == 0
        _check(page, shots, f"calendar-{screen}-preview")

        page.set_input_files("#i-file", str(ics))
        page.click('#import-form button[value="import"]')
        page.wait_for_selector('#import-report[data-dry-run="no"]')
        for day in ("2026-03-20", "2026-03-21", "2026-08-17", "2026-12-25"):
            assert page.locator(f'#days-off-table tr[data-day="{day}"]').count() == 1
        _check(page, shots, f"calendar-{screen}-imported")
    finally:
        context.close()
