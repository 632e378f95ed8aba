"""The admin pages do what the JSON API does: enrol, delete, terminals, today board, reports."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from edge.errors import ImageError
from edge.recognize.quality import QualityIssue
from sync_server import consent, people, reports
from sync_server.config import WebConfig
from sync_server.db import Database, heartbeats, migrate
from sync_server.domain_errors import PersonNotFoundError
from sync_server.web import accounts
from sync_server.web import people as web_people
from tests.reports.helpers import backdate_people, set_week
from tests.server.helpers import batch, event, heartbeat, table_counts, template, utcnow
from tests.web.conftest import Web

LMM = "people/lin_manuel_miranda/lmm1.png"


def _results(html: str) -> dict[str, str]:
    """File name -> reason ('' for accepted) from the photo results list."""
    return dict(re.findall(r'data-file="([^"]*)" data-reason="([^"]*)"', html))


def _files(faces_dir: Path, *names: str) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("photos", (Path(n).name, (faces_dir / n).read_bytes(), "image/jpeg")) for n in names]


@pytest.mark.faces
def test_enrol_with_photos_shows_each_photos_fate(web: Web, faces_dir: Path) -> None:
    files = [
        *_files(faces_dir, LMM, "scenes/dogs.jpg", "scenes/two_people.jpg"),
        ("photos", ("notes.jpg", b"this is text, not a photo", "image/jpeg")),
    ]
    response = web.post(
        "/admin/people",
        {
            "id": "lmm",
            "name": "Lin-Manuel Miranda",
            "group": "default",
            "department": "Cast",
            "consent": "yes",
        },
        files=files,
    )
    assert response.status_code == 200, response.text
    assert _results(response.text) == {
        "lmm1.png": "",
        "dogs.jpg": "no_face",
        "two_people.jpg": "several_faces",
        "notes.jpg": "unreadable",
    }
    assert 'id="template-count">1<' in response.text
    assert "Cast" in response.text
    # The terminal's feed carries the one template.
    token = web.api.create_terminal("door-1")
    page = web.api.changes(token, 0)
    [change] = page["changes"]
    assert (change["op"], change["person_id"]) == ("upsert", "lmm")
    assert len(change["templates"]) == 1


@pytest.mark.faces
def test_possible_duplicate_is_warned(web: Web, faces_dir: Path) -> None:
    obama = sorted((faces_dir / "people/barack_obama").iterdir())
    web.post(
        "/admin/people",
        {"id": "obama", "name": "Barack Obama", "group": "default", "consent": "yes"},
        files=_files(faces_dir, str(obama[0].relative_to(faces_dir))),
    )
    second = web.post(
        "/admin/people",
        {"id": "obama2", "name": "Someone Else", "group": "default", "consent": "yes"},
        files=_files(faces_dir, str(obama[1].relative_to(faces_dir))),
    )
    assert second.status_code == 200
    assert "Possible duplicate" in second.text
    assert "from obama, under the matching threshold" in second.text


def test_enrol_form_errors_name_the_field_and_keep_input(web: Web) -> None:
    before = table_counts(web.config.database_url)
    bad = web.post("/admin/people", {"id": "no spaces", "name": "Ann", "group": "default"})
    assert bad.status_code == 422
    assert "id:" in bad.text
    assert 'value="Ann"' in bad.text
    assert table_counts(web.config.database_url) == before
    assert web.post("/admin/people", {"id": "ann", "name": "Ann", "group": "g"}).status_code == 200
    clash = web.post("/admin/people", {"id": "ann", "name": "Ann", "group": "g"})
    assert clash.status_code == 409
    assert "already exists" in clash.text


def test_person_without_photo_says_so_and_more_photos_need_a_file(web: Web) -> None:
    page = web.post("/admin/people", {"id": "ann", "name": "Ann", "group": "default"})
    assert "No usable photo yet" in page.text
    empty = web.post("/admin/people/ann/photos")
    assert _results(empty.text) == {"(none)": "missing_photo"}
    assert web.get("/admin/people/nobody").status_code == 404


def _reasons(html: str) -> dict[str, tuple[str, str]]:
    """Reason code -> (its words, the code in small print) from the photo results list."""
    found = re.findall(
        r'<span class="reason" data-code="([^"]*)">([^<]*)</span> <small class="code">\(([^)]*)\)',
        html,
    )
    return {code: (words, small) for code, words, small in found}


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "en",
            {
                "consent_missing": "no consent on record",
                "unreadable": "not a readable image",
                "missing_photo": "no photo chosen",
            },
        ),
        (
            "id",
            {
                "consent_missing": "belum ada persetujuan",
                "unreadable": "bukan gambar yang dapat dibaca",
                "missing_photo": "belum ada foto yang dipilih",
            },
        ),
    ],
)
def test_a_refused_photos_reason_is_in_the_pages_language(
    web: Web, language: str, words: dict[str, str]
) -> None:
    reader = {"Accept-Language": language}
    photo = [("photos", ("ann.jpg", b"these bytes are no photo", "image/jpeg"))]
    without_consent = web.post(
        "/admin/people",
        {"id": "ann", "name": "Ann", "group": "default"},
        files=photo,
        headers=reader,
    )
    unreadable = web.post(
        "/admin/people",
        {"id": "bob", "name": "Bob", "group": "default", "consent": "yes"},
        files=[("photos", ("bob.jpg", b"these bytes are no photo", "image/jpeg"))],
        headers=reader,
    )
    empty = web.post("/admin/people/bob/photos", headers=reader)
    shown = _reasons(without_consent.text) | _reasons(unreadable.text) | _reasons(empty.text)
    # The words in the reader's language, the code kept beside them for support.
    assert shown == {code: (said, code) for code, said in words.items()}
    assert 'data-file="ann.jpg" data-reason="consent_missing"' in without_consent.text


def test_every_code_a_photo_is_refused_with_has_words() -> None:
    image_errors = [ImageError]
    for kind in image_errors:
        image_errors.extend(kind.__subclasses__())
    codes = {kind.reason for kind in image_errors}
    codes |= {issue.value for issue in QualityIssue}
    codes |= {
        PersonNotFoundError("x").reason,
        consent.CONSENT_MISSING,
        people.NOT_SAME_PERSON,
        "too_many_templates",
        "photo_exists",
        "missing_photo",
    }
    assert codes <= set(web_people.PHOTO_REASONS)


def test_delete_needs_confirmation_and_reaches_the_terminals(web: Web) -> None:
    web.api.enrol("ann", 1)
    token = web.api.create_terminal("door-1")
    version = web.api.changes(token, 0)["version"]
    confirm = web.get("/admin/people/ann/delete")
    assert "Type <strong>ann</strong> to confirm" in confirm.text
    refused = web.post("/admin/people/ann/delete", {"confirm": "yes"})
    assert refused.status_code == 422
    assert web.get("/admin/people/ann").status_code == 200
    done = web.post("/admin/people/ann/delete", {"confirm": "ann"})
    assert done.status_code == 303
    assert "was deleted" in web.get(done.headers["location"]).text
    assert web.get("/admin/people/ann").status_code == 404
    [change] = web.api.changes(token, version)["changes"]
    assert (change["op"], change["person_id"]) == ("delete", "ann")


def test_search_people(web: Web) -> None:
    for person_id, name in [("e100", "Amal Haddad"), ("e101", "Bilal Omar"), ("e102", "Cara 50%")]:
        web.api.create_person(person_id, name=name)
    found = web.get("/admin/people", params={"q": "haddad"}).text
    assert 'data-person="e100"' in found
    assert 'data-person="e101"' not in found
    by_id = web.get("/admin/people", params={"q": "E101"}).text
    assert re.findall(r'<tr data-person="([^"]+)"', by_id) == ["e101"]
    # LIKE wildcards in the query are literal characters.
    literal = web.get("/admin/people", params={"q": "%"}).text
    assert re.findall(r'<tr data-person="([^"]+)"', literal) == ["e102"]
    assert "Nobody matches" in web.get("/admin/people", params={"q": "zzz"}).text


def test_terminals_issue_show_health_revoke_and_rotate(web: Web) -> None:
    created = web.post(
        "/admin/terminals", {"id": "door-1", "group": "default", "description": "Lobby"}
    )
    assert created.status_code == 200
    token = re.search(r'id="token" class="token" readonly value="([^"]+)"', created.text)
    assert token is not None
    token_value = token.group(1)
    listing = web.get("/admin/terminals").text
    assert 'data-terminal="door-1" data-state="never seen"' in listing
    assert token_value not in listing  # shown once only

    hb = web.api.as_terminal(
        token_value, "POST", "/heartbeat", json=heartbeat("door-1", backlog=7, clock_synced=False)
    )
    assert hb.status_code == 200, hb.text
    listing = web.get("/admin/terminals").text
    assert 'data-state="online"' in listing
    assert ">7 <span" in listing
    assert "not synced" in listing

    clash = web.post("/admin/terminals", {"id": "door-1", "group": "default"})
    assert clash.status_code == 409

    assert web.post("/admin/terminals/door-1/revoke").status_code == 303
    assert 'data-state="revoked"' in web.get("/admin/terminals").text
    assert web.api.as_terminal(token_value, "GET", "/terminal").status_code == 403

    rotated = web.post("/admin/terminals/door-1/token")
    new = re.search(r'readonly value="([^"]+)"', rotated.text)
    assert new is not None
    assert web.api.as_terminal(new.group(1), "GET", "/terminal").status_code == 200
    assert web.api.as_terminal(token_value, "GET", "/terminal").status_code == 401


def test_terminal_goes_offline_without_heartbeats(make_web: object, web: Web) -> None:
    token = web.api.create_terminal("door-2")
    old = (utcnow() - timedelta(minutes=10)).isoformat()
    web.api.as_terminal(token, "POST", "/heartbeat", json=heartbeat("door-2", wall_time=old))
    listing = web.get("/admin/terminals").text
    assert 'data-state="online"' in listing  # the server's receive time counts, not the clock
    fast = web.config.web.model_copy(update={"offline_after_s": 0.001})
    from fastapi.testclient import TestClient

    from sync_server.app import create_app

    config = web.config.model_copy(update={"web": fast})
    with TestClient(create_app(config, environ={}), base_url="http://testserver") as client:
        client.cookies = web.client.cookies
        assert 'data-state="offline"' in client.get("/admin/terminals").text


def _tiles(html: str) -> dict[str, str]:
    """The board's totals as the page shows them: data-total name -> "number label"."""
    found = re.findall(r'data-total="([a-z_]+)">(\d+)</span> ([a-z ]+)</li>', html)
    return {name: f"{number} {label}" for name, number, label in found}


def test_today_json_follows_events(web: Web) -> None:
    web.api.create_person("ann", name="Ann")
    web.api.create_person("bob", name="Bob")
    backdate_people(web.config.database_url)
    before = web.get("/admin/today.json").json()
    # Without a shift nobody is due before the day is over: not yet, not absent.
    assert (before["totals"]["absent"], before["totals"]["not_yet"]) == (0, 2)
    token = web.api.create_terminal("door-1")
    now = utcnow()
    response = web.api.post_batch(
        token, batch("door-1", [event("door-1", "ann", wall_time=now - timedelta(seconds=30))])
    )
    assert response.status_code == 200
    after = web.get("/admin/today.json").json()
    rows = {r["person_id"]: r for r in after["rows"]}
    assert rows["ann"]["status"] == "in_only"
    assert rows["ann"]["first_in"] == (now - timedelta(seconds=30)).strftime("%H:%M")
    assert rows["bob"]["status"] == "not_yet"
    assert (after["totals"]["in_only"], after["totals"]["not_yet"]) == (1, 1)
    assert (after["totals"]["present"], after["totals"]["in_now"]) == (1, 1)
    group = web.get("/admin/today.json", params={"group": "nobody"}).json()
    assert group["rows"] == []
    board = web.get("/admin/").text
    assert 'data-person="ann" data-status="in_only"' in board


def test_board_tells_present_today_from_in_now(web: Web) -> None:
    """Two people came and went: 2 present today, 0 in now; on the JSON and the page."""
    for person in ("ann", "bob", "cem"):
        web.api.create_person(person)
    backdate_people(web.config.database_url)
    token = web.api.create_terminal("door-1")
    start = utcnow() - timedelta(minutes=10)
    punches = [
        event("door-1", "ann", kind="in", wall_time=start),
        event("door-1", "ann", kind="out", wall_time=start + timedelta(minutes=1)),
        event("door-1", "bob", kind="in", wall_time=start + timedelta(minutes=2)),
        event("door-1", "bob", kind="out", wall_time=start + timedelta(minutes=3)),
    ]
    assert web.api.post_batch(token, batch("door-1", punches)).status_code == 200
    if start.astimezone(reports.zone(web.config.site_timezone)).date() != reports.local_today(
        reports.zone(web.config.site_timezone)
    ):
        pytest.skip("the events crossed local midnight")
    totals = web.get("/admin/today.json").json()["totals"]
    assert (totals["present"], totals["in_now"], totals["people"]) == (2, 0, 3)
    tiles = _tiles(web.get("/admin/").text)
    assert (tiles["present"], tiles["in_now"]) == ("2 present today", "0 in now")
    # Ann comes back: in now again, still counted once as present.
    back = [event("door-1", "ann", kind="in", wall_time=start + timedelta(minutes=4))]
    assert web.api.post_batch(token, batch("door-1", back)).status_code == 200
    totals = web.get("/admin/today.json").json()["totals"]
    assert (totals["present"], totals["in_now"]) == (2, 1)
    tiles = _tiles(web.get("/admin/").text)
    assert (tiles["present"], tiles["in_now"]) == ("2 present today", "1 in now")


def test_empty_tables_say_why(web: Web) -> None:
    nobody = web.get("/admin/today.json").json()
    assert nobody["empty"] == "Nobody enrolled yet."
    assert "Nobody enrolled yet." in web.get("/admin/").text
    web.api.create_person("ann", group="office")  # created now: listed from tomorrow
    today = web.get("/admin/today.json").json()
    assert today["rows"] == []
    assert today["empty"].startswith("1 person enrolled, all after this day began")
    page = web.get("/admin/").text
    assert "Nobody enrolled yet." not in page
    assert "1 person enrolled, all after this day began" in page
    backdate_people(web.config.database_url)
    filtered = web.get("/admin/today.json", params={"group": "nobody"}).json()
    assert filtered["empty"] == "Nobody in group “nobody”."
    reports_page = web.get("/admin/reports", params={"group": "nobody", "department": "ops"})
    assert reports_page.text.count("Nobody in group “nobody” and department “ops”.") == 2
    assert "Nobody enrolled yet." not in reports_page.text


def test_reports_page_and_exports(web: Web) -> None:
    web.api.create_person("ann", name="Ann")
    backdate_people(web.config.database_url)
    token = web.api.create_terminal("door-1")
    tz = reports.zone(web.config.site_timezone)
    today = reports.local_today(tz)
    start = utcnow() - timedelta(hours=2)
    events = [
        event("door-1", "ann", kind="in", wall_time=start),
        event("door-1", "ann", kind="out", wall_time=start + timedelta(minutes=90)),
    ]
    assert web.api.post_batch(token, batch("door-1", events)).status_code == 200
    if (start.astimezone(tz)).date() != today:
        pytest.skip("the events crossed local midnight")
    page = web.get("/admin/reports", params={"date": today.isoformat()})
    assert page.status_code == 200
    assert 'data-person="ann" data-status="complete"' in page.text
    assert (
        "1 person: 1 complete, 0 in only, 0 out only, 0 absent, 0 not yet due; 0 late." in page.text
    )
    assert "1 h 30 min" in page.text
    month_row = re.search(r'<tr data-person="ann">(.*?)</tr>', page.text, re.S)
    assert month_row is not None
    assert "<td>1</td>" in month_row.group(1)
    assert "<td>1.50</td>" in month_row.group(1)  # hours as the API and CLI round them
    # The export stops at today: the rest of the month has not happened yet.
    assert f'id="e-to" name="to" type="date" value="{today.isoformat()}"' in page.text

    exported = web.get(
        "/admin/reports/export.csv", params={"from": today.isoformat(), "to": today.isoformat()}
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["person_id"], r["status"], r["worked_minutes"]) for r in rows] == [
        ("ann", "complete", "90")
    ]
    per_event = web.get(
        "/admin/reports/export.csv",
        params={"from": today.isoformat(), "to": today.isoformat(), "rows": "events"},
    )
    assert len(list(csv.DictReader(io.StringIO(per_event.text)))) == 2
    hrms = web.get(
        "/admin/reports/hrms.json", params={"from": today.isoformat(), "to": today.isoformat()}
    )
    assert [c["log_type"] for c in hrms.json()] == ["IN", "OUT"]

    assert web.get("/admin/reports", params={"date": "2026-02-30"}).status_code == 422
    backwards = web.get(
        "/admin/reports/export.csv", params={"from": "2026-02-02", "to": "2026-02-01"}
    )
    assert backwards.status_code == 422


def test_the_attendance_csv_answers_alike_from_the_api_and_the_web(web: Web) -> None:
    """The same file name, type and language headers; the web's language may also come from
    the account (its session cookie), so its answer varies on that too."""
    days = {"from": "2026-03-02", "to": "2026-03-03", "rows": "events"}
    by_api = web.api.admin(
        "GET", "/admin/reports/export.csv", params=days, headers={"Accept-Language": "id"}
    )
    by_web = web.get("/admin/reports/export.csv", params=days, headers={"Accept-Language": "id"})
    for answer in (by_api, by_web):
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "text/csv; charset=utf-8"
        assert answer.headers["content-disposition"] == (
            'attachment; filename="attendance-events-2026-03-02-2026-03-03.csv"'
        )
        assert answer.headers["content-language"] == "id"
    assert by_api.headers["vary"] == "Accept-Language"
    assert by_web.headers["vary"] == "Accept-Language, Cookie"
    assert by_web.text == by_api.text


def test_month_hours_match_the_api(web: Web) -> None:
    """8 h 15 min is 8.25 on the page, in the API and on the command line (it was 8.2 here)."""
    web.api.create_person("ann")
    backdate_people(web.config.database_url)
    token = web.api.create_terminal("door-1")
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    punches = [
        event("door-1", "ann", kind="in", wall_time=start),
        event("door-1", "ann", kind="out", wall_time=start + timedelta(hours=8, minutes=15)),
    ]
    assert web.api.post_batch(token, batch("door-1", punches)).status_code == 200
    api = web.api.admin("GET", "/admin/reports/month", params={"month": "2026-03"}).json()
    assert api["rows"][0]["worked_hours"] == 8.25
    page = web.get("/admin/reports", params={"date": "2026-03-02"}).text
    month_row = re.search(r'<tr data-person="ann">(.*?)</tr>', page, re.S)
    assert month_row is not None
    assert "<td>8.25</td>" in month_row.group(1)


def test_future_days_are_not_absent_on_the_page_and_in_the_export(web: Web) -> None:
    web.api.create_person("ann")
    backdate_people(web.config.database_url)
    # Every day a working day: the three days ahead may fall on a weekend, which is
    # not_working whether due or not.
    set_week(web.config.database_url, "*", "1111111")
    tomorrow = reports.local_today(reports.zone(web.config.site_timezone)) + timedelta(days=1)
    page = web.get("/admin/reports", params={"date": tomorrow.isoformat()}).text
    assert 'data-person="ann" data-status="not_yet"' in page
    assert "0 absent, 1 not yet due" in page
    exported = web.get(
        "/admin/reports/export.csv",
        params={"from": tomorrow.isoformat(), "to": (tomorrow + timedelta(days=2)).isoformat()},
    )
    assert [r["status"] for r in csv.DictReader(io.StringIO(exported.text))] == ["not_yet"] * 3


def test_web_csv_neutralises_formulas(web: Web) -> None:
    web.api.create_person("ann", name="=HYPERLINK(1)")
    web.api.create_person("bob", name="Bob -5")
    backdate_people(web.config.database_url)
    exported = web.get("/admin/reports/export.csv", params={"from": "2026-03-02"})
    names = [r["name"] for r in csv.DictReader(io.StringIO(exported.text))]
    assert names == ["'=HYPERLINK(1)", "Bob -5"]


def test_clock_offset_has_no_negative_zero(web: Web) -> None:
    token = web.api.create_terminal("door-1")
    beat = web.api.as_terminal(token, "POST", "/heartbeat", json=heartbeat("door-1"))
    assert beat.status_code == 200
    db = Database.from_url(web.config.database_url, pool_size=1)
    try:
        shown_as = {-0.04: ">0.0 s", 0.04: ">0.0 s", -1.26: ">-1.3 s", 2.0: ">+2.0 s"}
        for stored, shown in shown_as.items():
            with db.write() as conn:
                conn.execute(sa.update(heartbeats).values(clock_offset_s=stored))
            listing = web.get("/admin/terminals").text
            assert shown in listing, stored
            assert "-0.0" not in listing
    finally:
        db.dispose()


def test_favicon_and_plurals(web: Web) -> None:
    page = web.get("/admin/").text
    icon = re.search(r'<link rel="icon" href="([^"]+)"', page)
    assert icon is not None
    served = web.get(icon.group(1))
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("image/svg+xml")
    assert served.text.startswith("<svg")
    root = web.get("/favicon.ico")  # asked for by browsers on pages without the link
    assert (root.status_code, root.text) == (200, served.text)
    web.api.enrol("ann", 1)
    assert "and their 1 template from the server" in web.get("/admin/people/ann/delete").text


def test_lockout_minutes_in_the_right_number(db_url: str) -> None:
    config = WebConfig(max_login_failures=1, lockout_minutes=1)
    db = Database.from_url(db_url, pool_size=1)
    try:
        migrate(db)
        accounts.set_account(db, "bob", "correct horse battery")
        now = utcnow()
        assert accounts.check_login(db, "bob", "wrong", config, now=now).username is None
        refused = accounts.check_login(
            db, "bob", "correct horse battery", config, now=now + timedelta(seconds=5)
        )
        assert (refused.problem or "").endswith("try again in 1 minute")
    finally:
        db.dispose()


def test_too_many_templates_counts_in_the_right_number(web: Web) -> None:
    web.api.enrol("ann", 1)
    response = web.api.admin(
        "POST",
        "/admin/people/ann/templates",
        json={"templates": [template(seed) for seed in range(2, 2 + people.MAX_TEMPLATES)]},
    )
    assert response.status_code == 409
    assert response.json()["detail"].startswith("ann has 1 template; at most")
