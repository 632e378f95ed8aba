"""Building attendance for report tests: people created long ago, events at site-local times."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from sync_server.db import Database, epoch_us, people, work_weeks
from tests.server.helpers import Api, batch, event

BERLIN = ZoneInfo("Europe/Berlin")
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)

Punch = tuple[str, str, datetime]  # (person, "in"/"out", when: aware)


def event_row(person_id: str, kind: str, at: datetime, device_id: str = "door-1") -> dict[str, Any]:
    """A stored event's row, as ingest writes it from a synchronised terminal, for tests that
    insert attendance straight into ``events``."""
    at = at.astimezone(UTC)
    return {
        "id": uuid.uuid4(),
        "device_id": device_id,
        "person_id": person_id,
        "kind": kind,
        "wall_time": at,
        "clock_synced": True,
        "monotonic": 1.0,
        "boot_id": "boot",
        "distance": 0.4,
        "margin": 0.2,
        "corrected_time": at,
        "time_source": "terminal",
        "received_at": at,
        "person_known": True,
        "effective_us": epoch_us(at),
    }


def local(text: str, tz: ZoneInfo = BERLIN, fold: int = 0) -> datetime:
    """'2026-10-14 08:55' on the site's wall clock, as an aware UTC datetime."""
    naive = datetime.fromisoformat(text)
    return naive.replace(tzinfo=tz, fold=fold).astimezone(UTC)


def post(api: Api, token: str, device_id: str, punches: Iterable[Punch]) -> None:
    """Send events through the terminal API (ingest, as terminals do)."""
    events = [
        event(device_id, person, kind=kind, wall_time=at, event_id=uuid.uuid4())
        for person, kind, at in punches
    ]
    for start in range(0, len(events), 500):
        response = api.post_batch(token, batch(device_id, events[start : start + 500]))
        assert response.status_code == 200, response.text
        statuses = {r["status"] for r in response.json()["results"]}
        assert statuses <= {"accepted"}, response.text


def backdate_people(database_url: str, when: datetime = LONG_AGO, **only: Any) -> None:
    """People are created "now" by the API; reports list absences only after creation."""
    db = Database.from_url(database_url, pool_size=1)
    try:
        with db.write() as conn:
            query = sa.update(people).values(created_at=when)
            if "ids" in only:
                query = query.where(people.c.id.in_(only["ids"]))
            conn.execute(query)
    finally:
        db.dispose()


def create_shift(api: Api, name: str, start: str, end: str, grace: int = 0) -> int:
    response = api.admin(
        "POST",
        "/admin/shifts",
        json={"name": name, "start": start, "end": end, "grace_minutes": grace},
    )
    assert response.status_code == 201, response.text
    shift_id: int = response.json()["id"]
    return shift_id


def assign_group(api: Api, group: str, shift_id: int | None) -> None:
    response = api.admin("PUT", f"/admin/groups/{group}/shift", json={"shift_id": shift_id})
    assert response.status_code == 200, response.text


def set_person(api: Api, person_id: str, **fields: Any) -> dict[str, Any]:
    response = api.admin("PATCH", f"/admin/people/{person_id}/attendance", json=fields)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def day(api: Api, date: str, **params: str) -> dict[str, Any]:
    response = api.admin("GET", "/admin/reports/day", params={"date": date, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def rows_by_person(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["person_id"]: row for row in report["rows"]}


def set_week(database_url: str, group: str, weekdays: str) -> None:
    """A group's working week (work_weeks; ``*`` the site default), straight into the table:
    the reports read it, the calendar API is tested elsewhere."""
    db = Database.from_url(database_url, pool_size=1)
    try:
        with db.write() as conn:
            conn.execute(sa.delete(work_weeks).where(work_weeks.c.group_name == group))
            conn.execute(
                sa.insert(work_weeks).values(
                    group_name=group,
                    weekdays=weekdays,
                    updated_at=datetime.now(UTC),
                    updated_by="test",
                )
            )
    finally:
        db.dispose()
