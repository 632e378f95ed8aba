"""End to end: a terminal records a face its liveness check doubted (flag mode), pushes it to
a real server process on a loopback port, and the server shows it as needing review."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from edge.protocol import API_PREFIX, LivenessEvidence
from sync_server.db import Database, events
from sync_server.process import ServerProcess
from tests.server.helpers import ADMIN, ADMIN_TOKEN, batch, bearer
from tests.sync.helpers import make_service, open_store

pytestmark = pytest.mark.slow

ATTACK = LivenessEvidence(score=0.2, passed=False, reasons=["frame_edges", "flat_motion"])


def test_a_flagged_event_from_the_terminals_outbox_needs_review(
    db_url: str, tmp_path: Path
) -> None:
    with (
        ServerProcess(tmp_path / "srv", db_url, ADMIN_TOKEN) as server,
        httpx.Client(base_url=server.url + API_PREFIX + "/admin", headers=ADMIN) as admin,
    ):
        made = admin.post("/terminals", json={"id": "door-1"})
        assert made.status_code == 201, made.text
        admin.post("/people", json={"id": "ana", "name": "Ana Example", "group": "default"})
        with open_store(tmp_path / "edge.db", "door-1") as store:
            flagged = store.record("ana", distance=0.35, margin=0.2, liveness=ATTACK).event
            live = store.record(
                "ana", distance=0.3, margin=0.2, liveness=LivenessEvidence(score=0.9, passed=True)
            ).event
            unchecked = store.record("ana", distance=0.3, margin=0.2).event
            token = made.json()["token"]
            service = make_service(store, server.url, token)
            assert service.push_once() == 3
            assert store.backlog().count == 0
            # A resend of the same outbox content (an answer lost) is a duplicate, not a
            # conflict: the evidence the server stored is the evidence the terminal holds.
            (again,) = [e for e in store.events(limit=10) if e.id == flagged.id]
            assert again.liveness == ATTACK
            body = batch("door-1", [again.model_dump(mode="json", exclude_none=True)])
            resent = httpx.post(
                server.url + API_PREFIX + "/events", json=body, headers=bearer(token)
            )
            assert resent.json()["results"][0]["status"] == "duplicate", resent.text

        # The server's row holds the evidence, comma-joined reasons.
        db = Database.from_url(db_url, pool_size=1)
        try:
            with db.read() as conn:
                row = conn.execute(
                    sa.select(
                        events.c.liveness_score,
                        events.c.liveness_passed,
                        events.c.liveness_reasons,
                        events.c.reviewed_at,
                    ).where(events.c.id == flagged.id)
                ).one()
                others = {
                    r.id: r.liveness_passed
                    for r in conn.execute(
                        sa.select(events.c.id, events.c.liveness_passed).where(
                            events.c.id != flagged.id
                        )
                    )
                }
        finally:
            db.dispose()
        assert tuple(row) == (0.2, False, "frame_edges,flat_motion", None)
        assert others == {live.id: True, unchecked.id: None}

        # The review list has it, and only it.
        review = admin.get("/events/review").json()
        assert review["open"] == 1
        (item,) = review["events"]
        assert (item["id"], item["person_name"]) == (str(flagged.id), "Ana Example")
        assert (item["liveness_score"], item["liveness_reasons"]) == (
            0.2,
            ["frame_edges", "flat_motion"],
        )

        # So has the events CSV (the site zone is UTC here).
        day = flagged.wall_time.date()
        params = {
            "from": (day - timedelta(days=1)).isoformat(),
            "to": (day + timedelta(days=1)).isoformat(),
            "rows": "events",
        }
        exported = admin.get("/reports/export.csv", params=params)
        assert exported.status_code == 200, exported.text
        rows = {r["event_id"]: r for r in csv.DictReader(io.StringIO(exported.text))}
        flagged_row = rows[str(flagged.id)]
        assert (
            flagged_row["liveness_score"],
            flagged_row["liveness_passed"],
            flagged_row["liveness_reasons"],
            flagged_row["needs_review"],
        ) == ("0.2", "no", "frame_edges,flat_motion", "yes")
        assert rows[str(live.id)]["needs_review"] == "no"

        # Marked reviewed: it leaves the open list and the CSV says who.
        marked = admin.post(f"/events/{flagged.id}/review")
        assert marked.status_code == 200, marked.text
        assert admin.get("/events/review").json() == {"open": 0, "events": []}
        exported = admin.get("/reports/export.csv", params=params)
        rows = {r["event_id"]: r for r in csv.DictReader(io.StringIO(exported.text))}
        assert (rows[str(flagged.id)]["needs_review"], rows[str(flagged.id)]["reviewed_by"]) == (
            "no",
            "admin token",
        )
        assert admin.post(f"/events/{uuid.uuid4()}/review").status_code == 404
