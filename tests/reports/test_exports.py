"""CSV export (person-days and events), HRMS checkins, and the push to a fake Frappe HRMS."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from sync_server.config import HrmsConfig
from sync_server.db import Database
from sync_server.db import people as people_table
from sync_server.db import shifts as shifts_table
from tests.reports.fake_hrms import FakeHrms
from tests.reports.helpers import (
    BERLIN,
    assign_group,
    backdate_people,
    create_shift,
    local,
    post,
    set_person,
)
from tests.server.helpers import Api, batch, event

KEY, SECRET = "key-0123", "secret-4567"


@pytest.fixture
def site(make_api: Callable[..., Api]) -> tuple[Api, str]:
    api = make_api(site_timezone="Europe/Berlin")
    token = api.create_terminal("door-1")
    assign_group(api, "office", create_shift(api, "day", "09:00", "17:00", grace=5))
    for person in ("ana", "ben", "gone"):
        api.create_person(person, "office", name=person.title() + " Example")
    set_person(api, "ana", employee_id="HR-EMP-0001", department="ops")
    backdate_people(api.config.database_url)
    post(
        api,
        token,
        "door-1",
        [
            ("ana", "in", local("2026-03-02 08:50:12")),
            ("ana", "out", local("2026-03-02 17:00:00")),
            ("ben", "in", local("2026-03-03 09:20:00")),
            ("gone", "in", local("2026-03-02 08:00:00")),
        ],
    )
    assert api.admin("DELETE", "/admin/people/gone").status_code == 200
    return api, token


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.text.endswith("\r\n")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_csv_person_days(site: tuple[Api, str]) -> None:
    api, _ = site
    response = api.admin(
        "GET", "/admin/reports/export.csv", params={"from": "2026-03-02", "to": "2026-03-03"}
    )
    assert response.text.splitlines()[0].startswith("date,person_id,name,group,department")
    rows = _csv(response)
    assert [(r["date"], r["person_id"], r["status"]) for r in rows] == [
        ("2026-03-02", "ana", "complete"),
        ("2026-03-02", "ben", "absent"),
        ("2026-03-03", "ana", "absent"),
        ("2026-03-03", "ben", "in_only"),
    ]
    ana = rows[0]
    assert ana == {
        **ana,
        "name": "Ana Example",
        "department": "ops",
        "employee_id": "HR-EMP-0001",
        "shift": "day",
        "shift_start": "09:00",
        "first_in": "2026-03-02 08:50:12",
        "last_out": "2026-03-02 17:00:00",
        "worked_minutes": "489",
        "late": "no",
        "late_minutes": "0",
        "events": "2",
    }
    assert (rows[3]["late"], rows[3]["late_minutes"]) == ("yes", "20")


def test_csv_events_keep_deleted_people(site: tuple[Api, str]) -> None:
    api, _ = site
    rows = _csv(
        api.admin(
            "GET",
            "/admin/reports/export.csv",
            params={"from": "2026-03-02", "to": "2026-03-02", "rows": "events"},
        )
    )
    assert [(r["person_id"], r["kind"], r["local_time"]) for r in rows] == [
        ("gone", "in", "2026-03-02 08:00:00"),
        ("ana", "in", "2026-03-02 08:50:12"),
        ("ana", "out", "2026-03-02 17:00:00"),
    ]
    assert rows[0]["name"] == ""  # deleted since; the event stays
    assert rows[1]["utc_time"] == "2026-03-02T07:50:12Z"
    assert rows[1]["device_id"] == "door-1"


def test_csv_events_carry_the_liveness_check_and_its_review(site: tuple[Api, str]) -> None:
    api, token = site
    flagged = event(
        "door-1",
        "ben",
        wall_time=local("2026-03-02 12:00:00"),
        liveness={"score": 0.2, "passed": False, "reasons": ["frame_edges", "flat_motion"]},
    )
    live = event(
        "door-1",
        "ben",
        kind="out",
        wall_time=local("2026-03-02 12:30:00"),
        liveness={"score": 0.875, "passed": True, "reasons": []},
    )
    assert api.post_batch(token, batch("door-1", [flagged, live])).status_code == 200
    params = {"from": "2026-03-02", "to": "2026-03-02", "rows": "events"}
    columns = (
        "liveness_score",
        "liveness_passed",
        "liveness_reasons",
        "needs_review",
        "reviewed_at",
        "reviewed_by",
    )

    def liveness() -> dict[str, tuple[str, ...]]:
        rows = _csv(api.admin("GET", "/admin/reports/export.csv", params=params))
        return {r["event_id"]: tuple(r[c] for c in columns) for r in rows}

    found = liveness()
    assert found[flagged["id"]] == ("0.2", "no", "frame_edges,flat_motion", "yes", "", "")
    assert found[live["id"]] == ("0.875", "yes", "", "no", "", "")
    assert set(found.values()) - {found[flagged["id"]], found[live["id"]]} == {
        ("", "", "", "no", "", "")  # events of terminals that do not run the check
    }
    marked = api.admin("POST", f"/admin/events/{flagged['id']}/review")
    assert marked.status_code == 200, marked.text
    score, passed, reasons, open_, reviewed_at, by = liveness()[flagged["id"]]
    assert (score, passed, reasons, open_, by) == (
        "0.2",
        "no",
        "frame_edges,flat_motion",
        "no",
        "admin token",
    )
    # On the site's wall clock, like every time in the file.
    when = datetime.fromisoformat(marked.json()["reviewed_at"]).astimezone(BERLIN)
    assert reviewed_at == when.strftime("%Y-%m-%d %H:%M:%S")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def test_csv_neutralises_formulas_in_every_text_column(make_api: Callable[..., Api]) -> None:
    """A name, department, employee id or shift name starting with =, +, -, @, tab or CR is
    written with a leading ' in both CSVs (a spreadsheet would run it); numbers stay numbers."""
    api = make_api(site_timezone="Europe/Berlin")
    token = api.create_terminal("door-1")
    shift_ids = {}
    for n in range(len(FORMULA_STARTS)):
        person = f"p{n}"
        shift_ids[person] = create_shift(api, f"shift{n}", "09:00", "17:00")
        api.create_person(person)
        set_person(api, person, shift_id=shift_ids[person])
    api.create_person("plain", name="Plain Name")
    backdate_people(api.config.database_url)
    post(
        api,
        token,
        "door-1",
        [(f"p{n}", "in", local("2026-03-02 09:20")) for n in range(len(FORMULA_STARTS))],
    )
    # Straight into the database: what the API accepts as a name may change, old rows stay.
    db = Database.from_url(api.config.database_url, pool_size=1)
    try:
        with db.write() as conn:
            for n, start in enumerate(FORMULA_STARTS):
                conn.execute(
                    sa.update(people_table)
                    .where(people_table.c.id == f"p{n}")
                    .values(
                        name=f"{start}HYPERLINK(1)",
                        department=f"{start}dept",
                        employee_id=f"{start}{n}",
                    )
                )
                conn.execute(
                    sa.update(shifts_table)
                    .where(shifts_table.c.id == shift_ids[f"p{n}"])
                    .values(name=f"{start}shift{n}")
                )
    finally:
        db.dispose()
    params = {"from": "2026-03-02", "to": "2026-03-02"}
    days = {
        r["person_id"]: r
        for r in _csv(api.admin("GET", "/admin/reports/export.csv", params=params))
    }
    events = {
        r["person_id"]: r
        for r in _csv(
            api.admin("GET", "/admin/reports/export.csv", params={**params, "rows": "events"})
        )
    }
    for n, start in enumerate(FORMULA_STARTS):
        expected = {
            "name": f"'{start}HYPERLINK(1)",
            "department": f"'{start}dept",
            "employee_id": f"'{start}{n}",
        }
        day_row, event_row = days[f"p{n}"], events[f"p{n}"]
        assert day_row == {**day_row, **expected, "shift": f"'{start}shift{n}"}, repr(start)
        assert day_row["late_minutes"] == "20"  # a numeric column: a number, untouched
        assert event_row == {**event_row, **expected}, repr(start)
    assert days["plain"]["name"] == "Plain Name"


def test_export_range_is_checked(site: tuple[Api, str]) -> None:
    api, _ = site
    for params in (
        {"from": "2026-03-03", "to": "2026-03-02"},
        {"from": "2025-01-01", "to": "2026-03-02"},
        {"from": "2026-03-03"},
    ):
        response = api.admin("GET", "/admin/reports/export.csv", params=params)
        assert response.status_code == 422, params


def test_hrms_checkins_shape(site: tuple[Api, str]) -> None:
    api, _ = site
    response = api.admin(
        "GET", "/admin/reports/hrms-checkins", params={"from": "2026-03-02", "to": "2026-03-03"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == [
        {
            "employee": "HR-EMP-0001",
            "time": "2026-03-02 08:50:12",
            "log_type": "IN",
            "device_id": "door-1",
            "corrected": False,
        },
        {
            "employee": "HR-EMP-0001",
            "time": "2026-03-02 17:00:00",
            "log_type": "OUT",
            "device_id": "door-1",
            "corrected": False,
        },
        {
            "employee": "ben",
            "time": "2026-03-03 09:20:00",
            "log_type": "IN",
            "device_id": "door-1",
            "corrected": False,
        },
    ]


def _hrms(url: str, **overrides: Any) -> HrmsConfig:
    values: dict[str, Any] = {
        "url": url,
        "api_key": KEY,
        "api_secret": SECRET,
        "backoff_s": 0.01,
        "max_attempts": 3,
    }
    return HrmsConfig(**{**values, **overrides})


def test_hrms_push_duplicates_count_as_done_and_errors_are_retried(
    make_api: Callable[..., Api],
) -> None:
    with FakeHrms(KEY, SECRET) as hrms:
        api = make_api(site_timezone="Europe/Berlin", hrms=_hrms(hrms.url))
        token = api.create_terminal("door-1")
        people = ["new-1", "new-2", "dup-409-a", "dup-417-b", "flaky-c", "inactive-d"]
        for person in people:
            api.create_person(person)
        post(api, token, "door-1", [(p, "in", local("2026-03-02 08:00")) for p in people])

        def push() -> dict[str, Any]:
            response = api.admin(
                "POST",
                "/admin/reports/hrms-push",
                params={"from": "2026-03-02", "to": "2026-03-02"},
            )
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        first = push()
        assert (first["total"], first["created"], first["duplicates"]) == (6, 3, 2)
        assert first["attempts"] == 2  # the flaky one needed a second round
        assert not first["ok"]
        assert [(f["employee"], f["status"]) for f in first["failed"]] == [("inactive-d", 417)]
        assert "not active" in first["failed"][0]["detail"]
        assert hrms.posts[("flaky-c", "2026-03-02 08:00:00", "IN")] == 2
        assert hrms.posts[("inactive-d", "2026-03-02 08:00:00", "IN")] == 1  # not retried
        assert sorted(r["employee"] for r in hrms.records) == ["flaky-c", "new-1", "new-2"]
        assert hrms.bad_requests == []

        # Pushing the same range again is harmless: HRMS has them, nothing new is created.
        again = push()
        assert (again["created"], again["duplicates"], len(again["failed"])) == (0, 5, 1)
        assert len(hrms.records) == 3


def test_hrms_push_gives_up_after_max_attempts(make_api: Callable[..., Api]) -> None:
    with FakeHrms(KEY, SECRET) as hrms:
        api = make_api(site_timezone="Europe/Berlin", hrms=_hrms(hrms.url, max_attempts=2))
        token = api.create_terminal("door-1")
        api.create_person("down-1")
        post(api, token, "door-1", [("down-1", "in", local("2026-03-02 08:00"))])
        response = api.admin(
            "POST", "/admin/reports/hrms-push", params={"from": "2026-03-02", "to": "2026-03-02"}
        )
        body = response.json()
        assert (body["attempts"], body["created"]) == (2, 0)
        assert [(f["employee"], f["status"]) for f in body["failed"]] == [("down-1", 500)]
        assert hrms.posts[("down-1", "2026-03-02 08:00:00", "IN")] == 2


def test_hrms_push_wrong_secret_and_unreachable(make_api: Callable[..., Api]) -> None:
    with FakeHrms(KEY, SECRET) as hrms:
        api = make_api(hrms=_hrms(hrms.url, api_secret="wrong"))
        token = api.create_terminal("door-1")
        api.create_person("p1")
        post(api, token, "door-1", [("p1", "in", local("2026-03-02 08:00"))])
        params = {"from": "2026-03-02", "to": "2026-03-02"}
        body = api.admin("POST", "/admin/reports/hrms-push", params=params).json()
        assert [f["status"] for f in body["failed"]] == [401]
        assert body["attempts"] == 1
        unreachable = hrms.url  # closed below; nothing listens there any more
    api = make_api(hrms=_hrms(unreachable, max_attempts=2))
    body = api.admin("POST", "/admin/reports/hrms-push", params=params).json()
    assert [f["status"] for f in body["failed"]] == [None]
    assert "ConnectError" in body["failed"][0]["detail"]


def test_hrms_push_needs_configuration(make_api: Callable[..., Api]) -> None:
    api = make_api()
    response = api.admin(
        "POST", "/admin/reports/hrms-push", params={"from": "2026-03-02", "to": "2026-03-02"}
    )
    assert response.status_code == 409
    assert response.json()["reason"] == "hrms_not_configured"


def test_csv_chunks_hold_whole_lines() -> None:
    from sync_server.reports.export import _CsvChunks

    out = _CsvChunks(("n", "name", "note"))
    chunks = [c for i in range(20_000) if (c := out.add((i, "name, with comma", 'quote "x"')))]
    chunks.append(out.take())
    assert len(chunks) > 3
    assert all(chunk.endswith("\r\n") for chunk in chunks)
    rows = list(csv.reader(io.StringIO("".join(chunks))))
    assert rows[:2] == [["n", "name", "note"], ["0", "name, with comma", 'quote "x"']]
    assert len(rows) == 20_001


def test_openapi_documents_the_reports(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    day = schema["paths"]["/api/v1/admin/reports/day"]["get"]
    assert day["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "DayReportOut"
    )
    assert "/api/v1/admin/reports/hrms-push" in schema["paths"]
    assert "/api/v1/admin/groups/{group}/shift" in schema["paths"]
