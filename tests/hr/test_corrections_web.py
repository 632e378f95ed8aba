"""The corrections pages of the admin web (docs/corrections.md), on SQLite and PostgreSQL: the
person's day reached from the reports (/admin/corrections/new?person=&day=), add, void and
revoke forms with and without the CSRF token, refusals shown on the form, the audit rows by
the logged-in account."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.hr.corrections_support import hr_web_fixture, make_hr_web_fixture  # noqa: F401
from tests.server.helpers import batch, event
from tests.web.conftest import ADMIN_USER, Web

JAKARTA = ZoneInfo("Asia/Jakarta")


def _day() -> str:
    return (datetime.now(JAKARTA).date() - timedelta(days=1)).isoformat()


def _checked_in(web: Web, hour: int = 8) -> str:
    """Ani, with a check-in at ``hour`` yesterday (site clock) and no check-out."""
    web.api.create_person("ani", name="Ani Lestari")
    at = datetime.fromisoformat(f"{_day()}T{hour:02d}:01:00").replace(tzinfo=JAKARTA)
    token = web.api.create_terminal("gate")
    body = event("gate", "ani", wall_time=at.astimezone(UTC), kind="in")
    answer = web.api.post_batch(token, batch("gate", [body]))
    assert answer.json()["results"][0]["status"] == "accepted"
    return str(body["id"])


def _audit(web: Web, **params: Any) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = web.api.admin("GET", "/admin/audit", params=params).json()[
        "entries"
    ]
    return entries


def _listed(web: Web) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = web.api.admin("GET", "/admin/corrections").json()["corrections"]
    return found


def test_the_day_page_prefills_a_check_out_and_lists_the_days_events(hr_web: Web) -> None:
    event_id = _checked_in(hr_web)
    page = hr_web.get("/admin/corrections/new", params={"person": "ani", "day": _day()})
    assert page.status_code == 200
    html = page.text
    assert "Ani Lestari" in html
    assert f'data-event="{event_id}" data-voided="no"' in html
    assert "08:01:00" in html
    assert 'value="out" selected' in html  # the forgotten check-out is the usual case
    assert f'id="a-day" name="day" type="date" required value="{_day()}"' in html
    row = html.split(f'data-event="{event_id}"')[1].split("</tr>")[0]
    assert 'action="/admin/corrections/void"' in row
    assert 'name="csrf_token"' in row
    assert "Asia/Jakarta" in html
    today = datetime.now(JAKARTA).date().isoformat()
    assert f'href="/admin/corrections/new?person=ani&amp;day={today}" id="next-day"' in html
    unknown = hr_web.get("/admin/corrections/new", params={"person": "zz", "day": _day()})
    assert "No person with this id is enrolled." in unknown.text
    bad = hr_web.get("/admin/corrections/new", params={"person": "ani", "day": "12/01"})
    assert bad.status_code == 422


def test_fixing_a_forgotten_check_out_needs_the_csrf_token_and_is_audited(hr_web: Web) -> None:
    _checked_in(hr_web)
    form = {"person": "ani", "day": _day(), "time": "17:00", "kind": "out", "reason": "lupa"}
    forged = hr_web.client.post("/admin/corrections", data=form, follow_redirects=False)
    assert forged.status_code == 403
    other_site = hr_web.post("/admin/corrections", form, headers={"Origin": "https://evil.example"})
    assert other_site.status_code == 403
    assert _listed(hr_web) == []

    done = hr_web.post("/admin/corrections", form)
    assert done.status_code == 303, done.text
    [made] = _listed(hr_web)
    assert done.headers["location"] == (
        f"/admin/corrections/new?person=ani&day={_day()}&done={made['id']}"
    )
    assert made["created_by"] == ADMIN_USER
    assert made["at"].startswith(f"{_day()}T17:00:00")
    page = hr_web.get(done.headers["location"]).text
    assert f"Correction {made['id']} saved." in page
    assert f'data-added="{made["id"]}"' in page
    assert "lupa" in page
    [entry] = _audit(hr_web, entity="correction")
    assert (entry["actor"], entry["action"]) == (ADMIN_USER, "create")


def test_refusals_are_shown_on_the_form_with_the_values_kept(hr_web: Web) -> None:
    _checked_in(hr_web)
    future = (datetime.now(JAKARTA).date() + timedelta(days=2)).isoformat()
    cases = [
        ({"day": future}, 422, "in the future"),
        ({"time": "08:01:30", "kind": "in"}, 409, "already has a check-in"),
        ({"reason": "x"}, 422, "reason"),
        ({"person": "nobody"}, 404, "no person 'nobody'"),
        ({"time": "25:00"}, 422, "time"),
    ]
    for change, status, words in cases:
        form = {"person": "ani", "day": _day(), "time": "17:00", "kind": "out"}
        form |= {"reason": "forgot to check out"} | change
        answer = hr_web.post("/admin/corrections", form)
        assert answer.status_code == status, (change, answer.text[:300])
        problem = re.search(r'id="correction-problem">([^<]*)<', answer.text)
        assert problem is not None, change
        assert words in problem.group(1).replace("&#39;", "'"), (change, problem.group(1))
        assert f'value="{form["reason"]}"' in answer.text  # what was typed stays
    assert _listed(hr_web) == []


def test_void_from_the_day_and_revoke_from_the_list(hr_web: Web) -> None:
    event_id = _checked_in(hr_web)
    form = {"event_id": event_id, "person": "ani", "day": _day(), "reason": "not her"}
    assert hr_web.client.post("/admin/corrections/void", data=form).status_code == 403
    voided = hr_web.post("/admin/corrections/void", form)
    assert voided.status_code == 303
    [made] = _listed(hr_web)
    page = hr_web.get(voided.headers["location"]).text
    assert f'data-event="{event_id}" data-voided="yes"' in page
    assert f"voided by correction {made['id']}" in page
    again = hr_web.post("/admin/corrections/void", form)
    assert again.status_code == 409
    assert "voided already" in again.text
    wrong = hr_web.post("/admin/corrections/void", form | {"event_id": "not-a-uuid"})
    assert wrong.status_code == 422

    listing = hr_web.get("/admin/corrections", params={"person": "ani"})
    assert f'data-correction="{made["id"]}" data-live="yes"' in listing.text
    path = f"/admin/corrections/{made['id']}/revoke"
    assert hr_web.client.post(path, data={"reason": "sorry"}).status_code == 403
    short = hr_web.post(path, {"reason": "no"})
    assert short.status_code == 422
    revoked = hr_web.post(path, {"reason": "it was her", "next": "/admin/corrections?person=ani"})
    assert revoked.status_code == 303
    assert revoked.headers["location"] == f"/admin/corrections?person=ani&done={made['id']}"
    relisted = hr_web.get(revoked.headers["location"]).text
    assert f'data-correction="{made["id"]}" data-live="no"' in relisted
    assert f"by {ADMIN_USER}" in relisted
    assert hr_web.post(path, {"reason": "it was her"}).status_code == 409
    assert hr_web.post("/admin/corrections/999/revoke", {"reason": "abc"}).status_code == 404
    assert hr_web.post("/admin/corrections/x1/revoke", {"reason": "abc"}).status_code == 404
    actions = [(e["action"], e["actor"]) for e in _audit(hr_web, entity="correction")]
    assert actions == [("revoke", ADMIN_USER), ("void", ADMIN_USER)]


def test_the_list_filters_and_links_each_correction_to_its_day(hr_web: Web) -> None:
    _checked_in(hr_web)
    hr_web.api.create_person("budi", name="Budi")
    for person in ("ani", "budi"):
        form = {"person": person, "day": _day(), "time": "17:00", "kind": "out"}
        assert hr_web.post("/admin/corrections", form | {"reason": "lupa"}).status_code == 303
    both = hr_web.get("/admin/corrections").text
    assert both.count("data-correction=") == 2
    only = hr_web.get("/admin/corrections", params={"person": "budi"}).text
    assert only.count("data-correction=") == 1
    assert f"/admin/corrections/new?person=budi&amp;day={_day()}" in only
    later = (datetime.now(JAKARTA).date() + timedelta(days=1)).isoformat()
    none = hr_web.get("/admin/corrections", params={"from": later}).text
    assert "No correction with these filters." in none
    bad = hr_web.get("/admin/corrections", params={"from": "yesterday"})
    assert bad.status_code == 422
