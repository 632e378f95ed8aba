"""Admin API for shifts and a person's attendance attributes (department, employee id, shift)."""

from __future__ import annotations

from tests.reports.helpers import assign_group, create_shift, set_person
from tests.server.helpers import Api


def test_create_list_update_delete(api: Api) -> None:
    night = create_shift(api, "night", "22:00", "06:00", grace=10)
    shift = api.admin("GET", f"/admin/shifts/{night}").json()
    assert shift == {
        "id": night,
        "name": "night",
        "start": "22:00:00",
        "end": "06:00:00",
        "grace_minutes": 10,
        "crosses_midnight": True,
        "groups": [],
        "people": [],
    }
    day = create_shift(api, "day", "09:00", "17:30")
    assert api.admin("GET", f"/admin/shifts/{day}").json()["crosses_midnight"] is False

    duplicate = api.admin(
        "POST", "/admin/shifts", json={"name": "day", "start": "08:00", "end": "16:00"}
    )
    assert (duplicate.status_code, duplicate.json()["reason"]) == (409, "shift_exists")
    empty = api.admin("POST", "/admin/shifts", json={"name": "x", "start": "08:00", "end": "08:00"})
    assert empty.status_code == 422
    bad_time = api.admin("POST", "/admin/shifts", json={"name": "x", "start": "25:00", "end": "1"})
    assert bad_time.status_code == 422

    changed = api.admin("PATCH", f"/admin/shifts/{day}", json={"grace_minutes": 7, "end": "18:00"})
    assert changed.status_code == 200
    assert (changed.json()["grace_minutes"], changed.json()["end"]) == (7, "18:00:00")
    rename = api.admin("PATCH", f"/admin/shifts/{day}", json={"name": "night"})
    assert rename.status_code == 409
    same = api.admin("PATCH", f"/admin/shifts/{day}", json={"start": "18:00"})
    assert (same.status_code, same.json()["reason"]) == (422, "empty_shift")

    assign_group(api, "office", day)
    api.create_person("p1", "office")
    set_person(api, "p1", shift_id=night)
    listed = {s["name"]: s for s in api.admin("GET", "/admin/shifts").json()["shifts"]}
    assert (listed["day"]["groups"], listed["night"]["people"]) == (["office"], ["p1"])

    in_use = api.admin("DELETE", f"/admin/shifts/{night}")
    assert (in_use.status_code, in_use.json()["reason"]) == (409, "shift_in_use")
    set_person(api, "p1", shift_id=None)
    assert api.admin("DELETE", f"/admin/shifts/{night}").status_code == 204
    assert api.admin("GET", f"/admin/shifts/{night}").status_code == 404
    assert api.admin("PUT", "/admin/groups/office/shift", json={"shift_id": 999}).status_code == 404
    assign_group(api, "office", None)
    assert api.admin("GET", f"/admin/shifts/{day}").json()["groups"] == []


def test_person_attendance_attributes(api: Api) -> None:
    day = create_shift(api, "day", "09:00", "17:00")
    night = create_shift(api, "night", "22:00", "06:00")
    assign_group(api, "office", day)
    api.create_person("p1", "office")
    api.create_person("p2", "office")
    info = api.admin("GET", "/admin/people/p1/attendance").json()
    assert info == {
        "person_id": "p1",
        "group": "office",
        "department": None,
        "employee_id": "p1",  # HR id defaults to the person id
        "own_shift": None,
        "shift": {**info["shift"], "name": "day"},
    }
    info = set_person(api, "p1", department="ops", employee_id="HR-1", shift_id=night)
    assert (info["department"], info["employee_id"]) == ("ops", "HR-1")
    assert (info["own_shift"]["name"], info["shift"]["name"]) == ("night", "night")
    # Fields not sent stay; null clears.
    info = set_person(api, "p1", shift_id=None)
    assert (info["department"], info["employee_id"], info["shift"]["name"]) == (
        "ops",
        "HR-1",
        "day",
    )
    taken = api.admin("PATCH", "/admin/people/p2/attendance", json={"employee_id": "HR-1"})
    assert (taken.status_code, taken.json()["reason"]) == (409, "employee_id_taken")
    info = set_person(api, "p1", employee_id=None, department=None)
    assert (info["employee_id"], info["department"]) == ("p1", None)
    assert api.admin("GET", "/admin/people/nobody/attendance").status_code == 404
    unknown = api.admin("PATCH", "/admin/people/p1/attendance", json={"shift_id": 999})
    assert unknown.status_code == 404
    extra = api.admin("PATCH", "/admin/people/p1/attendance", json={"colour": "red"})
    assert extra.status_code == 422

    # Deleting the person removes their override with them.
    set_person(api, "p2", shift_id=night)
    assert api.admin("DELETE", "/admin/people/p2").status_code == 200
    assert api.admin("GET", f"/admin/shifts/{night}").json()["people"] == []


def test_shift_endpoints_need_the_admin(api: Api) -> None:
    token = api.create_terminal("door-1")
    assert api.client.get("/api/v1/admin/shifts").status_code == 401
    as_terminal = api.as_terminal(token, "GET", "/admin/shifts")
    assert as_terminal.status_code == 403
