"""The admin's actions in reach on a phone (375x812) in a real Chromium (docs/web.md, "Layout").

The tables whose rows carry an action (a day's punches with *Void*, the corrections with *Made
by* and *Revoke*, the leave with *Change* and *Delete*, the kinds of leave with *Save labels*
and *Retire*) become one card a row on a phone: every such control must lie inside the
screen's width, without scrolling the page or the table's box sideways. On a desktop the same
tables stay tables. The server, its people and last month's punches are the month-end walk's
(tests/hr/test_month_end_browser.py); screenshots land in
``test-output/browser/phone-actions/``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.protocol import API_PREFIX
from sync_server.process import ServerProcess
from tests.hr.test_month_end_browser import DESKTOP, PHONE, Month
from tests.hr.test_month_end_browser import site as site  # its server, people and punches
from tests.server.helpers import bearer
from tests.support import ROOT
from tests.web.test_browser import ADMIN_TOKEN, PASSWORD, USER, _unlabelled
from tests.web.test_browser import chromium as chromium  # the browser tests' fixture, reused

pytestmark = [pytest.mark.slow, pytest.mark.browser]

FIX_REASON = "forgot to check out, confirmed by the foreman"
API_ACTOR = "admin token"  # who a change through the admin API is recorded as


@pytest.fixture(scope="module")
def shots() -> Path:
    base = Path(os.environ.get("HADIR_TEST_OUTPUT") or ROOT / "test-output")
    folder = base / "browser" / "phone-actions"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _record(server: ServerProcess, month: Month) -> None:
    """A live correction (so the list has a Revoke) and a leave (so the list has Change and
    Delete), through the admin API."""
    with httpx.Client(base_url=server.url + API_PREFIX, headers=bearer(ADMIN_TOKEN)) as api:
        added = api.post(
            "/admin/corrections",
            json={
                "action": "add",
                "person_id": "ani",
                "kind": "out",
                "day": month.forgotten.isoformat(),
                "time": "16:10",
                "reason": FIX_REASON,
            },
        )
        assert added.status_code == 201, added.text
        sick = {"person": "budi", "kind": "sick", "start": month.sick[0].isoformat()}
        entered = api.post("/admin/leave", json=sick | {"end": month.sick[1].isoformat()})
        assert entered.status_code == 201, entered.text


def _no_sideways_scroll(page: Any, name: str) -> None:
    widths = page.evaluate(
        "() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"{name}: the page scrolls sideways: {widths}"


def _in_reach(control: Any, name: str) -> None:
    """Inside the phone's width, and its table's box does not scroll sideways either (a
    control past the box's edge would need that scroll)."""
    control.wait_for()
    box = control.bounding_box()
    assert box is not None, f"{name} is not rendered"
    assert box["x"] >= 0, f"{name} starts left of the screen: {box}"
    assert box["x"] + box["width"] <= PHONE["width"], f"{name} ends right of the screen: {box}"
    scroller = control.evaluate(
        "el => { const box = el.closest('.scroll');"
        " return box ? [box.scrollWidth, box.clientWidth] : null; }"
    )
    assert scroller is not None, f"{name} is not in a table box"
    assert scroller[0] <= scroller[1], f"{name}: its table's box scrolls sideways: {scroller}"


def _as_cards(page: Any, table: str) -> None:
    """On the phone each cell is a line of its own, headed by its column's name."""
    cell = page.locator(f"{table} td[data-label]").first
    shown = cell.evaluate(
        "el => [getComputedStyle(el).display, getComputedStyle(el, '::before').content,"
        " el.dataset.label]"
    )
    assert shown[0] == "block", (table, shown)
    assert shown[1] == f'"{shown[2]}"', (table, shown)


def _as_table(page: Any, table: str) -> None:
    display = page.locator(f"{table} td").first.evaluate("el => getComputedStyle(el).display")
    assert display == "table-cell", (table, display)
    assert page.locator(f"{table} thead th").first.is_visible(), table


PAGES = ("correction-day", "corrections", "leave")
TABLES = {
    "correction-day": ("#punches-table",),
    "corrections": ("#corrections-table",),
    "leave": ("#leave-table", "#kinds-table"),
}


@pytest.mark.parametrize("browser_locale", ["en-US", "id-ID"])
def test_every_action_is_on_a_phone_screen_without_sideways_scrolling(
    chromium: Any, site: tuple[ServerProcess, Month], shots: Path, browser_locale: str
) -> None:
    server, month = site
    _record(server, month)
    context = chromium.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale=browser_locale
    )
    context.set_default_timeout(60_000)  # two busy cores
    page = context.new_page()
    paths = {
        "correction-day": f"/admin/corrections/new?person=ani&day={month.working[0].isoformat()}",
        "corrections": "/admin/corrections",
        "leave": f"/admin/leave?month={month.text}",
    }
    try:
        page.goto(server.url + "/admin/login")
        page.fill("#username", USER)
        page.fill("#password", PASSWORD)
        page.click('button[type="submit"]')
        page.wait_for_url(server.url + "/admin/")

        page.goto(server.url + paths["correction-day"])
        events = page.locator("#punches-table tr[data-event]")
        assert events.count() == 2  # that day's check-in and check-out, from the terminal
        for n in range(2):
            row = events.nth(n)
            _in_reach(row.locator("input[name=reason]"), f"void reason {n}")
            _in_reach(row.get_by_role("button"), f"void button {n}")

        page.goto(server.url + paths["corrections"])
        live = page.locator('#corrections-table tr[data-correction][data-live="yes"]')
        assert live.count() == 1
        made_by = live.locator("td").nth(4)
        assert API_ACTOR in made_by.inner_text()
        _in_reach(made_by, "made by")
        _in_reach(live.locator("input[name=reason]"), "revoke reason")
        _in_reach(live.get_by_role("button"), "revoke button")

        page.goto(server.url + paths["leave"])
        leave = page.locator('#leave-table tr[data-person="budi"][data-kind="sick"]')
        _in_reach(leave.locator('a[href^="/admin/leave/"]'), "change leave")
        _in_reach(leave.get_by_role("button"), "delete leave")
        kinds = page.locator("#kinds-table tr[data-kind]")
        assert kinds.count() >= 5  # the seeded kinds
        for n in range(kinds.count()):
            kind = kinds.nth(n)
            code = kind.get_attribute("data-kind")
            for field in ("label_en", "label_id"):
                _in_reach(kind.locator(f"input[name={field}]"), f"{code} {field}")
            buttons = kind.get_by_role("button")
            assert buttons.count() == 2  # Save labels, and Retire (or Offer again)
            _in_reach(buttons.nth(0), f"{code} save labels")
            _in_reach(buttons.nth(1), f"{code} retire")

        language = browser_locale[:2]
        for name in PAGES:
            page.goto(server.url + paths[name])
            assert page.get_attribute("html", "lang") == language, name
            page.screenshot(path=str(shots / f"{name}-{language}-phone.png"), full_page=True)
            assert _unlabelled(page) == [], name
            _no_sideways_scroll(page, name)
            for table in TABLES[name]:
                _as_cards(page, table)

        # A desktop screen keeps the tables: one row a line, under the header row.
        page.set_viewport_size(DESKTOP)
        for name in PAGES:
            page.goto(server.url + paths[name])
            page.screenshot(path=str(shots / f"{name}-{language}-desktop.png"), full_page=True)
            for table in TABLES[name]:
                _as_table(page, table)
    finally:
        context.close()
