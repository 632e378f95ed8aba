"""Monthly summary: exact numbers, night shifts at the month's edges, agreement with day views."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from tests.reports.helpers import (
    assign_group,
    backdate_people,
    create_shift,
    day,
    local,
    post,
    rows_by_person,
)
from tests.server.helpers import Api


@pytest.fixture
def march(make_api: Callable[..., Api]) -> Api:
    api = make_api(site_timezone="Europe/Berlin")
    token = api.create_terminal("door-1")
    assign_group(api, "office", create_shift(api, "day", "09:00", "17:00", grace=5))
    assign_group(api, "night", create_shift(api, "night", "22:00", "06:00", grace=10))
    api.create_person("olivia", "office")
    api.create_person("omar", "office")  # never comes
    api.create_person("nadia", "night")
    api.create_person("felix", "flex")  # no shift
    backdate_people(api.config.database_url)
    post(
        api,
        token,
        "door-1",
        [
            ("olivia", "in", local("2026-03-02 08:50")),
            ("olivia", "out", local("2026-03-02 17:00")),  # 8:10
            ("olivia", "in", local("2026-03-03 09:10")),  # late
            ("olivia", "out", local("2026-03-03 17:10")),  # 8:00
            ("olivia", "in", local("2026-03-04 09:00")),  # in only
            ("olivia", "in", local("2026-03-05 08:59")),
            ("olivia", "out", local("2026-03-05 17:29")),  # 8:30
            ("olivia", "in", local("2026-03-30 09:02")),  # after the clocks went forward
            ("olivia", "out", local("2026-03-30 17:00")),  # 7:58
            # February's last night ends in March: it belongs to 28 February.
            ("nadia", "in", local("2026-02-28 22:00")),
            ("nadia", "out", local("2026-03-01 06:00")),
            ("nadia", "in", local("2026-03-28 22:05")),  # within the grace
            ("nadia", "out", local("2026-03-29 06:00")),  # 6:55 (the night lost an hour)
            # March's last night ends in April: it belongs to 31 March.
            ("nadia", "in", local("2026-03-31 21:55")),
            ("nadia", "out", local("2026-04-01 06:00")),  # 8:05
            ("felix", "in", local("2026-03-10 10:00")),
            ("felix", "out", local("2026-03-10 12:00")),
        ],
    )
    return api


def month(api: Api, value: str, **params: str) -> dict[str, Any]:
    response = api.admin("GET", "/admin/reports/month", params={"month": value, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_month_numbers(march: Api) -> None:
    report = month(march, "2026-03")
    assert (report["first_day"], report["last_day"]) == ("2026-03-01", "2026-03-31")
    rows = rows_by_person(report)
    olivia = rows["olivia"]
    assert {k: olivia[k] for k in _COUNTS} == {
        "days_present": 5,
        "days_complete": 4,
        "days_in_only": 1,
        "days_out_only": 0,
        "days_late": 1,
        "punctuality_pct": 80.0,
        "worked_minutes": 490 + 480 + 510 + 478,
    }
    assert olivia["worked_hours"] == round((490 + 480 + 510 + 478) / 60, 2)
    nadia = rows["nadia"]
    assert {k: nadia[k] for k in _COUNTS} == {
        "days_present": 2,
        "days_complete": 2,
        "days_in_only": 0,
        "days_out_only": 0,
        "days_late": 0,
        "punctuality_pct": 100.0,
        "worked_minutes": 415 + 485,
    }
    felix = rows["felix"]
    assert (felix["days_present"], felix["worked_minutes"]) == (1, 120)
    assert (felix["days_late"], felix["punctuality_pct"], felix["shift"]) == (None, None, None)
    omar = rows["omar"]
    assert (omar["days_present"], omar["punctuality_pct"], omar["worked_minutes"]) == (0, None, 0)

    # The working calendar: no week set, so Monday to Friday (22 days in March 2026); absent
    # is a working day without any event (all of March is past).
    calendar = {
        person: (
            rows[person]["working_days"],
            rows[person]["days_absent"],
            rows[person]["days_attended"],
        )
        for person in ("olivia", "omar", "nadia", "felix")
    }
    assert calendar == {
        "olivia": (22, 17, 5),
        "omar": (22, 22, 0),
        # Her 28 March is a Saturday: present, not a working day, so not in punctuality.
        "nadia": (22, 21, 1),
        "felix": (22, 21, 1),
    }
    assert all(row["days_on_leave"] == {} for row in rows.values())

    february = rows_by_person(month(march, "2026-02"))
    assert (february["nadia"]["days_present"], february["nadia"]["worked_minutes"]) == (1, 480)


def test_month_filters_and_bad_month(march: Api) -> None:
    assert set(rows_by_person(month(march, "2026-03", group="night"))) == {"nadia"}
    for bad in ("2026-3", "2026-13", "march"):
        response = march.admin("GET", "/admin/reports/month", params={"month": bad})
        assert response.status_code == 422, bad


def test_month_agrees_with_the_day_views(march: Api) -> None:
    summary = rows_by_person(month(march, "2026-03"))
    present: dict[str, int] = dict.fromkeys(summary, 0)
    late: dict[str, int] = dict.fromkeys(summary, 0)
    worked: dict[str, int] = dict.fromkeys(summary, 0)
    current = date(2026, 3, 1)
    while current.month == 3:
        for person_id, row in rows_by_person(day(march, current.isoformat())).items():
            present[person_id] += row["events"] > 0
            late[person_id] += bool(row["late"])
            worked[person_id] += row["worked_minutes"] or 0
        current += timedelta(days=1)
    for person_id, row in summary.items():
        assert row["days_present"] == present[person_id], person_id
        assert (row["days_late"] or 0) == late[person_id], person_id
        # The month sums microseconds; the day view rounds each day down to minutes.
        assert abs(row["worked_minutes"] - worked[person_id]) <= 5, person_id


_COUNTS = (
    "days_present",
    "days_complete",
    "days_in_only",
    "days_out_only",
    "days_late",
    "punctuality_pct",
    "worked_minutes",
)
