"""Voided events taken out in Python (reports/adjust.py, ``raw_events(..., voids=...)``) leave
the same punches as SQL leaving out the event ids, also when two events are identical in time
and kind and only one of them is voided; and the day view and the month count them so.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from sync_server import reports
from sync_server.db import Database, corrections, epoch_us, events, migrate, people
from sync_server.reports.adjust import load_corrections, raw_events
from tests.reports.helpers import BERLIN, LONG_AGO, event_row, local

DAY = date(2026, 10, 14)
TWIN_IN = local("2026-10-14 08:00")
LATER_IN = local("2026-10-14 08:30")
OUT = local("2026-10-14 16:00")
AFTER = datetime(2026, 11, 5, tzinfo=UTC)


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    db = Database.from_url(db_url, pool_size=1)
    migrate(db)
    try:
        yield db
    finally:
        db.dispose()


def _store(db: Database, person_id: str, punches: list[tuple[str, datetime]]) -> list[uuid.UUID]:
    rows = [event_row(person_id, kind, at) for kind, at in punches]
    with db.write() as conn:
        conn.execute(
            sa.insert(people).values(
                id=person_id,
                name=person_id,
                group_name="staff",
                created_at=LONG_AGO,
                updated_at=LONG_AGO,
            )
        )
        conn.execute(sa.insert(events), rows)
    return [row["id"] for row in rows]


def _void(db: Database, person_id: str, event_id: uuid.UUID, *, revoked: bool = False) -> None:
    with db.write() as conn:
        conn.execute(
            sa.insert(corrections).values(
                person_id=person_id,
                action="void",
                event_id=event_id,
                reason="twin",
                created_at=LONG_AGO,
                created_by="admin",
                revoked_at=LONG_AGO if revoked else None,
                revoked_by="admin" if revoked else None,
            )
        )


def _both_ways(db: Database, person_id: str) -> list[tuple[int, str]]:
    """The person's counted punches of the day, by SQL and by Python; they must agree."""
    lo = epoch_us(local("2026-10-13 00:00"))
    hi = epoch_us(local("2026-10-16 00:00"))
    with db.read() as conn:
        by_sql = raw_events(conn, [person_id], lo, hi).get(person_id, [])
        voids = load_corrections(conn, lo, hi)
        in_python = raw_events(conn, [person_id], lo, hi, voids=voids).get(person_id, [])
    assert in_python == by_sql
    return in_python


def test_one_of_two_identical_events_voided(database: Database) -> None:
    twin_a, twin_b, _later, _out = _store(
        database, "p1", [("in", TWIN_IN), ("in", TWIN_IN), ("in", LATER_IN), ("out", OUT)]
    )
    _void(database, "p1", twin_a)
    # A void revoked, and a second void of the same event: neither takes out another twin.
    _void(database, "p1", twin_b, revoked=True)
    _void(database, "p1", twin_a)
    counted = _both_ways(database, "p1")
    assert counted == [
        (epoch_us(TWIN_IN), "in"),
        (epoch_us(LATER_IN), "in"),
        (epoch_us(OUT), "out"),
    ]
    with database.read() as conn:
        row = reports.day_view(conn, DAY, tz=BERLIN, now=AFTER).rows[0]
        month = reports.range_summary(conn, DAY, DAY, tz=BERLIN, now=AFTER).rows[0]
    assert row.events == 3
    assert row.first_in is not None
    assert row.first_in.astimezone(UTC) == TWIN_IN
    assert row.status == reports.Status.COMPLETE
    assert row.corrected
    assert month.days_present == 1
    assert month.days_complete == 1
    assert month.worked == OUT - TWIN_IN


def test_both_identical_events_voided(database: Database) -> None:
    twin_a, twin_b, later, _out = _store(
        database, "p2", [("in", TWIN_IN), ("in", TWIN_IN), ("in", LATER_IN), ("out", OUT)]
    )
    _void(database, "p2", twin_a)
    _void(database, "p2", twin_b)
    _void(database, "p2", later)
    counted = _both_ways(database, "p2")
    assert counted == [(epoch_us(OUT), "out")]
    with database.read() as conn:
        row = reports.day_view(conn, DAY, tz=BERLIN, now=AFTER).rows[0]
        month = reports.range_summary(conn, DAY, DAY, tz=BERLIN, now=AFTER).rows[0]
    assert row.events == 1
    assert row.first_in is None
    assert row.status == reports.Status.OUT_ONLY
    assert month.days_present == 1
    assert month.days_out_only == 1
    assert month.worked == timedelta(0)
