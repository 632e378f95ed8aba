"""A month on a generated site, checked against a plain-Python calculation (issue 15).

The site: Asia/Jakarta, November 2026; an office group on a day shift working Monday to
Friday (the default), a plant group on a night shift working Monday to Saturday, a flex group
without a shift; a public holiday and a company day off; leave across the month's start, over
a weekend, over the holiday, and on a day with attendance; corrections that add a forgotten
check-out, add a night's check-in, void a check-in, and one revoked. The reference below reads
the same generated data and applies the rules of docs/reports.md with datetimes and
dictionaries, one person-day at a time; the reports (SQL plus their Python patches) must give
the same numbers on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from sync_server import reports
from sync_server.db import (
    Database,
    corrections,
    days_off,
    epoch_us,
    events,
    group_shifts,
    leaves,
    migrate,
    people,
    shifts,
    work_weeks,
)
from sync_server.reports import person_days

TZ = ZoneInfo("Asia/Jakarta")
FIRST, LAST = date(2026, 11, 1), date(2026, 11, 30)
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)
# Shift start, end, grace minutes.
DAY_SHIFT = (dtime(8), dtime(16), 10)
NIGHT_SHIFT = (dtime(22), dtime(6), 5)
WEEKS = {"office": "1111100", "plant": "1111110", "flex": "1111100"}
HOLIDAY = date(2026, 11, 17)
DAY_OFF = date(2026, 11, 27)
ADMIN = "hr-officer"


@dataclass
class Person:
    id: str
    group: str
    created_at: datetime = LONG_AGO

    @property
    def shift(self) -> tuple[dtime, dtime, int] | None:
        return {"office": DAY_SHIFT, "plant": NIGHT_SHIFT}.get(self.group)


@dataclass
class Site:
    people: list[Person]
    # (event id, person, kind, aware UTC time)
    events: list[tuple[uuid.UUID, str, str, datetime]] = field(default_factory=list)
    # (person, kind, first, last)
    leaves: list[tuple[str, str, date, date]] = field(default_factory=list)
    # (person, kind, aware UTC time, revoked)
    added: list[tuple[str, str, datetime, bool]] = field(default_factory=list)
    # (event id, revoked)
    voided: list[tuple[uuid.UUID, bool]] = field(default_factory=list)


def at(day: date, clock: dtime, minutes: float = 0.0) -> datetime:
    return (datetime.combine(day, clock, TZ) + timedelta(minutes=minutes)).astimezone(UTC)


def generate(seed: int) -> Site:
    rnd = random.Random(seed)
    site = Site(
        [Person(f"o{i}", "office") for i in range(5)]
        + [Person(f"p{i}", "plant") for i in range(4)]
        + [Person(f"f{i}", "flex") for i in range(2)]
        # Enrolled mid-month: no working day (nor absence) before the day after.
        + [Person("late-comer", "office", datetime(2026, 11, 10, 9, tzinfo=UTC))]
    )
    day = date(2026, 10, 27)
    while day <= date(2026, 12, 3):
        for person in site.people:
            if person.created_at > at(day, dtime(0)) or rnd.random() < 0.15:
                continue
            # Few come on the holiday and the day off (some do: a punch there is kept).
            if day in (HOLIDAY, DAY_OFF) and rnd.random() < 0.7:
                continue
            start, end, _ = person.shift or (dtime(9), dtime(17), 0)
            came = at(day, start, rnd.gauss(0, 12))
            left_day = day + timedelta(days=1) if end < start else day
            left = at(left_day, end, rnd.gauss(10, 15))
            roll = rnd.random()
            if roll > 0.06:  # 6%: forgot to check in
                site.events.append((uuid.uuid4(), person.id, "in", came))
            if roll < 0.9:  # 10%: forgot to check out
                site.events.append((uuid.uuid4(), person.id, "out", left))
            if rnd.random() < 0.1:  # a second in after lunch
                site.events.append((uuid.uuid4(), person.id, "in", came + timedelta(hours=4)))
        day += timedelta(days=1)
    site.leaves = [
        ("o0", "sick", date(2026, 10, 29), date(2026, 11, 3)),  # across the month's start
        ("o1", "annual", date(2026, 11, 20), date(2026, 11, 24)),  # over a weekend
        ("o2", "permission", date(2026, 11, 16), date(2026, 11, 18)),  # over the holiday
        ("p0", "duty", date(2026, 11, 28), date(2026, 12, 2)),  # across the month's end
        ("f0", "sick", date(2026, 11, 5), date(2026, 11, 5)),
        ("f0", "other", date(2026, 11, 5), date(2026, 11, 6)),  # overlaps: sick counts on the 5th
    ]
    # o1's leave days keep whatever attendance was generated: kept and shown, not late.
    site.added = [
        ("o3", "out", at(date(2026, 11, 11), dtime(16, 30)), False),
        ("p1", "in", at(date(2026, 11, 12), dtime(22, 20)), False),  # a late night, added
        ("o4", "in", at(date(2026, 11, 13), dtime(7, 55)), True),  # revoked: counts for nothing
        ("f1", "out", at(date(2026, 11, 30), dtime(23, 59)), False),
    ]
    in_events = [e for e in site.events if e[2] == "in" and e[3].astimezone(TZ).date() >= FIRST]
    site.voided = [(in_events[3][0], False), (in_events[40][0], False), (in_events[41][0], True)]
    return site


def store(database_url: str, site: Site) -> None:
    db = Database.from_url(database_url, pool_size=1)
    try:
        migrate(db)
        with db.write() as conn:
            ids = {}
            for name, (start, end, grace) in (("day", DAY_SHIFT), ("night", NIGHT_SHIFT)):
                ids[name] = conn.execute(
                    sa.insert(shifts)
                    .values(
                        name=name,
                        start_time=start,
                        end_time=end,
                        grace_minutes=grace,
                        created_at=LONG_AGO,
                    )
                    .returning(shifts.c.id)
                ).scalar_one()
            conn.execute(
                sa.insert(group_shifts),
                [
                    {"group_name": "office", "shift_id": ids["day"]},
                    {"group_name": "plant", "shift_id": ids["night"]},
                ],
            )
            conn.execute(
                sa.insert(work_weeks).values(
                    group_name="plant", weekdays="1111110", updated_at=LONG_AGO, updated_by=ADMIN
                )
            )
            conn.execute(
                sa.insert(days_off),
                [
                    {
                        "day": HOLIDAY,
                        "kind": "holiday",
                        "name": "Hari Pahlawan (observed)",
                        "created_at": LONG_AGO,
                        "created_by": ADMIN,
                    },
                    {
                        "day": DAY_OFF,
                        "kind": "day_off",
                        "name": "Cuti bersama",
                        "created_at": LONG_AGO,
                        "created_by": ADMIN,
                    },
                ],
            )
            conn.execute(
                sa.insert(people),
                [
                    {
                        "id": p.id,
                        "name": p.id.title(),
                        "group_name": p.group,
                        "created_at": p.created_at,
                        "updated_at": p.created_at,
                    }
                    for p in site.people
                ],
            )
            conn.execute(
                sa.insert(events),
                [
                    {
                        "id": event_id,
                        "device_id": "gate",
                        "person_id": person_id,
                        "kind": kind,
                        "wall_time": when,
                        "clock_synced": True,
                        "monotonic": 1.0,
                        "boot_id": "b",
                        "distance": 0.3,
                        "margin": 0.2,
                        "corrected_time": when,
                        "time_source": "terminal",
                        "received_at": when,
                        "person_known": True,
                        "effective_us": epoch_us(when),
                    }
                    for event_id, person_id, kind, when in site.events
                ],
            )
            conn.execute(
                sa.insert(leaves),
                [
                    {
                        "person_id": person_id,
                        "kind": kind,
                        "start_day": first,
                        "end_day": last,
                        "created_at": LONG_AGO,
                        "created_by": ADMIN,
                    }
                    for person_id, kind, first, last in site.leaves
                ],
            )
            revoked = {"revoked_at": LONG_AGO, "revoked_by": ADMIN}
            live = {"revoked_at": None, "revoked_by": None}
            owner = {e[0]: e[1] for e in site.events}
            conn.execute(
                sa.insert(corrections),
                [
                    {
                        "person_id": person_id,
                        "action": "add",
                        "kind": kind,
                        "at": when,
                        "effective_us": epoch_us(when),
                        "event_id": None,
                        "reason": "forgot to punch",
                        "created_at": LONG_AGO,
                        "created_by": ADMIN,
                        **(revoked if gone else live),
                    }
                    for person_id, kind, when, gone in site.added
                ]
                + [
                    {
                        "person_id": owner[event_id],
                        "action": "void",
                        "kind": None,
                        "at": None,
                        "effective_us": None,
                        "event_id": event_id,
                        "reason": "punched for a colleague",
                        "created_at": LONG_AGO,
                        "created_by": ADMIN,
                        **(revoked if gone else live),
                    }
                    for event_id, gone in site.voided
                ],
            )
    finally:
        db.dispose()


# --- the reference: one person-day at a time, datetimes and dicts ----------------------------


@dataclass
class RefDay:
    ins: list[datetime] = field(default_factory=list)
    outs: list[datetime] = field(default_factory=list)
    added_in: set[datetime] = field(default_factory=set)
    added_out: set[datetime] = field(default_factory=set)


def shift_day(person: Person, moment: datetime) -> date:
    """The shift day of a punch: the day whose window [start - 4 h, next start - 4 h) holds
    it (the calendar day without a shift)."""
    wall = moment.astimezone(TZ).replace(tzinfo=None)
    if person.shift is None:
        return wall.date()
    start = person.shift[0]
    return (wall - timedelta(hours=start.hour, minutes=start.minute) + timedelta(hours=4)).date()


def window_start(person: Person, day: date) -> datetime:
    if person.shift is None:
        return datetime.combine(day, dtime(0), TZ)
    return datetime.combine(day, person.shift[0], TZ) - timedelta(hours=4)


def reference_days(site: Site, person: Person) -> dict[date, RefDay]:
    voided = {event_id for event_id, gone in site.voided if not gone}
    found: dict[date, RefDay] = {}
    for event_id, person_id, kind, when in site.events:
        if person_id == person.id and event_id not in voided:
            entry = found.setdefault(shift_day(person, when), RefDay())
            (entry.ins if kind == "in" else entry.outs).append(when)
    for person_id, kind, when, gone in site.added:
        if person_id == person.id and not gone:
            entry = found.setdefault(shift_day(person, when), RefDay())
            (entry.ins if kind == "in" else entry.outs).append(when)
            (entry.added_in if kind == "in" else entry.added_out).add(when)
    return found


def leave_on(site: Site, person: Person, day: date) -> str | None:
    for person_id, kind, first, last in site.leaves:  # the first entered wins
        if person_id == person.id and first <= day <= last:
            return kind
    return None


def working(person: Person, day: date) -> bool:
    return WEEKS[person.group][day.weekday()] == "1" and day not in (HOLIDAY, DAY_OFF)


def is_late(person: Person, day: date, first_in: datetime) -> bool:
    assert person.shift is not None
    start, _, grace = person.shift
    due = datetime.combine(day, start, TZ) + timedelta(minutes=grace)
    return first_in.astimezone(TZ) > due


def due(person: Person, day: date, now: datetime) -> bool:
    if person.shift is None:
        return now > datetime.combine(day + timedelta(days=1), dtime(0), TZ)
    start, _, grace = person.shift
    return now > datetime.combine(day, start, TZ) + timedelta(minutes=grace)


def reference_status(site: Site, person: Person, day: date, now: datetime) -> str:
    entry = reference_days(site, person).get(day)
    if entry and entry.ins and entry.outs and max(entry.outs) > min(entry.ins):
        return "complete"
    if entry and entry.ins:
        return "in_only"
    if entry and entry.outs:
        return "out_only"
    if day == HOLIDAY:
        return "holiday"
    if day == DAY_OFF:
        return "day_off"
    if not working(person, day):
        return "not_working"
    if leave_on(site, person, day):
        return "leave"
    return "absent" if due(person, day, now) else "not_yet"


def reference_month(site: Site, person: Person, now: datetime) -> dict[str, Any]:
    days = reference_days(site, person)
    row: dict[str, Any] = dict.fromkeys(
        (
            "days_present",
            "days_complete",
            "days_in_only",
            "days_out_only",
            "working_days",
            "days_absent",
            "days_attended",
            "days_late",
        ),
        0,
    )
    row["days_on_leave"] = {}
    worked = timedelta(0)
    day = FIRST
    while day <= LAST:
        entry = days.get(day)
        if entry:
            row["days_present"] += 1
            if entry.ins and entry.outs and max(entry.outs) > min(entry.ins):
                row["days_complete"] += 1
                worked += max(entry.outs) - min(entry.ins)
            elif entry.ins:
                row["days_in_only"] += 1
            else:
                row["days_out_only"] += 1
        listed = person.created_at < window_start(person, day)
        if listed and working(person, day):
            row["working_days"] += 1
            kind = leave_on(site, person, day)
            if kind:
                row["days_on_leave"][kind] = row["days_on_leave"].get(kind, 0) + 1
            elif entry and entry.ins:
                row["days_attended"] += 1
                if person.shift and is_late(person, day, min(entry.ins)):
                    row["days_late"] += 1
            elif not entry and due(person, day, now):
                row["days_absent"] += 1
        day += timedelta(days=1)
    if person.shift is None:
        row["days_late"] = None
        row["punctuality_pct"] = None
    else:
        attended = row["days_attended"]
        row["punctuality_pct"] = (
            round(100.0 * (attended - row["days_late"]) / attended, 1) if attended else None
        )
    row["worked"] = worked
    return row


# --- the tests ---------------------------------------------------------------------------------


@pytest.fixture(params=["events", "folded"])
def site(db_url: str, request: pytest.FixtureRequest) -> Iterator[tuple[Site, Database]]:
    """The generated site; "folded": with everyone's days folded (person_days), as a running
    server's background job leaves them, so the reports read those rows."""
    generated = generate(seed=15)
    store(db_url, generated)
    db = Database.from_url(db_url, pool_size=1)
    try:
        if request.param == "folded":
            folded = person_days.catch_up(db, TZ, now=NOWS[0])
            assert folded == len(generated.people)
        yield generated, db
    finally:
        db.dispose()


# Mid-month (later days are not due, today before the shifts is not), and after the month.
NOWS = [datetime(2026, 11, 19, 8, 5, tzinfo=TZ), datetime(2026, 12, 5, tzinfo=TZ)]


@pytest.mark.parametrize("now", NOWS, ids=["mid-month", "after"])
def test_month_matches_the_plain_python_reference(
    site: tuple[Site, Database], now: datetime
) -> None:
    generated, db = site
    with db.read() as conn:
        report = reports.month_summary(conn, FIRST, tz=TZ, now=now)
    got = {r.person_id: r for r in report.rows}
    assert set(got) == {p.id for p in generated.people}
    corrected = {p for p, *_ in generated.added if not _[-1]} | {
        owner
        for event_id, gone in generated.voided
        if not gone
        for e, owner, *_ in generated.events
        if e == event_id
    }
    for person in generated.people:
        want = reference_month(generated, person, now)
        row = got[person.id]
        have = {key: getattr(row, key) for key in want}
        assert have == want, person.id
        assert row.corrected == (person.id in corrected), person.id
    # The data exercises what it claims to: leave, absences, lateness, the night shift.
    assert got["o0"].days_on_leave == {"sick": 2}  # 2 and 3 November (1 is a Sunday)
    assert got["o2"].days_on_leave == {"permission": 2}  # the 17th is the holiday
    assert got["f0"].days_on_leave == {"sick": 1, "other": 1}
    assert got["p0"].days_on_leave == {"duty": 2}  # Saturday 28 and Monday 30 (29: Sunday)
    assert got["p0"].working_days == 23  # Monday to Saturday, minus the holiday and day off
    assert got["o3"].working_days == 19
    assert got["late-comer"].working_days < got["o3"].working_days
    assert sum(r.days_absent for r in report.rows) > 0
    assert sum(r.days_late or 0 for r in report.rows) > 0


def test_day_views_match_the_reference(site: tuple[Site, Database]) -> None:
    generated, db = site
    now = NOWS[0]
    statuses: set[str] = set()
    with db.read() as conn:
        day = FIRST
        while day <= LAST:
            view = reports.day_view(conn, day, tz=TZ, now=now)
            got = {r.person_id: r for r in view.rows}
            for person in generated.people:
                listed = person.created_at < window_start(person, day) or bool(
                    reference_days(generated, person).get(day)
                )
                assert (person.id in got) == listed, (person.id, day)
                if not listed:
                    continue
                want = reference_status(generated, person, day, now)
                row = got[person.id]
                assert row.status.value == want, (person.id, day)
                statuses.add(want)
                entry = reference_days(generated, person).get(day)
                if entry and entry.ins:
                    first_in = min(entry.ins)
                    assert row.first_in == first_in, (person.id, day)
                    assert row.first_in_corrected == (first_in in entry.added_in)
                    judged = working(person, day) and not leave_on(generated, person, day)
                    if person.shift is None:
                        assert row.late is None
                    else:
                        assert row.late == (judged and is_late(person, day, first_in))
            day += timedelta(days=1)
    assert statuses >= {
        "complete",
        "in_only",
        "out_only",
        "absent",
        "not_yet",
        "holiday",
        "day_off",
        "not_working",
        "leave",
    }


def test_the_day_shows_corrections_with_their_reason(site: tuple[Site, Database]) -> None:
    _, db = site
    with db.read() as conn:
        view = reports.day_view(conn, date(2026, 11, 11), tz=TZ, now=NOWS[1])
    row = next(r for r in view.rows if r.person_id == "o3")
    assert row.last_out_corrected
    assert row.last_out is not None
    assert row.last_out.astimezone(TZ).strftime("%H:%M") == "16:30"
    assert [(c.action, c.kind, c.reason, c.created_by) for c in row.corrections] == [
        ("add", "out", "forgot to punch", ADMIN)
    ]
    # The revoked addition counts for nothing and is not shown.
    with db.read() as conn:
        view = reports.day_view(conn, date(2026, 11, 13), tz=TZ, now=NOWS[1])
    assert not next(r for r in view.rows if r.person_id == "o4").corrections
