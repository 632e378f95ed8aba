"""The Needs review page: events whose liveness check failed, their markers, and the review."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.reports.helpers import backdate_people
from tests.server.helpers import batch, event, utcnow
from tests.web.conftest import ADMIN_USER, Web

FLAGGED = {"score": 0.2, "passed": False, "reasons": ["frame_edges", "flat_motion"]}
PASSED = {"score": 0.9, "passed": True, "reasons": []}


def _send(web: Web, device: str, *events: dict[str, Any]) -> None:
    token = web.api.create_terminal(device)
    response = web.api.post_batch(token, batch(device, list(events)))
    assert [r["status"] for r in response.json()["results"]] == ["accepted"] * len(events)


def _nav_count(html: str) -> str | None:
    found = re.search(
        r'id="nav-review"[^>]*>Needs review(?: <span class="count"[^>]*>(\d+)<)?', html
    )
    assert found is not None, "no Needs review link in the nav"
    return found.group(1)


def _rows(html: str) -> dict[str, str]:
    """Event id -> open (yes/no) of the review table rows."""
    return dict(re.findall(r'<tr data-event="([^"]+)" data-open="(yes|no)">', html))


def test_review_page_lists_flagged_events_and_marks_them(make_web: Any) -> None:
    web = make_web(site_timezone="Asia/Tokyo")
    assert web.login().status_code == 303
    web.api.create_person("ana", name="Ana Example")
    at = utcnow() - timedelta(minutes=10)
    flagged = event("door-1", "ana", wall_time=at, liveness=FLAGGED)
    live = event("door-1", "ana", kind="out", liveness=PASSED)
    _send(web, "door-1", flagged, live, event("door-1", "ana", kind="out"))

    page = web.get("/admin/review")
    assert page.status_code == 200
    assert _nav_count(page.text) == "1"
    assert _rows(page.text) == {flagged["id"]: "yes"}
    row = page.text.split(f'data-event="{flagged["id"]}"')[1].split("</tr>")[0]
    local = at.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M:%S")
    for shown in (local, "Ana Example", "door-1", "0.20", "frame_edges, flat_motion"):
        assert shown in row, shown
    assert 'action="/admin/review/' + flagged["id"] + '"' in row
    assert 'name="csrf_token"' in row

    marked = web.post(f"/admin/review/{flagged['id']}")
    assert marked.status_code == 303
    assert marked.headers["location"] == f"/admin/review?marked={flagged['id']}"
    after = web.get(marked.headers["location"]).text
    assert _rows(after) == {}
    assert "Marked reviewed." in after
    assert _nav_count(after) is None
    reviewed = web.get("/admin/review", params={"reviewed": "1"}).text
    assert _rows(reviewed) == {flagged["id"]: "no"}
    assert f"reviewed by {ADMIN_USER}" in reviewed
    listed = web.api.admin("GET", "/admin/events").json()["events"]
    (stored,) = [e for e in listed if e["id"] == flagged["id"]]
    assert (stored["reviewed_by"], stored["needs_review"]) == (ADMIN_USER, False)


def test_mark_reviewed_needs_the_sessions_csrf_token(web: Web) -> None:
    flagged = event("door-1", "ana", liveness=FLAGGED)
    _send(web, "door-1", flagged)
    response = web.client.post(
        f"/admin/review/{flagged['id']}", data={"csrf_token": "forged"}, follow_redirects=False
    )
    assert response.status_code == 403
    response = web.post(
        f"/admin/review/{flagged['id']}", headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert _rows(web.get("/admin/review").text) == {flagged["id"]: "yes"}


def test_marking_a_passed_or_unknown_event_is_an_error_page(web: Web) -> None:
    live = event("door-1", "ana", liveness=PASSED)
    _send(web, "door-1", live)
    assert web.post(f"/admin/review/{live['id']}").status_code == 409
    assert web.post("/admin/review/not-an-id").status_code == 404
    assert web.post("/admin/review/0193a1b2-0000-7000-8000-000000000000").status_code == 404


def test_review_page_filters_by_terminal_and_days(web: Web) -> None:
    now = utcnow()
    old = event("door-1", "ana", wall_time=now - timedelta(days=3), liveness=FLAGGED)
    new = event("door-1", "ana", wall_time=now - timedelta(minutes=1), liveness=FLAGGED)
    other = event("door-2", "ben", wall_time=now - timedelta(minutes=2), liveness=FLAGGED)
    _send(web, "door-1", old, new)
    _send(web, "door-2", other)
    assert set(_rows(web.get("/admin/review", params={"terminal": "door-2"}).text)) == {
        other["id"]
    }
    today = now.date().isoformat()  # the site zone is UTC in these tests
    recent = web.get("/admin/review", params={"from": today, "to": today}).text
    assert set(_rows(recent)) == {new["id"], other["id"]}
    earlier = (now - timedelta(days=3)).date().isoformat()
    assert set(_rows(web.get("/admin/review", params={"to": earlier}).text)) == {old["id"]}
    assert web.get("/admin/review", params={"from": "yesterday"}).status_code == 422


def test_day_view_and_person_page_mark_events_needing_review(web: Web) -> None:
    web.api.create_person("ana", name="Ana Example")
    web.api.create_person("ben", name="Ben Example")
    backdate_people(web.config.database_url)
    now = utcnow()
    flagged = event("door-1", "ana", wall_time=now - timedelta(seconds=30), liveness=FLAGGED)
    _send(web, "door-1", flagged, event("door-1", "ben", wall_time=now - timedelta(seconds=20)))

    board = web.get("/admin/today.json").json()
    assert {r["person_id"]: r["review"] for r in board["rows"]} == {"ana": 1, "ben": 0}
    html = web.get("/admin/").text
    ana = html.split('data-person="ana"')[1].split("</tr>")[0]
    ben = html.split('data-person="ben"')[1].split("</tr>")[0]
    assert "needs review" in ana
    assert "needs review" not in ben
    day = web.get("/admin/reports", params={"date": now.date().isoformat()}).text
    assert "needs review" in day.split('data-person="ana"')[1].split("</tr>")[0]

    person = web.get("/admin/people/ana").text
    assert _rows(person) == {flagged["id"]: "yes"}
    assert 'name="next" value="/admin/people/ana"' in person
    marked = web.post(f"/admin/review/{flagged['id']}", {"next": "/admin/people/ana"})
    assert marked.status_code == 303
    assert marked.headers["location"].startswith("/admin/people/ana?marked=")
    person = web.get("/admin/people/ana").text
    assert _rows(person) == {flagged["id"]: "no"}
    assert "needs review" not in web.get("/admin/").text.split('data-person="ana"')[1].split(
        "</tr>"
    )[0]
    assert web.get("/admin/people/ben").text.count("data-event=") == 0
    # An outside target is not followed.
    again = web.post(f"/admin/review/{flagged['id']}", {"next": "https://evil.example/"})
    assert again.headers["location"].startswith("/admin/?marked=")


def test_review_page_needs_a_login(make_web: Any) -> None:
    web = make_web()
    response = web.get("/admin/review", follow_redirects=False)
    assert response.status_code == 303
    response = web.client.post(
        "/admin/review/0193a1b2-0000-7000-8000-000000000000", follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/login")
