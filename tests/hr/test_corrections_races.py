"""Corrections sent at the same moment (two admins, a form sent twice): at most one live void
per event and one added punch per minute, on SQLite and PostgreSQL (where the person's and
the event's row locks order the writers)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from sync_server import corrections
from sync_server.db import Database, events
from sync_server.db import corrections as corrections_table
from sync_server.domain_errors import ConflictError
from sync_server.schemas.corrections import CorrectionAdd, CorrectionVoid
from tests.server.helpers import Api, batch, event

JAKARTA = ZoneInfo("Asia/Jakarta")
WRITERS = 6


def _race(work: Callable[[int], object]) -> tuple[int, list[str]]:
    """Run ``work(n)`` in WRITERS threads released together; (successes, conflict reasons)."""
    start = threading.Barrier(WRITERS)
    done: list[object] = []
    refused: list[str] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        start.wait()
        try:
            result = work(n)
        except ConflictError as exc:
            with lock:
                refused.append(exc.reason)
            return
        with lock:
            done.append(result)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return len(done), refused


def test_simultaneous_voids_of_one_event_leave_one_live_void(api: Api) -> None:
    api.create_person("ani")
    token = api.create_terminal("gate")
    body = event("gate", "ani", wall_time=datetime.now(UTC) - timedelta(hours=1))
    assert api.post_batch(token, batch("gate", [body])).status_code == 200
    db = Database.from_url(api.config.database_url, pool_size=WRITERS)
    try:
        void = CorrectionVoid(action="void", event_id=body["id"], reason="wrong face")
        made, refused = _race(
            lambda n: corrections.void_event(
                db, void, tz=JAKARTA, actor=f"admin{n}", now=datetime.now(UTC)
            )
        )
        with db.read() as conn:
            # The reports' own condition (corrections.live_void_exists) finds it voided.
            voided = conn.execute(
                sa.select(events.c.id).where(corrections.live_void_exists(events.c.id))
            ).all()
            rows = conn.execute(
                sa.select(sa.func.count()).select_from(corrections_table)
            ).scalar_one()
    finally:
        db.dispose()
    assert made == 1
    assert refused == ["already_voided"] * (WRITERS - 1)
    assert rows == 1
    assert [str(v.id) for v in voided] == [body["id"]]


def test_simultaneous_adds_of_one_punch_store_one(api: Api) -> None:
    api.create_person("ani")
    day = datetime.now(JAKARTA).date() - timedelta(days=1)
    db = Database.from_url(api.config.database_url, pool_size=WRITERS)
    try:

        def add(n: int) -> object:
            body = CorrectionAdd(
                action="add",
                person_id="ani",
                kind="out",
                day=day,
                time=f"17:00:{n:02d}",
                reason="lupa absen pulang",
            )
            return corrections.add_punch(
                db, body, tz=JAKARTA, actor=f"admin{n}", now=datetime.now(UTC)
            )

        made, refused = _race(add)
        with db.read() as conn:
            stored = conn.execute(
                sa.select(sa.func.count()).select_from(corrections_table)
            ).scalar_one()
    finally:
        db.dispose()
    assert made == 1
    assert refused == ["duplicate_correction"] * (WRITERS - 1)
    assert stored == 1
