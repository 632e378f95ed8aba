"""Events whose liveness check failed: listed as needing review until an admin marks them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from tests.server.helpers import Api, batch, event, utcnow

FLAGGED = {"score": 0.2, "passed": False, "reasons": ["frame_edges", "recapture_texture"]}
PASSED = {"score": 0.93, "passed": True, "reasons": []}


def _send(api: Api, token: str, device: str, *events: dict[str, object]) -> None:
    response = api.post_batch(token, batch(device, list(events)))
    assert [r["status"] for r in response.json()["results"]] == ["accepted"] * len(events)


def _review(api: Api, **params: object) -> dict[str, object]:
    response = api.admin("GET", "/admin/events/review", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _ids(answer: dict[str, object]) -> list[str]:
    events = answer["events"]
    assert isinstance(events, list)
    return [e["id"] for e in events]


def test_only_failed_checks_need_review_and_marking_closes_them(api: Api) -> None:
    t1 = api.create_terminal("t1")
    api.create_person("ana", name="Ana Example")
    now = utcnow()
    first = event("t1", "ana", wall_time=now - timedelta(hours=2), liveness=FLAGGED)
    second = event("t1", "ghost", wall_time=now - timedelta(hours=1), liveness=FLAGGED)
    _send(api, t1, "t1", first, second, event("t1", "ana", liveness=PASSED), event("t1", "ana"))

    answer = _review(api)
    assert answer["open"] == 2
    assert _ids(answer) == [first["id"], second["id"]]
    events = answer["events"]
    assert isinstance(events, list)
    assert events[0] | {"liveness_score": 0.2, "liveness_passed": False} == events[0]
    assert events[0]["liveness_reasons"] == ["frame_edges", "recapture_texture"]
    assert (events[0]["person_name"], events[1]["person_name"]) == ("Ana Example", None)
    assert all(e["needs_review"] for e in events)

    before = utcnow()
    response = api.admin("POST", f"/admin/events/{first['id']}/review")
    assert response.status_code == 200, response.text
    marked = response.json()
    assert (marked["reviewed_by"], marked["needs_review"]) == ("admin token", False)
    assert before <= datetime.fromisoformat(marked["reviewed_at"]) <= utcnow()

    answer = _review(api)
    assert (answer["open"], _ids(answer)) == (1, [second["id"]])
    assert _ids(_review(api, include_reviewed="true")) == [first["id"], second["id"]]
    listed = {e["id"]: e for e in api.admin("GET", "/admin/events").json()["events"]}
    assert listed[first["id"]]["reviewed_by"] == "admin token"
    assert listed[first["id"]]["needs_review"] is False
    assert listed[second["id"]]["needs_review"] is True


def test_marking_again_keeps_the_first_review(api: Api) -> None:
    token = api.create_terminal("t1")
    flagged = event("t1", liveness=FLAGGED)
    _send(api, token, "t1", flagged)
    first = api.admin("POST", f"/admin/events/{flagged['id']}/review").json()
    again = api.admin("POST", f"/admin/events/{flagged['id']}/review")
    assert again.status_code == 200
    assert again.json()["reviewed_at"] == first["reviewed_at"]


def test_marking_an_unknown_or_unflagged_event_is_refused(api: Api) -> None:
    token = api.create_terminal("t1")
    live, unchecked = event("t1", liveness=PASSED), event("t1")
    _send(api, token, "t1", live, unchecked)
    for sent in (live, unchecked):
        response = api.admin("POST", f"/admin/events/{sent['id']}/review")
        assert (response.status_code, response.json()["reason"]) == (409, "not_flagged")
    response = api.admin("POST", f"/admin/events/{uuid.uuid4()}/review")
    assert (response.status_code, response.json()["reason"]) == (404, "unknown_event")
    response = api.admin("POST", "/admin/events/not-a-uuid/review")
    assert response.status_code == 422
    listed = api.admin("GET", "/admin/events").json()["events"]
    assert all(e["reviewed_at"] is None for e in listed)


def test_review_list_filters_by_terminal_person_and_time(api: Api) -> None:
    t1, t2 = api.create_terminal("t1"), api.create_terminal("t2")
    now = utcnow()
    old = event("t1", "ana", wall_time=now - timedelta(days=2), liveness=FLAGGED)
    new = event("t1", "ben", wall_time=now - timedelta(minutes=5), liveness=FLAGGED)
    other = event("t2", "ana", wall_time=now - timedelta(minutes=4), liveness=FLAGGED)
    _send(api, t1, "t1", old, new)
    _send(api, t2, "t2", other)

    assert _ids(_review(api, device_id="t1")) == [old["id"], new["id"]]
    assert _ids(_review(api, person_id="ana")) == [old["id"], other["id"]]
    since = (now - timedelta(days=1)).isoformat()
    assert _ids(_review(api, start=since)) == [new["id"], other["id"]]
    assert _ids(_review(api, end=since)) == [old["id"]]
    assert _ids(_review(api, limit=1)) == [old["id"]]
    # The count is of every open item, whatever the filter shows.
    assert _review(api, device_id="t2")["open"] == 3


def test_review_needs_the_admin_credential(api: Api) -> None:
    token = api.create_terminal("t1")
    flagged = event("t1", liveness=FLAGGED)
    _send(api, token, "t1", flagged)
    assert api.as_terminal(token, "GET", "/admin/events/review").status_code == 403
    response = api.as_terminal(token, "POST", f"/admin/events/{flagged['id']}/review")
    assert response.status_code == 403
    assert api.client.get("/api/v1/admin/events/review").status_code == 401
    assert _review(api)["open"] == 1
