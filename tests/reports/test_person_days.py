"""The folded days (sync_server/reports/person_days.py), on SQLite and PostgreSQL: every writer
keeps them equal to a fresh fold of the events, and the reports give the same numbers with
them as without them, through shift changes, a new site zone, ingest and retention."""

from __future__ import annotations

import random
import threading
import time as time_module
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from edge.protocol import EventBatch
from sync_server import retention, shifts
from sync_server.config import RetentionConfig, ServerConfig
from sync_server.db import (
    Database,
    epoch_us,
    events,
    migrate,
    people,
    person_day_basis,
    person_days,
)
from sync_server.ingest import ingest_batch
from sync_server.reports import daily, month
from sync_server.reports import person_days as folding
from sync_server.schemas.shifts import ShiftCreate
from tests.reports.helpers import event_row
from tests.server.helpers import Api, batch, event

BERLIN = ZoneInfo("Europe/Berlin")  # October 2026 ends daylight saving on the 25th
JAKARTA = ZoneInfo("Asia/Jakarta")
FIRST, LAST = date(2026, 10, 1), date(2026, 10, 31)
NOW = datetime(2026, 11, 20, tzinfo=UTC)
GROUPS = ("day", "night", "plain")


def _site(db: Database, rnd: random.Random, n_people: int = 12) -> list[str]:
    """People in three groups (a day shift, a night shift, none), each with a month of
    in/out events at random times, some days missing, some with only an in."""
    created = datetime(2026, 9, 1, tzinfo=UTC)
    day = shifts.create_shift(db, ShiftCreate(name="day", start=time(9), end=time(17)))
    night = shifts.create_shift(
        db, ShiftCreate(name="night", start=time(22), end=time(6), grace_minutes=10)
    )
    shifts.set_group_shift(db, "day", day.id)
    shifts.set_group_shift(db, "night", night.id)
    ids = [f"p{i:02d}" for i in range(n_people)]
    rows = []
    for i, person_id in enumerate(ids):
        group = GROUPS[i % 3]
        start_h = {"day": 9, "night": 22, "plain": 8}[group]
        for n in range((LAST - FIRST).days + 1):
            if rnd.random() < 0.15:
                continue
            local = datetime.combine(FIRST + timedelta(days=n), time(start_h), BERLIN)
            arrive = local + timedelta(minutes=rnd.gauss(0, 25))
            rows.append(event_row(person_id, "in", arrive))
            if rnd.random() < 0.9:
                rows.append(
                    event_row(person_id, "out", arrive + timedelta(hours=rnd.uniform(6, 9)))
                )
    with db.write() as conn:
        conn.execute(
            sa.insert(people),
            [
                {
                    "id": p,
                    "name": p,
                    "group_name": GROUPS[i % 3],
                    "created_at": created,
                    "updated_at": created,
                }
                for i, p in enumerate(ids)
            ],
        )
        conn.execute(sa.insert(events), rows)
    return ids


def _stored(db: Database) -> dict[tuple[str, int], folding.DayFacts]:
    with db.read() as conn:
        rows = conn.execute(sa.select(person_days)).all()
    return {
        (r.person_id, r.day): folding.DayFacts(
            r.first_in_us, r.last_out_us, r.last_in_us, r.first_us, r.last_us, r.events
        )
        for r in rows
    }


def _fresh(db: Database) -> dict[tuple[str, int], folding.DayFacts]:
    """Every event folded again on the bases stored now: what the stored rows must equal."""
    with db.read() as conn:
        bases = {
            r.person_id: folding.Basis(r.zone, int(r.anchor_us))
            for r in conn.execute(sa.select(person_day_basis)).all()
            if r.zone is not None
        }
        rows = conn.execute(sa.select(events.c.person_id, events.c.effective_us, events.c.kind))
        return folding.fold([(p, int(at), k) for p, at, k in rows], bases)


def _reports(db: Database, tz: ZoneInfo, *, unfolded: bool) -> tuple[Any, Any]:
    """The month summary and the site chart; ``unfolded``: as if nobody's days were folded
    (the basis rows deleted in a transaction that is rolled back)."""
    with db.engine.connect() as conn:
        transaction = conn.begin()
        try:
            if unfolded:
                conn.execute(sa.delete(person_day_basis))
            summary = month.range_summary(conn, FIRST, LAST, tz=tz, now=NOW)
            line = daily.site_month(conn, FIRST, LAST, tz=tz, now=NOW)
        finally:
            transaction.rollback()
    return summary, line


def _folded_people(db: Database, tz: ZoneInfo) -> int:
    with db.read() as conn:
        return len(conn.execute(
            sa.select(person_day_basis.c.person_id).where(person_day_basis.c.zone == tz.key)
        ).all())  # fmt: skip


def test_the_reports_agree_folded_or_not_through_a_shift_change(db: Database) -> None:
    ids = _site(db, random.Random(3))
    assert folding.catch_up(db, BERLIN, now=NOW) == len(ids)
    assert _stored(db) == _fresh(db)
    assert len(_stored(db)) > 200
    folded = _reports(db, BERLIN, unfolded=False)
    assert folded == _reports(db, BERLIN, unfolded=True)
    assert sum(r.days_present for r in folded[0].rows) > 200
    assert sum(r.days_late or 0 for r in folded[0].rows) > 0

    # The plain group gets the night shift: their days are now split elsewhere, and until
    # they are folded again the reports read their events.
    night = next(s for s in shifts.list_shifts(db) if s.name == "night")
    shifts.set_group_shift(db, "plain", night.id)
    with db.read() as conn:
        assert set(folding.stale_people(conn, BERLIN)) == {p for p in ids if int(p[1:]) % 3 == 2}
    assert _reports(db, BERLIN, unfolded=False) == _reports(db, BERLIN, unfolded=True)
    assert folding.catch_up(db, BERLIN, now=NOW) == len(ids) // 3
    assert folding.catch_up(db, BERLIN, now=NOW) == 0
    assert _stored(db) == _fresh(db)
    assert _reports(db, BERLIN, unfolded=False) == _reports(db, BERLIN, unfolded=True)


def test_another_site_zone_reads_events_until_folded_again(db: Database) -> None:
    _site(db, random.Random(4))
    folding.catch_up(db, JAKARTA, now=NOW)
    assert _folded_people(db, BERLIN) == 0
    # Folded on Jakarta's days: wrong for Berlin, so not used for it.
    assert _reports(db, BERLIN, unfolded=False) == _reports(db, BERLIN, unfolded=True)
    assert folding.catch_up(db, BERLIN, now=NOW) == 12
    assert _stored(db) == _fresh(db)
    assert _reports(db, BERLIN, unfolded=False) == _reports(db, BERLIN, unfolded=True)


def test_ingest_adds_each_new_event_to_its_day(db: Database) -> None:
    _site(db, random.Random(5), n_people=3)
    folding.catch_up(db, BERLIN, now=NOW)
    # p00 (day shift, 05:00-05:00 days): an in at 07:59 and an out at 18:30 on 2 November,
    # in two batches; then the same batch again (duplicates change nothing).
    morning = datetime(2026, 11, 2, 7, 59, tzinfo=BERLIN)
    evening = datetime(2026, 11, 2, 18, 30, tzinfo=BERLIN)
    first = [event("door", "p00", wall_time=morning, kind="in")]
    second = [event("door", "p00", wall_time=evening, kind="out")]
    for body in (first, second, second):
        ingest_batch(
            db,
            EventBatch.model_validate(batch("door", body, sent_wall_time=NOW)),
            NOW,
            max_future_skew_s=300,
        )
    stored = _stored(db)
    assert stored == _fresh(db)
    number = (date(2026, 11, 2) - date(1970, 1, 1)).days
    facts = stored["p00", number]
    assert facts.events == 2
    assert facts.first_in_us == epoch_us(morning)
    assert facts.last_out_us == epoch_us(evening)
    # An event of someone not folded yet (no basis) waits for catch-up.
    ingest_batch(
        db,
        EventBatch.model_validate(batch("door", [event("door", "newcomer", wall_time=morning)],
                                        sent_wall_time=NOW)),
        NOW,
        max_future_skew_s=300,
    )  # fmt: skip
    assert not any(p == "newcomer" for p, _ in _stored(db))


def test_retention_drops_the_old_days_and_refolds_the_day_it_cuts(db: Database) -> None:
    _site(db, random.Random(6))
    folding.catch_up(db, BERLIN, now=NOW)
    # A cutoff at noon on 15 October cuts through the day shift's and the plain group's days.
    cutoff = datetime(2026, 10, 15, 12, 0, tzinfo=BERLIN)
    retention.apply(
        db,
        RetentionConfig(events_days=30, audit_days=0),
        now=(cutoff + timedelta(days=30)).astimezone(UTC),
        zone=BERLIN,
    )
    stored = _stored(db)
    assert stored == _fresh(db)
    assert min(f.first_us for f in stored.values()) >= epoch_us(cutoff)
    cut_day = (date(2026, 10, 15) - date(1970, 1, 1)).days
    assert any(day == cut_day for _, day in stored)
    assert _reports(db, BERLIN, unfolded=False) == _reports(db, BERLIN, unfolded=True)


def test_concurrent_ingest_shift_changes_and_catch_up_lose_nothing(db: Database) -> None:
    """Terminals keep sending while an admin moves a group between shifts and the fold job
    runs: at the end the folded days are exactly the events'."""
    ids = _site(db, random.Random(7), n_people=9)
    folding.catch_up(db, BERLIN, now=NOW)
    shift_ids = [s.id for s in shifts.list_shifts(db)] + [None]
    failures: list[BaseException] = []
    stop = threading.Event()

    def guarded(work: Any) -> Any:
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # reported by the test thread
                failures.append(exc)
                stop.set()

        return run

    def send() -> None:
        rnd = random.Random(8)
        for n in range(40):
            when = datetime(2026, 11, 1 + n % 20, 8, tzinfo=BERLIN) + timedelta(
                minutes=rnd.uniform(0, 600)
            )
            body = [
                event("door", rnd.choice(ids), wall_time=when, kind=rnd.choice(["in", "out"]))
                for _ in range(5)
            ]
            ingest_batch(
                db,
                EventBatch.model_validate(batch("door", body, sent_wall_time=NOW)),
                NOW,
                max_future_skew_s=300,
            )
        stop.set()

    def move() -> None:
        rnd = random.Random(9)
        while not stop.is_set():
            shifts.set_group_shift(db, rnd.choice(GROUPS), rnd.choice(shift_ids))

    def fold() -> None:
        while not stop.is_set():
            folding.catch_up(db, BERLIN, now=NOW, chunk=2)

    threads = [threading.Thread(target=guarded(w)) for w in (send, move, fold)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    # Exact for the basis each person's rows were folded on, stale or not, at every moment.
    assert _stored(db) == _fresh(db)
    folding.catch_up(db, BERLIN, now=NOW)
    assert _stored(db) == _fresh(db)
    with db.read() as conn:
        assert folding.stale_people(conn, BERLIN) == {}
        total = conn.execute(sa.select(sa.func.sum(person_days.c.events))).scalar_one()
        assert total == conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()
    assert _reports(db, BERLIN, unfolded=False) == _reports(db, BERLIN, unfolded=True)


def test_the_server_folds_everyone_at_start(
    settings: ServerConfig, make_api: Callable[..., Api]
) -> None:
    """A server started on a site whose days are not folded yet (just upgraded) folds them in
    the background, on its site zone, and ingest keeps them from then on."""
    db = Database.from_url(settings.database_url)
    try:
        migrate(db)
        _site(db, random.Random(10), n_people=6)
        api = make_api(site_timezone="Europe/Berlin")
        deadline = time_module.monotonic() + 30
        while _folded_people(db, BERLIN) < 6:
            assert time_module.monotonic() < deadline, "the server did not fold the days"
            time_module.sleep(0.1)
        assert _stored(db) == _fresh(db)
        # A terminal's event through HTTP lands in its day at once.
        token = api.create_terminal("door")
        when = datetime(2026, 11, 3, 8, 45, tzinfo=BERLIN)
        body = batch("door", [event("door", "p00", wall_time=when)])
        answer = api.as_terminal(token, "POST", "/events", json=body)
        assert answer.json()["results"][0]["status"] == "accepted", answer.text
        number = (date(2026, 11, 3) - date(1970, 1, 1)).days
        assert _stored(db)["p00", number].first_in_us == epoch_us(when)
        assert _stored(db) == _fresh(db)
    finally:
        db.dispose()
