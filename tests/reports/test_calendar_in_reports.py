"""The reports read the working calendar, leave and corrections (issue 15): the day view's
statuses, the month's calendar numbers, the CSV's and HRMS's correction marks, the web page."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from sync_server import reports_cli
from sync_server.config import HrmsConfig
from sync_server.db import Database, corrections, days_off, epoch_us, events, leaves
from tests.reports.fake_hrms import FakeHrms
from tests.reports.helpers import (
    assign_group,
    backdate_people,
    create_shift,
    local,
    post,
    rows_by_person,
)
from tests.web.conftest import Web, make_web  # noqa: F401 (the fixture)

HR = "hr-officer"
MONDAY, HOLIDAY = date(2026, 3, 2), date(2026, 3, 3)


def _insert(database_url: str, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Straight into the tables the reports read (their own APIs are tested elsewhere)."""
    db = Database.from_url(database_url, pool_size=1)
    try:
        with db.write() as conn:
            conn.execute(sa.insert(table), rows)
    finally:
        db.dispose()


@pytest.fixture
def site(make_web: Callable[..., Web]) -> Web:  # noqa: F811
    """Monday 2 March 2026 in Berlin: ann forgot to check out (an admin added it), ben was
    sick, cat's wrong check-in was voided, dan did not come; Tuesday 3 is a holiday."""
    web = make_web(site_timezone="Europe/Berlin")
    assert web.login().status_code == 303
    api = web.api
    token = api.create_terminal("door-1")
    assign_group(api, "office", create_shift(api, "day", "09:00", "17:00", grace=5))
    for person in ("ann", "ben", "cat", "dan"):
        api.create_person(person, "office")
    url = web.config.database_url
    backdate_people(url)
    post(
        api,
        token,
        "door-1",
        [
            ("ann", "in", local("2026-03-02 08:55")),
            ("ben", "in", local("2026-03-02 10:00")),  # came by on his sick day
            ("cat", "in", local("2026-03-02 07:00")),  # a colleague's face: voided
            ("cat", "in", local("2026-03-02 09:30")),
            ("cat", "out", local("2026-03-02 17:00")),
        ],
    )
    now = datetime.now(UTC)
    _insert(
        url,
        days_off,
        [
            {
                "day": HOLIDAY,
                "kind": "holiday",
                "name": "Hari Libur",
                "created_at": now,
                "created_by": HR,
            }
        ],
    )
    _insert(
        url,
        leaves,
        [
            {
                "person_id": "ben",
                "kind": "sick",
                "start_day": MONDAY,
                "end_day": HOLIDAY,
                "created_at": now,
                "created_by": HR,
            }
        ],
    )
    added_at = local("2026-03-02 17:10")
    db = Database.from_url(url, pool_size=1)
    try:
        with db.read() as conn:
            wrong = conn.execute(
                sa.select(events.c.id)
                .where(events.c.person_id == "cat", events.c.kind == "in")
                .order_by(events.c.effective_us)
                .limit(1)
            ).scalar_one()
    finally:
        db.dispose()
    common = {"created_at": now, "created_by": HR, "revoked_at": None, "revoked_by": None}
    _insert(
        url,
        corrections,
        [
            {
                "person_id": "ann",
                "action": "add",
                "kind": "out",
                "at": added_at,
                "effective_us": epoch_us(added_at),
                "event_id": None,
                "reason": "forgot to check out",
                **common,
            },
            {
                "person_id": "cat",
                "action": "void",
                "kind": None,
                "at": None,
                "effective_us": None,
                "event_id": wrong,
                "reason": "not her face",
                **common,
            },
        ],
    )
    return web


def test_day_view_statuses_and_corrections(site: Web) -> None:
    response = site.api.admin("GET", "/admin/reports/day", params={"date": MONDAY.isoformat()})
    assert response.status_code == 200, response.text
    report = response.json()
    rows = rows_by_person(report)
    ann = rows["ann"]
    assert (ann["status"], ann["last_out"], ann["last_out_corrected"]) == (
        "complete",
        "2026-03-02T17:10:00+01:00",
        True,
    )
    assert [(c["action"], c["kind"], c["reason"], c["created_by"]) for c in ann["corrections"]] == [
        ("add", "out", "forgot to check out", HR)
    ]
    # A leave day with an event: kept and shown, present, not late.
    ben = rows["ben"]
    assert (ben["status"], ben["leave"]["code"], ben["leave"]["label_id"], ben["late"]) == (
        "in_only",
        "sick",
        "Sakit",
        False,
    )
    cat = rows["cat"]
    assert (cat["first_in"], cat["events"], cat["late"]) == ("2026-03-02T09:30:00+01:00", 2, True)
    assert [c["action"] for c in cat["corrections"]] == ["void"]
    assert rows["dan"]["status"] == "absent"

    holiday = site.api.admin("GET", "/admin/reports/day", params={"date": HOLIDAY.isoformat()})
    statuses = {r["person_id"]: r["status"] for r in holiday.json()["rows"]}
    assert statuses == dict.fromkeys(("ann", "ben", "cat", "dan"), "holiday")
    assert holiday.json()["rows"][0]["day_off"] == {"kind": "holiday", "name": "Hari Libur"}
    assert holiday.json()["totals"]["holiday"] == 4


def test_month_counts_the_calendar(site: Web) -> None:
    response = site.api.admin("GET", "/admin/reports/month", params={"month": "2026-03"})
    rows = rows_by_person(response.json())
    # 22 weekdays in March 2026, minus the holiday.
    assert {r["working_days"] for r in rows.values()} == {21}
    assert rows["ben"]["days_on_leave"] == {"sick": 1}  # the 3rd is the holiday
    assert (rows["ben"]["days_absent"], rows["ben"]["days_present"]) == (20, 1)
    assert (rows["dan"]["days_absent"], rows["dan"]["corrected"]) == (21, False)
    assert (rows["ann"]["days_complete"], rows["ann"]["corrected"]) == (1, True)
    assert (rows["cat"]["days_late"], rows["cat"]["punctuality_pct"]) == (1, 0.0)


def test_exports_mark_corrections(site: Web) -> None:
    params = {"from": MONDAY.isoformat(), "to": HOLIDAY.isoformat()}
    days = site.api.admin("GET", "/admin/reports/export.csv", params=params)
    rows = {(r["date"], r["person_id"]): r for r in csv.DictReader(io.StringIO(days.text))}
    ann = rows[("2026-03-02", "ann")]
    assert (ann["last_out"], ann["corrected"]) == ("2026-03-02 17:10:00", "last_out")
    assert ann["corrections"] == "added out 17:10: forgot to check out (hr-officer)"
    assert rows[("2026-03-02", "cat")]["corrected"] == "voided"
    assert (rows[("2026-03-02", "ben")]["leave"], rows[("2026-03-02", "ben")]["corrected"]) == (
        "sick",
        "",
    )
    assert (rows[("2026-03-03", "dan")]["status"], rows[("2026-03-03", "dan")]["day_off"]) == (
        "holiday",
        "Hari Libur",
    )
    assert rows[("2026-03-03", "dan")]["working_day"] == "no"

    per_event = site.api.admin(
        "GET", "/admin/reports/export.csv", params={**params, "rows": "events"}
    )
    marks = [
        (r["person_id"], r["kind"], r["local_time"][11:16], r["corrected"], r["correction_reason"])
        for r in csv.DictReader(io.StringIO(per_event.text))
    ]
    assert marks == [
        ("cat", "in", "07:00", "voided", "not her face"),
        ("ann", "in", "08:55", "", ""),
        ("cat", "in", "09:30", "", ""),
        ("ben", "in", "10:00", "", ""),
        ("cat", "out", "17:00", "", ""),
        ("ann", "out", "17:10", "added", "forgot to check out"),
    ]

    # HRMS: the voided punch is not sent; the added one is, marked in device_id.
    checkins = site.api.admin("GET", "/admin/reports/hrms-checkins", params=params).json()
    assert [
        (c["employee"], c["time"][11:16], c["device_id"], c["corrected"]) for c in checkins
    ] == [
        ("ann", "08:55", "door-1", False),
        ("cat", "09:30", "door-1", False),
        ("ben", "10:00", "door-1", False),
        ("cat", "17:00", "door-1", False),
        ("ann", "17:10", "hadir-correction", True),
    ]


def test_reports_page_shows_leave_holiday_and_corrections(site: Web) -> None:
    page = site.get("/admin/reports", params={"date": MONDAY.isoformat(), "month": "2026-03"})
    assert page.status_code == 200
    assert 'data-leave="sick"' in page.text
    assert 'href="/admin/corrections/new?person=ann&amp;day=2026-03-02"' in page.text
    assert "forgot to check out" in page.text  # the correction's reason, on hover
    month_row = page.text.split('<tr data-person="ben">', 1)[1].split("</tr>", 1)[0]
    assert "<td>21</td>" in month_row  # working days
    assert "Sick 1" in month_row
    holiday = site.get("/admin/reports", params={"date": HOLIDAY.isoformat()})
    assert 'data-status="holiday"' in holiday.text
    assert "Hari Libur" in holiday.text


def test_command_line_output_shows_calendar_leave_and_corrections(site: Web) -> None:
    """hadir attendance day/month print what the API answers (the CLI's printers)."""
    day = site.api.admin("GET", "/admin/reports/day", params={"date": MONDAY.isoformat()}).json()
    out = io.StringIO()
    reports_cli.print_day(day, out)
    lines = {line.split()[0]: line for line in out.getvalue().splitlines() if line.strip()}
    assert "17:10*" in lines["ann"]
    assert "in only (leave: sick)" in lines["ben"]
    assert "corrected: ann added out 17:10: forgot to check out" in out.getvalue()
    assert "corrected: cat voided in 07:00: not her face" in out.getvalue()
    assert "* added by an admin (a correction)" in out.getvalue()

    holiday = site.api.admin("GET", "/admin/reports/day", params={"date": HOLIDAY.isoformat()})
    out = io.StringIO()
    reports_cli.print_day(holiday.json(), out)
    assert "holiday: Hari Libur" in out.getvalue()
    assert out.getvalue().splitlines()[-1] == (
        "4 people: 0 complete, 0 in only, 0 out only, 0 absent, 0 not yet due, 4 on holiday; 0 late"
    )

    month = site.api.admin("GET", "/admin/reports/month", params={"month": "2026-03"}).json()
    out = io.StringIO()
    reports_cli.print_month(month, out)
    table = {line.split()[0]: line.split() for line in out.getvalue().splitlines()[4:] if line}
    # person, name, group, shift, working, present, absent, leave, complete, late, punctual, hours
    assert table["ben"][4:8] == ["21", "1", "20", "sick"]
    assert table["ann*"][4:7] == ["21", "1", "20"]
    assert "* numbers include an admin's correction" in out.getvalue()


def test_hrms_push_after_a_void_and_an_addition(make_api: Callable[..., Any]) -> None:
    """What HRMS gets: a punch voided after it was pushed stays there (nothing is deleted and
    nothing is sent again); a punch added after the push goes with the next push, marked."""
    key, secret = "key-0123", "secret-4567"
    with FakeHrms(key, secret) as hrms:
        config = HrmsConfig(url=hrms.url, api_key=key, api_secret=secret, backoff_s=0.01)
        api = make_api(site_timezone="Europe/Berlin", hrms=config)
        token = api.create_terminal("door-1")
        api.create_person("eve")
        post(api, token, "door-1", [("eve", "in", local("2026-03-02 08:00"))])

        def push() -> dict[str, Any]:
            response = api.admin(
                "POST",
                "/admin/reports/hrms-push",
                params={"from": "2026-03-02", "to": "2026-03-02"},
            )
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        assert (push()["created"], len(hrms.records)) == (1, 1)
        url = api.config.database_url
        db = Database.from_url(url, pool_size=1)
        try:
            with db.read() as conn:
                pushed = conn.execute(sa.select(events.c.id)).scalar_one()
        finally:
            db.dispose()
        now = datetime.now(UTC)
        added_at = local("2026-03-02 08:05")
        common = {"created_at": now, "created_by": HR, "revoked_at": None, "revoked_by": None}
        _insert(
            url,
            corrections,
            [
                {
                    "person_id": "eve",
                    "action": "void",
                    "kind": None,
                    "at": None,
                    "effective_us": None,
                    "event_id": pushed,
                    "reason": "wrong person",
                    **common,
                },
                {
                    "person_id": "eve",
                    "action": "add",
                    "kind": "in",
                    "at": added_at,
                    "effective_us": epoch_us(added_at),
                    "event_id": None,
                    "reason": "the real arrival",
                    **common,
                },
            ],
        )
        again = push()
        assert (again["total"], again["created"], again["duplicates"]) == (1, 1, 0)
        assert [(r["time"], r["device_id"]) for r in hrms.records] == [
            ("2026-03-02 08:00:00", "door-1"),  # voided here, still in HRMS: delete it there
            ("2026-03-02 08:05:00", "hadir-correction"),
        ]
        assert "corrected" not in hrms.records[1]  # the payload stays Frappe's fields
