"""The live today board keeps the page's language after it refreshes (issue 15).

The board's script rewrites the table from ``/admin/today.json``; every word it writes comes
from the page (``data-words``, rendered through gettext) and the JSON is asked for in the
page's language (``lang``). Two checks: without a browser, that the page hands the script every
word the script uses, in Indonesian, and asks for Indonesian JSON; in Debian's Chromium against
a real server process, that an Indonesian board is still wholly Indonesian after refreshes that
add a check-in, a correction and a holiday, with screenshots in ``test-output/browser/``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.protocol import API_PREFIX
from sync_server.process import ServerProcess
from sync_server.web import i18n
from sync_server.web.render import STATIC_DIR
from tests.reports.helpers import backdate_people
from tests.server.helpers import batch, bearer, event
from tests.web.conftest import Web
from tests.web.conftest import make_web as make_web  # the web pages' fixtures, reused
from tests.web.conftest import web as web
from tests.web.test_browser import ADMIN_TOKEN, DESKTOP, FLAGGED, PASSWORD, PHONE, USER, _check
from tests.web.test_browser import chromium as chromium  # the browser tests' fixtures, reused
from tests.web.test_browser import server as server
from tests.web.test_browser import shots as shots

INDONESIAN = i18n.lang("id")


def _words(html: str) -> dict[str, Any]:
    found = re.search(r"data-words='([^']*)'", html)
    assert found is not None, "the board hands its script no words"
    words: dict[str, Any] = json.loads(unescape(found.group(1)))
    return words


# --------------------------------------------------------------------------- without a browser


def test_the_page_gives_the_script_every_word_it_writes(web: Web) -> None:
    """Each ``words.x`` the script reads is in the page's data-words, and in Indonesian on an
    Indonesian page; the script asks for the JSON in the page's language."""
    script = (STATIC_DIR / "hadir.js").read_text(encoding="utf-8")
    used = set(re.findall(r"\bwords\.(\w+)", script))
    assert {"updated", "unreachable", "review", "late", "leave", "corrected"} <= used
    html = web.get("/admin/", headers={"Accept-Language": "id-ID"}).text
    words = _words(html)
    assert used <= set(words), f"words the page does not give: {used - set(words)}"
    assert words["updated"] == INDONESIAN.gettext("Updated %(time)s", time="{time}")
    assert words["updated"].startswith("Diperbarui")
    assert words["review"] == "perlu ditinjau"
    assert words["leave"] == "izin/cuti"
    assert words["corrected"] == "dikoreksi"
    assert words["status"]["in_only"] == INDONESIAN.gettext("in only")
    assert words["correction"]["add_out"] == INDONESIAN.gettext("check-out added")
    # Every placeholder the script fills is still in the translated text.
    assert "{minutes}" in words["late"]
    assert words["unreachable"] == INDONESIAN.gettext(
        "Cannot reach the server (%(error)s); retrying", error="{error}"
    )
    assert "{error}" in words["unreachable"]
    source = re.search(r'data-source="([^"]+)"', html)
    assert source is not None
    assert unescape(source.group(1)).endswith("&lang=id")

    english = _words(web.get("/admin/").text)
    assert english["updated"] == "Updated {time}"
    assert english["status"]["in_only"] == "in only"
    assert english["unreachable"] == "Cannot reach the server ({error}); retrying"


def test_the_json_speaks_the_language_it_is_asked_for(web: Web) -> None:
    """``lang`` wins; without it the JSON follows the account, then the browser, as pages do."""
    web.api.create_person("ann", group="office")  # created now: the table is empty, and says why
    asked = web.get("/admin/today.json", params={"lang": "id"}).json()
    assert asked["locale"] == "id"
    browser = web.get("/admin/today.json", headers={"Accept-Language": "id"}).json()
    assert browser["locale"] == "id"
    assert browser["empty"] == asked["empty"]
    plain = web.get("/admin/today.json").json()
    assert plain["locale"] == "en"
    assert plain["empty"].startswith("1 person enrolled, all after this day began")
    # An unknown lang is the page's language again, not an error.
    assert web.get("/admin/today.json", params={"lang": "xx"}).json()["locale"] == "en"
    assert web.post("/admin/language", {"locale": "id"}).status_code == 303
    assert web.get("/admin/today.json").json()["locale"] == "id"


# --------------------------------------------------------------------------- in Chromium


@pytest.fixture
def admin(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url + API_PREFIX, headers=bearer(ADMIN_TOKEN)) as client:
        yield client


def _ok(answer: httpx.Response, status: int = 201) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def _board_text(page: Any) -> str:
    text: str = page.locator("#board").inner_text()
    return text


# How long a refresh may take on a loaded machine (the board polls every second here).
WAIT_MS = 30_000
# English words the board's script used to write after its first refresh.
ENGLISH = ("Updated", "in only", "not yet", "needs review", "leave:", "corrected", "holiday")


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize(("screen", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_an_indonesian_board_stays_indonesian_after_it_refreshes(
    chromium: Any,
    server: ServerProcess,
    admin: httpx.Client,
    shots: Path,
    tmp_path: Path,
    screen: str,
    viewport: dict[str, int],
) -> None:
    now = datetime.now(UTC)  # the server's site keeps UTC
    if not 10 <= now.hour * 60 + now.minute <= 23 * 60 + 50:
        pytest.skip("the day's punches would cross midnight")
    today = now.date().isoformat()
    for person, name in (("ani", "Ani Lestari"), ("budi", "Budi Santoso")):
        _ok(admin.post("/admin/people", json={"id": person, "name": name, "group": "kantor"}))
    backdate_people(f"sqlite:///{tmp_path}/srv.db")
    leave = {"person": "ani", "kind": "sick", "start": today, "end": today}
    _ok(admin.post("/admin/leave", json=leave))
    token = _ok(admin.post("/admin/terminals", json={"id": "gerbang", "group": "kantor"}))["token"]

    phone = screen == "phone"
    context = chromium.new_context(
        viewport=viewport, is_mobile=phone, has_touch=phone, locale="id-ID"
    )
    page = context.new_page()
    # A script error would leave the board as the server drew it: it must not happen.
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(server.url + "/admin/login")
        page.fill("#username", USER)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(server.url + "/admin/")
        assert page.locator("html").get_attribute("lang") == "id"
        page.evaluate("() => { window.__sameDocument = true; }")
        ani = page.locator('#today-table tr[data-person="ani"]')
        assert "izin/cuti: Sakit" in ani.inner_text()

        # Budi checks in (the liveness check failed: flagged): the board adds him in place.
        came = now - timedelta(minutes=3)
        flagged = event("gerbang", "budi", kind="in", wall_time=came, liveness=FLAGGED)
        with httpx.Client(base_url=server.url + API_PREFIX, headers=bearer(token)) as terminal:
            _ok(terminal.post("/events", json=batch("gerbang", [flagged])), 200)
        budi = page.locator('#today-table tr[data-person="budi"][data-status="in_only"]')
        try:
            budi.wait_for(timeout=WAIT_MS)
        except Exception:
            raise AssertionError(f"{errors} {_board_text(page)}") from None
        assert page.evaluate("() => window.__sameDocument === true"), "the board reloaded"
        row = budi.inner_text()
        assert INDONESIAN.gettext("in only") in row
        assert "perlu ditinjau" in row
        assert "izin/cuti: Sakit" in ani.inner_text()
        assert page.locator('[data-total="leave"]').inner_text() == "1"
        updated = page.locator("#board-updated").inner_text()
        assert updated.startswith("Diperbarui "), updated
        title = budi.locator("a.badge.review").get_attribute("title")
        assert title == INDONESIAN.gettext(
            "Events of this day that failed the liveness check: %(count)s", count=1
        )

        # An admin adds his forgotten check-out: the row gets the corrected badge, a link to
        # the correction, and the "*" of an added time, in Indonesian.
        left = (now - timedelta(minutes=1)).strftime("%H:%M")
        correction = {
            "action": "add",
            "person_id": "budi",
            "kind": "out",
            "day": today,
            "time": left,
            "reason": "lupa absen pulang",
        }
        _ok(admin.post("/admin/corrections", json=correction))
        fixed = page.locator('#today-table tr[data-person="budi"][data-status="complete"]')
        fixed.wait_for(timeout=WAIT_MS)
        badge = fixed.locator("a.badge.corrected")
        assert badge.inner_text() == "dikoreksi"
        assert badge.get_attribute("href") == (
            f"/admin/corrections?person=budi&from={today}&to={today}"
        )
        added = INDONESIAN.gettext("check-out added")
        assert badge.get_attribute("title") == f"{added} {left}: lupa absen pulang (admin token)"
        mark = fixed.locator("abbr.corrected")
        assert mark.get_attribute("title") == INDONESIAN.gettext("added by an admin")
        assert fixed.locator("a.fix").inner_text() == INDONESIAN.gettext("correct")
        assert fixed.locator("td").nth(5).inner_text().endswith(" mnt")
        for word in ENGLISH:
            assert word not in _board_text(page), f"English after a refresh: {word!r}"
        _check(page, shots, f"board-id-{screen}-corrected")

        # Today becomes a holiday: the line above the table appears without a reload.
        holiday = {"day": today, "kind": "holiday", "name": "Hari Raya Natal"}
        _ok(admin.post("/admin/calendar/days-off", json=holiday))
        line = page.locator("#board-day-off")
        line.wait_for(state="visible", timeout=WAIT_MS)
        assert line.inner_text() == "libur Hari Raya Natal"
        ani_holiday = page.locator('#today-table tr[data-person="ani"][data-status="holiday"]')
        ani_holiday.wait_for(timeout=WAIT_MS)
        assert "libur" in ani_holiday.inner_text()
        assert page.evaluate("() => window.__sameDocument === true"), "the board reloaded"
        for word in ENGLISH:
            assert word not in _board_text(page), f"English after a refresh: {word!r}"
        _check(page, shots, f"board-id-{screen}-holiday")
        assert errors == []
    finally:
        context.close()
