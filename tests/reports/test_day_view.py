"""Day view: statuses, lateness with grace, night shifts, calendar days, DST, filters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sync_server import reports
from sync_server.db import Database
from tests.reports.helpers import (
    assign_group,
    backdate_people,
    create_shift,
    day,
    local,
    post,
    rows_by_person,
    set_person,
    set_week,
)
from tests.server.helpers import Api

BERLIN = "Europe/Berlin"


@pytest.fixture
def site(make_api: Callable[..., Api]) -> tuple[Api, str]:
    """A site in Berlin with a day shift (office), a night shift (night) and no shift (flex)."""
    api = make_api(site_timezone=BERLIN)
    token = api.create_terminal("door-1")
    day_shift = create_shift(api, "day", "09:00", "17:00", grace=5)
    night_shift = create_shift(api, "night", "22:00", "06:00", grace=10)
    assign_group(api, "office", day_shift)
    assign_group(api, "night", night_shift)
    for person in ("alice", "bob", "carol", "dave", "erin", "olga"):
        api.create_person(person, "office")
    for person in ("nina", "nick"):
        api.create_person(person, "night")
    api.create_person("fred", "flex")
    set_person(api, "olga", shift_id=night_shift)  # her own shift overrides the group's
    set_person(api, "alice", department="ops")
    set_person(api, "carol", department="ops")
    backdate_people(api.config.database_url)
    api.create_person("frank", "office")  # created today: not absent on past days
    return api, token


def test_statuses_lateness_and_worked_time(site: tuple[Api, str]) -> None:
    api, token = site
    post(
        api,
        token,
        "door-1",
        [
            ("alice", "in", local("2026-10-14 08:55")),
            ("alice", "in", local("2026-10-14 12:30")),  # back from lunch: not the first in
            ("alice", "out", local("2026-10-14 12:00")),
            ("alice", "out", local("2026-10-14 17:05")),
            ("bob", "in", local("2026-10-14 09:05")),  # exactly start + grace: on time
            ("carol", "in", local("2026-10-14 09:06")),  # a minute past the grace
            ("carol", "out", local("2026-10-14 17:00")),
            ("dave", "out", local("2026-10-14 17:00")),
        ],
    )
    report = day(api, "2026-10-14")
    assert report["timezone"] == BERLIN
    rows = rows_by_person(report)
    assert set(rows) == {"alice", "bob", "carol", "dave", "erin", "olga", "nina", "nick", "fred"}

    alice = rows["alice"]
    assert (alice["status"], alice["late"], alice["late_minutes"]) == ("complete", False, 0)
    assert alice["first_in"] == "2026-10-14T08:55:00+02:00"
    assert alice["last_out"] == "2026-10-14T17:05:00+02:00"
    assert alice["worked_minutes"] == 8 * 60 + 10
    assert alice["events"] == 4
    assert alice["shift"]["name"] == "day"
    assert alice["window_start"] == "2026-10-14T05:00:00+02:00"
    assert alice["window_end"] == "2026-10-15T05:00:00+02:00"

    bob = rows["bob"]
    assert (bob["status"], bob["late"], bob["late_minutes"], bob["worked_minutes"]) == (
        "in_only",
        False,
        5,
        None,
    )
    carol = rows["carol"]
    assert (carol["status"], carol["late"], carol["late_minutes"]) == ("complete", True, 6)
    dave = rows["dave"]
    assert (dave["status"], dave["late"], dave["first_in"]) == ("out_only", None, None)
    erin = rows["erin"]
    assert (erin["status"], erin["events"], erin["late"]) == ("absent", 0, None)
    assert rows["fred"]["shift"] is None
    assert rows["fred"]["late"] is None

    assert report["totals"] == {
        "people": 9,
        "complete": 2,
        "in_only": 1,
        "out_only": 1,
        "absent": 5,
        "not_yet": 0,
        "holiday": 0,
        "day_off": 0,
        "not_working": 0,
        "leave": 0,
        "late": 1,
    }


def test_person_created_later_is_listed_only_with_events(site: tuple[Api, str]) -> None:
    api, token = site
    assert "frank" not in rows_by_person(day(api, "2026-10-14"))
    post(api, token, "door-1", [("frank", "in", local("2026-10-14 08:00"))])
    assert rows_by_person(day(api, "2026-10-14"))["frank"]["status"] == "in_only"


def test_night_shift_owns_the_next_morning(site: tuple[Api, str]) -> None:
    api, token = site
    post(
        api,
        token,
        "door-1",
        [
            ("nina", "in", local("2026-10-14 21:50")),
            ("nina", "out", local("2026-10-15 06:10")),
            ("nick", "in", local("2026-10-14 22:15")),  # grace 10: late by 15
            ("nick", "out", local("2026-10-15 05:55")),
            ("olga", "in", local("2026-10-14 22:00")),  # personal night shift, group office
            ("olga", "out", local("2026-10-15 06:00")),
        ],
    )
    rows = rows_by_person(day(api, "2026-10-14"))
    nina = rows["nina"]
    assert nina["status"] == "complete"
    assert nina["last_out"] == "2026-10-15T06:10:00+02:00"
    assert nina["worked_minutes"] == 8 * 60 + 20
    assert nina["late"] is False
    assert nina["window_start"] == "2026-10-14T18:00:00+02:00"
    assert (rows["nick"]["late"], rows["nick"]["late_minutes"]) == (True, 15)
    olga = rows["olga"]
    assert (olga["shift"]["name"], olga["status"], olga["late"]) == ("night", "complete", False)
    assert olga["worked_minutes"] == 8 * 60

    # The morning check-out is not the next shift day's.
    next_day = rows_by_person(day(api, "2026-10-15"))
    assert next_day["nina"]["status"] == "absent"
    assert next_day["olga"]["status"] == "absent"


def test_calendar_day_in_the_site_zone(site: tuple[Api, str]) -> None:
    """Without a shift, the day is the local calendar day, not the UTC one."""
    api, token = site
    post(
        api,
        token,
        "door-1",
        [
            ("fred", "in", local("2026-10-14 23:30")),  # 21:30 UTC
            ("fred", "out", local("2026-10-15 00:30")),  # 22:30 UTC, still the 14th in UTC
        ],
    )
    fred_14 = rows_by_person(day(api, "2026-10-14"))["fred"]
    assert (fred_14["status"], fred_14["events"]) == ("in_only", 1)
    assert fred_14["window_start"] == "2026-10-14T00:00:00+02:00"
    fred_15 = rows_by_person(day(api, "2026-10-15"))["fred"]
    assert (fred_15["status"], fred_15["last_out"]) == ("out_only", "2026-10-15T00:30:00+02:00")


def test_daylight_saving_days(site: tuple[Api, str]) -> None:
    api, token = site
    # Both changes fall on a Sunday: a site that works every day (lateness is judged on
    # working days only).
    set_week(api.config.database_url, "*", "1111111")
    post(
        api,
        token,
        "door-1",
        [
            # Spring forward, 29 March 2026 02:00 -> 03:00: the night is an hour shorter.
            ("nina", "in", local("2026-03-28 22:00")),
            ("nina", "out", local("2026-03-29 06:00")),
            ("alice", "in", local("2026-03-29 09:04")),  # wall clock: 4 minutes after 09:00
            ("alice", "out", local("2026-03-29 17:00")),
            # Fall back, 25 October 2026 03:00 -> 02:00: the night is an hour longer, and
            # 02:30 happens twice (both belong to the 25th).
            ("nick", "in", local("2026-10-24 22:00")),
            ("nick", "out", local("2026-10-25 06:00")),
            ("fred", "in", local("2026-10-25 02:30", fold=0)),
            ("fred", "out", local("2026-10-25 02:30", fold=1)),
        ],
    )
    march_28 = rows_by_person(day(api, "2026-03-28"))
    assert march_28["nina"]["worked_minutes"] == 7 * 60
    assert march_28["nina"]["last_out"] == "2026-03-29T06:00:00+02:00"
    march_29 = rows_by_person(day(api, "2026-03-29"))
    alice = march_29["alice"]
    assert (alice["late"], alice["late_minutes"]) == (False, 4)
    assert alice["worked_minutes"] == 7 * 60 + 56
    assert alice["window_start"] == "2026-03-29T05:00:00+02:00"
    # The calendar day of the change has 23 hours.
    fred = march_29["fred"]
    assert (fred["window_start"], fred["window_end"]) == (
        "2026-03-29T00:00:00+01:00",
        "2026-03-30T00:00:00+02:00",
    )

    october_24 = rows_by_person(day(api, "2026-10-24"))
    assert october_24["nick"]["worked_minutes"] == 9 * 60
    fred_25 = rows_by_person(day(api, "2026-10-25"))["fred"]
    assert (fred_25["status"], fred_25["worked_minutes"]) == ("complete", 60)
    assert fred_25["first_in"] == "2026-10-25T02:30:00+02:00"
    assert fred_25["last_out"] == "2026-10-25T02:30:00+01:00"


def test_group_and_department_filters(site: tuple[Api, str]) -> None:
    api, _token = site
    by_group = rows_by_person(day(api, "2026-10-14", group="night"))
    assert set(by_group) == {"nina", "nick"}
    by_department = rows_by_person(day(api, "2026-10-14", department="ops"))
    assert set(by_department) == {"alice", "carol"}
    both = day(api, "2026-10-14", group="night", department="ops")
    assert both["rows"] == []


def test_default_date_is_today_and_bad_input(site: tuple[Api, str]) -> None:
    api, _token = site
    response = api.admin("GET", "/admin/reports/day")
    assert response.status_code == 200
    assert response.json()["date"]  # today in Berlin
    assert api.admin("GET", "/admin/reports/day", params={"date": "2026-13-01"}).status_code == 422
    no_auth = api.client.get("/api/v1/admin/reports/day")
    assert no_auth.status_code == 401


def test_utc_site_by_default(make_api: Callable[..., Api]) -> None:
    api = make_api()
    token = api.create_terminal("door-1")
    api.create_person("ann")
    backdate_people(api.config.database_url)
    post(api, token, "door-1", [("ann", "in", local("2026-10-14 23:30", tz=ZoneInfo("UTC")))])
    report: dict[str, Any] = day(api, "2026-10-14")
    assert report["timezone"] == "UTC"
    assert rows_by_person(report)["ann"]["first_in"] == "2026-10-14T23:30:00Z"


def _statuses(api: Api, day: str, now: str) -> dict[str, str]:
    """The day view of ``day`` as seen at ``now`` (site wall clock): person -> status."""
    db = Database.from_url(api.config.database_url, pool_size=1)
    try:
        with db.read() as conn:
            report = reports.day_view(
                conn,
                date.fromisoformat(day),
                tz=ZoneInfo(BERLIN),
                now=local(now),
            )
    finally:
        db.dispose()
    return {r.person_id: r.status.value for r in report.rows}


def test_nobody_is_absent_before_they_are_due(site: tuple[Api, str]) -> None:
    """No event is "not yet" until the shift start + grace has passed (without a shift: until
    the day is over); a day after today is never absent."""
    api, token = site
    post(api, token, "door-1", [("alice", "in", local("2026-10-14 08:55"))])
    # The day before: nobody is due yet, whatever their shift.
    before = _statuses(api, "2026-10-14", "2026-10-13 12:00")
    assert set(before.values()) == {"not_yet", "in_only"}  # alice's punch is already there
    assert before["bob"] == before["nina"] == before["fred"] == "not_yet"
    # At the day shift's start + grace (09:00 + 5 min) bob is still on time; a second later
    # he is absent. The night shift (22:00 + 10) and fred (no shift) are not due yet.
    at_grace = _statuses(api, "2026-10-14", "2026-10-14 09:05:00")
    assert (at_grace["bob"], at_grace["nina"], at_grace["fred"]) == ("not_yet",) * 3
    after_grace = _statuses(api, "2026-10-14", "2026-10-14 09:05:01")
    assert (after_grace["bob"], after_grace["nina"], after_grace["fred"]) == (
        "absent",
        "not_yet",
        "not_yet",
    )
    evening = _statuses(api, "2026-10-14", "2026-10-14 22:10:01")
    assert (evening["nina"], evening["olga"], evening["fred"]) == ("absent", "absent", "not_yet")
    over = _statuses(api, "2026-10-14", "2026-10-15 00:00:01")
    assert over["fred"] == "absent"
    assert over["alice"] == "in_only"


def test_future_days_are_not_yet_in_the_api(site: tuple[Api, str]) -> None:
    api, _token = site
    set_week(api.config.database_url, "*", "1111111")  # whatever weekday today is
    today = reports.local_today(ZoneInfo(BERLIN))
    tomorrow = day(api, (today + timedelta(days=1)).isoformat())
    assert {r["status"] for r in tomorrow["rows"]} == {"not_yet"}
    totals = tomorrow["totals"]
    # frank, created today, is due from tomorrow on.
    assert (totals["absent"], totals["not_yet"], totals["people"]) == (0, 10, 10)
    yesterday = day(api, (today - timedelta(days=1)).isoformat())
    assert {r["status"] for r in yesterday["rows"]} == {"absent"}
