"""The working calendar's core (sync_server/calendar.py): weeks, days off, working days."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from sync_server.calendar import (
    MONDAY_TO_FRIDAY,
    SITE_DEFAULT,
    SiteCalendar,
    describe_weekdays,
    load_calendar,
    parse_weekdays,
)
from sync_server.db import Database, days_off, work_weeks

NOW = datetime(2026, 12, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("1111100", "1111100"),
        ("Mon-Fri", "1111100"),
        ("mon-sat", "1111110"),
        ("Mon,Wed,Fri", "1010100"),
        ("Fri-Mon", "1000111"),  # a week that wraps over the weekend
        ("sunday", "0000001"),
        ("", "0000000"),
    ],
)
def test_a_week_is_spelled_by_day_names_or_stored_form(text: str, stored: str) -> None:
    assert parse_weekdays(text) == stored


@pytest.mark.parametrize("text", ["Mon-Funday", "1111", "8", "Mo-Fr-Sa"])
def test_a_week_that_is_not_one_is_refused_with_its_text(text: str) -> None:
    with pytest.raises(ValueError, match="not a week"):
        parse_weekdays(text)


@given(st.text(alphabet="01", min_size=7, max_size=7))
def test_a_described_week_reads_back_as_the_same_week(weekdays: str) -> None:
    described = describe_weekdays(weekdays)
    assert parse_weekdays("" if described == "none" else described) == weekdays


def test_working_days_skip_weekends_and_days_off_per_group() -> None:
    calendar = SiteCalendar(
        weeks={"factory": "1111110"},
        days_off={},
    )
    # December 2026: the 1st is a Tuesday.
    office = calendar.working_days("office", date(2026, 12, 1), date(2026, 12, 31))
    factory = calendar.working_days("factory", date(2026, 12, 1), date(2026, 12, 31))
    assert len(office) == 23
    assert len(factory) == 27
    assert calendar.week("office") == MONDAY_TO_FRIDAY


def test_the_calendar_is_loaded_from_the_database(db: Database) -> None:
    with db.write() as conn:
        conn.execute(
            sa.insert(work_weeks),
            [
                {
                    "group_name": SITE_DEFAULT,
                    "weekdays": "1111110",
                    "updated_at": NOW,
                    "updated_by": "siti",
                },
                {
                    "group_name": "office",
                    "weekdays": "1111100",
                    "updated_at": NOW,
                    "updated_by": "siti",
                },
            ],
        )
        conn.execute(
            sa.insert(days_off),
            [
                {
                    "day": date(2026, 12, 25),
                    "kind": "holiday",
                    "name": "Natal",
                    "created_at": NOW,
                    "created_by": "siti",
                },
                {
                    "day": date(2027, 1, 1),
                    "kind": "holiday",
                    "name": "Tahun Baru",
                    "created_at": NOW,
                    "created_by": "siti",
                },
            ],
        )
    with db.read() as conn:
        calendar = load_calendar(conn, date(2026, 12, 1), date(2026, 12, 31))
    assert calendar.week("office") == "1111100"
    assert calendar.week("factory") == "1111110"  # the site's default
    assert calendar.day_off(date(2027, 1, 1)) is None  # outside the range asked for
    christmas = calendar.day_off(date(2026, 12, 25))
    assert christmas is not None
    assert (christmas.kind, christmas.name) == ("holiday", "Natal")
    assert not calendar.is_working("office", date(2026, 12, 25))  # a Friday, but a holiday
    assert len(calendar.working_days("office", date(2026, 12, 1), date(2026, 12, 31))) == 22
    assert len(calendar.working_days("factory", date(2026, 12, 1), date(2026, 12, 31))) == 26
