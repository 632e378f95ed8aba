"""The today board's month-close facts (issue 15), on SQLite and PostgreSQL: the site's holiday
from the working calendar, people on leave with their kind, corrected entries with a badge that
links to the correction; in the JSON the board's script polls and on the page, in English and
in Indonesian."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from sync_server import reports
from tests.reports.helpers import backdate_people
from tests.server.helpers import batch, event, utcnow
from tests.web.conftest import Web

IND = {"Accept-Language": "id-ID"}


def _today(web: Web) -> str:
    return reports.local_today(reports.zone(web.config.site_timezone)).isoformat()


def _board(web: Web, **params: str) -> dict[str, Any]:
    answer = web.get("/admin/today.json", params=params)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def _rows(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["person_id"]: r for r in data["rows"]}


def _row_html(html: str, person: str) -> str:
    found = re.search(rf'<tr data-person="{person}"[^>]*>(.*?)</tr>', html, re.S)
    assert found is not None, person
    return found.group(1)


def test_a_holiday_shows_on_the_board_with_its_name(web: Web) -> None:
    web.api.create_person("ann", name="Ann")
    backdate_people(web.config.database_url)
    plain = _board(web)
    assert plain["day_off"] is None
    assert 'id="board-day-off" hidden' in web.get("/admin/").text

    made = web.api.admin(
        "POST",
        "/admin/calendar/days-off",
        json={"day": _today(web), "kind": "holiday", "name": "Hari Raya Natal"},
    )
    assert made.status_code == 201, made.text
    data = _board(web)
    assert data["day_off"] == {"kind": "holiday", "label": "holiday", "name": "Hari Raya Natal"}
    ann = _rows(data)["ann"]
    assert (ann["status"], ann["day_off_name"]) == ("holiday", "Hari Raya Natal")
    assert data["totals"]["holiday"] == 1
    assert data["totals"]["absent"] == 0
    page = web.get("/admin/").text
    line = page.split('id="board-day-off"')[1].split("</p>")[0]
    assert '<span class="badge holiday">holiday</span> Hari Raya Natal' in line
    assert '<span class="badge holiday">holiday</span>' in _row_html(page, "ann")
    # In Indonesian: the day table's own word for it, on the page and in the JSON.
    ind = _board(web, lang="id")
    assert ind["day_off"]["label"] == "libur"
    assert (
        '<span class="badge holiday">libur</span> Hari Raya Natal'
        in web.get("/admin/", headers=IND).text
    )

    # A company day off is told apart from a public holiday.
    web.api.admin("DELETE", f"/admin/calendar/days-off/{_today(web)}")
    made = web.api.admin(
        "POST",
        "/admin/calendar/days-off",
        json={"day": _today(web), "kind": "day_off", "name": "Cuti bersama"},
    )
    assert made.status_code == 201, made.text
    data = _board(web)
    assert data["day_off"] == {"kind": "day_off", "label": "day off", "name": "Cuti bersama"}
    assert _rows(data)["ann"]["status"] == "day_off"


def test_people_on_leave_show_their_kind(web: Web) -> None:
    for person in ("ann", "bob"):
        web.api.create_person(person)
    backdate_people(web.config.database_url)
    day = _today(web)
    given = web.api.admin(
        "POST", "/admin/leave", json={"person": "ann", "kind": "sick", "start": day, "end": day}
    )
    assert given.status_code == 201, given.text

    data = _board(web)
    rows = _rows(data)
    assert (rows["ann"]["status"], rows["ann"]["leave_code"]) == ("leave", "sick")
    assert rows["ann"]["leave_label"] == "Sick"
    assert rows["bob"]["leave_code"] == ""
    assert data["totals"]["leave"] == 1
    assert _rows(_board(web, lang="id"))["ann"]["leave_label"] == "Sakit"

    page = web.get("/admin/").text
    ann = _row_html(page, "ann")
    assert '<span class="badge leave" data-leave="sick">leave: Sick</span>' in ann
    # The leave's badge says it, with the kind; not a second bare "leave" badge.
    assert ann.count('class="badge leave"') == 1
    assert re.search(r'data-total="leave">1</span> on leave</li>', page)
    ind = web.get("/admin/", headers=IND).text
    assert '<span class="badge leave" data-leave="sick">izin/cuti: Sakit</span>' in _row_html(
        ind, "ann"
    )


def test_a_corrected_entry_links_to_its_correction(web: Web) -> None:
    web.api.create_person("bob", name="Bob")
    backdate_people(web.config.database_url)
    tz = reports.zone(web.config.site_timezone)
    came = utcnow() - timedelta(minutes=30)
    left = datetime.now(tz) - timedelta(minutes=10)
    if (
        came.astimezone(tz).date() != reports.local_today(tz)
        or left.date() != came.astimezone(tz).date()
    ):
        pytest.skip("the day's punches would cross local midnight")
    token = web.api.create_terminal("door-1")
    posted = web.api.post_batch(token, batch("door-1", [event("door-1", "bob", wall_time=came)]))
    assert posted.status_code == 200
    assert "correct_url" in _rows(_board(web))["bob"]
    assert _rows(_board(web))["bob"]["corrections_url"] == ""

    added = web.api.admin(
        "POST",
        "/admin/corrections",
        json={
            "action": "add",
            "person_id": "bob",
            "kind": "out",
            "day": _today(web),
            "time": left.strftime("%H:%M"),
            "reason": "forgot to check out",
        },
    )
    assert added.status_code == 201, added.text
    bob = _rows(_board(web))["bob"]
    day = _today(web)
    assert bob["status"] == "complete"
    assert bob["last_out"] == left.strftime("%H:%M")
    assert bob["last_out_corrected"] is True
    assert [(c["action"], c["kind"], c["reason"]) for c in bob["corrections"]] == [
        ("add", "out", "forgot to check out")
    ]
    assert bob["corrections_url"] == f"/admin/corrections?person=bob&from={day}&to={day}"
    assert bob["correct_url"] == f"/admin/corrections/new?person=bob&day={day}"
    # The worked time in the language asked for (the board's script asks for the page's).
    minutes = bob["worked"].split()[0]
    assert bob["worked"] == f"{minutes} min"
    assert _rows(_board(web, lang="id"))["bob"]["worked"] == f"{minutes} mnt"

    row = _row_html(web.get("/admin/").text, "bob")
    href = f"/admin/corrections?person=bob&amp;from={day}&amp;to={day}"
    assert f'<a class="badge corrected" href="{href}"' in row
    assert f"check-out added {left.strftime('%H:%M')}: forgot to check out (" in row
    assert '<abbr class="corrected" title="added by an admin">*</abbr>' in row
    assert f'<a class="fix" href="/admin/corrections/new?person=bob&amp;day={day}"' in row
    # The badge's link lists that correction.
    listed = web.get(href.replace("&amp;", "&")).text
    assert f'data-correction="{added.json()["id"]}"' in listed
    ind = _row_html(web.get("/admin/", headers=IND).text, "bob")
    assert ">dikoreksi</a>" in ind
    assert "check-out added" not in ind
