"""Every change to shifts, a person's attendance settings, event reviews and admin accounts
writes one audit row with who, what, before and after (docs/corrections.md), on SQLite and
PostgreSQL; a change that changes nothing writes none."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sync_server.db import Database
from sync_server.web.accounts import SERVER_CLI_ACTOR, set_account
from tests.hr.corrections_support import hr_web_fixture, make_hr_web_fixture  # noqa: F401
from tests.server.helpers import Api, batch, event, utcnow
from tests.web.conftest import ADMIN_USER, Web

FLAGGED = {"score": 0.2, "passed": False, "reasons": ["frame_edges"]}


def _entries(api: Api, **params: Any) -> list[dict[str, Any]]:
    answer = api.admin("GET", "/admin/audit", params=params)
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()["entries"]
    return entries


def _summary(api: Api, entity: str) -> list[tuple[str, str, str]]:
    """(action, entity_id, actor) of an entity's rows, oldest first."""
    return [
        (e["action"], e["entity_id"], e["actor"]) for e in reversed(_entries(api, entity=entity))
    ]


def test_shift_changes_write_audit_rows(api: Api) -> None:
    made = api.admin(
        "POST",
        "/admin/shifts",
        json={"name": "pagi", "start": "08:00", "end": "16:00", "grace_minutes": 5},
    )
    assert made.status_code == 201, made.text
    shift_id = str(made.json()["id"])
    path = f"/admin/shifts/{shift_id}"
    assert api.admin("PATCH", path, json={"grace_minutes": 10}).status_code == 200
    # The same values again change nothing, and write nothing.
    assert api.admin("PATCH", path, json={"grace_minutes": 10}).status_code == 200
    refused = api.admin("PATCH", path, json={"start": "16:00"})
    assert refused.status_code == 422  # a refused change leaves no row either
    assert api.admin("DELETE", path).status_code == 204
    assert _summary(api, "shift") == [
        ("create", shift_id, "admin token"),
        ("update", shift_id, "admin token"),
        ("delete", shift_id, "admin token"),
    ]
    delete, update, create = _entries(api, entity="shift")
    assert create["before"] is None
    assert create["after"] == {
        "name": "pagi",
        "start": "08:00:00",
        "end": "16:00:00",
        "grace_minutes": 5,
    }
    assert (update["before"]["grace_minutes"], update["after"]["grace_minutes"]) == (5, 10)
    assert delete["before"]["grace_minutes"] == 10
    assert delete["after"] is None


def test_group_shift_and_person_attendance_changes_write_audit_rows(api: Api) -> None:
    api.create_person("ani", group="kantor")
    shift_id = api.admin(
        "POST", "/admin/shifts", json={"name": "malam", "start": "22:00", "end": "06:00"}
    ).json()["id"]
    group = "/admin/groups/kantor/shift"
    assert api.admin("PUT", group, json={"shift_id": shift_id}).status_code == 200
    assert api.admin("PUT", group, json={"shift_id": shift_id}).status_code == 200  # no change
    assert api.admin("PUT", group, json={"shift_id": None}).status_code == 200
    assert _summary(api, "group") == [
        ("update", "kantor", "admin token"),
        ("update", "kantor", "admin token"),
    ]
    unset, set_ = _entries(api, entity="group")
    assert set_["before"] == {"shift_id": None, "shift": None}
    assert set_["after"] == {"shift_id": shift_id, "shift": "malam"}
    assert unset["after"] == {"shift_id": None, "shift": None}

    person = "/admin/people/ani/attendance"
    body = {"department": "gudang", "employee_id": "HR-7", "shift_id": shift_id}
    assert api.admin("PATCH", person, json=body).status_code == 200
    assert api.admin("PATCH", person, json={"department": "gudang"}).status_code == 200
    assert api.admin("PATCH", person, json={"shift_id": None}).status_code == 200
    rows = [e for e in _entries(api, entity="person", entity_id="ani") if e["action"] == "update"]
    assert len(rows) == 2
    cleared, first = rows
    assert first["before"] == {"department": None, "employee_id": "ani", "own_shift_id": None}
    assert first["after"] == {
        "department": "gudang",
        "employee_id": "HR-7",
        "own_shift_id": shift_id,
    }
    assert cleared["before"]["own_shift_id"] == shift_id
    assert cleared["after"]["own_shift_id"] is None
    assert first["actor"] == "admin token"


def _flagged_event(api: Api) -> str:
    token = api.create_terminal("door-1")
    body = event("door-1", "ani", wall_time=utcnow() - timedelta(minutes=5), liveness=FLAGGED)
    answer = api.post_batch(token, batch("door-1", [body]))
    assert answer.json()["results"][0]["status"] == "accepted", answer.text
    return str(body["id"])


def test_a_review_through_the_api_writes_one_audit_row(api: Api) -> None:
    api.create_person("ani")
    event_id = _flagged_event(api)
    path = f"/admin/events/{event_id}/review"
    assert api.admin("POST", path).status_code == 200
    assert api.admin("POST", path).status_code == 200  # the first review stands
    [entry] = _entries(api, entity="event")
    assert (entry["action"], entry["entity_id"], entry["actor"]) == (
        "review",
        event_id,
        "admin token",
    )
    assert entry["before"] == {"reviewed_at": None, "reviewed_by": None}
    assert entry["after"]["reviewed_by"] == "admin token"
    assert entry["after"]["reviewed_at"] is not None


def test_a_review_on_the_web_page_is_recorded_as_the_account(hr_web: Web) -> None:
    hr_web.api.create_person("ani")
    event_id = _flagged_event(hr_web.api)
    assert hr_web.post(f"/admin/review/{event_id}").status_code == 303
    [entry] = _entries(hr_web.api, entity="event", actor=ADMIN_USER)
    assert (entry["action"], entry["entity_id"]) == ("review", event_id)
    assert entry["after"]["reviewed_by"] == ADMIN_USER


def test_account_changes_write_audit_rows(make_hr_web: Callable[..., Web]) -> None:
    web = make_hr_web()
    db = Database.from_url(web.config.database_url, pool_size=1)
    try:
        set_account(db, "bob", "another long password", reset=False)
        set_account(db, "bob", "a third long password!", reset=True)
    finally:
        db.dispose()
    rows = _entries(web.api, entity="account")
    by_bob = [(e["action"], e["actor"]) for e in rows if e["entity_id"] == "bob"]
    assert by_bob == [("update", SERVER_CLI_ACTOR), ("create", SERVER_CLI_ACTOR)]
    text = str(rows)
    assert "another long password" not in text  # never the password, nor its hash
    assert "scrypt" not in text
    # alice (made by the fixture) has her row too.
    assert any(e["entity_id"] == ADMIN_USER and e["action"] == "create" for e in rows)


def test_a_department_set_from_the_enrol_form_is_recorded_as_the_web_account(
    make_hr_web: Callable[..., Web],
) -> None:
    web = make_hr_web()
    form = {"id": "rina", "name": "Rina", "group": "default", "department": "Gudang"}
    assert web.post("/admin/people", {**form, "consent": "yes"}).status_code == 200
    rows = [e for e in _entries(web.api, entity="person") if e["entity_id"] == "rina"]
    department = [e for e in rows if (e["after"] or {}).get("department") == "Gudang"]
    assert [e["actor"] for e in department] == [ADMIN_USER]
