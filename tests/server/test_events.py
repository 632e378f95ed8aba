"""Batch ingest: idempotency, per-id answers, rejected events kept, nothing written on refusal."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from edge.protocol import MAX_BATCH
from sync_server.db import Database, clock_refs, rejected_events
from sync_server.ingest import prune_expired
from tests.server.helpers import Api, batch, event, heartbeat, utcnow
from tests.sync.helpers import make_service, open_store, record_events


def _statuses(response_json: dict[str, object]) -> list[str]:
    results = response_json["results"]
    assert isinstance(results, list)
    return [r["status"] for r in results]


def test_batch_accepted_then_all_duplicate(api: Api) -> None:
    token = api.create_terminal("t1")
    body = batch("t1", [event("t1") for _ in range(20)])

    first = api.post_batch(token, body)
    assert first.status_code == 200, first.text
    assert _statuses(first.json()) == ["accepted"] * 20
    assert [r["id"] for r in first.json()["results"]] == [e["id"] for e in body["events"]]

    second = api.post_batch(token, body)
    assert second.status_code == 200
    assert _statuses(second.json()) == ["duplicate"] * 20
    assert api.counts()["events"] == 20


def test_mixed_batch_answers_each_id_in_order(api: Api) -> None:
    token = api.create_terminal("t1")
    old = [event("t1") for _ in range(3)]
    api.post_batch(token, batch("t1", old))
    new = [event("t1") for _ in range(2)]
    mixed = [new[0], old[1], new[1], old[0]]

    response = api.post_batch(token, batch("t1", mixed))
    assert _statuses(response.json()) == ["accepted", "duplicate", "accepted", "duplicate"]
    assert api.counts()["events"] == 5


def test_repeated_id_inside_one_batch_is_stored_once(api: Api) -> None:
    token = api.create_terminal("t1")
    one = event("t1")
    response = api.post_batch(token, batch("t1", [one, event("t1"), one]))
    assert _statuses(response.json()) == ["accepted", "accepted", "duplicate"]
    assert api.counts()["events"] == 2


def test_empty_batch_is_fine(api: Api) -> None:
    token = api.create_terminal("t1")
    response = api.post_batch(token, batch("t1", []))
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_full_batch_of_500(api: Api) -> None:
    token = api.create_terminal("t1")
    response = api.post_batch(token, batch("t1", [event("t1") for _ in range(MAX_BATCH)]))
    assert response.status_code == 200
    assert _statuses(response.json()) == ["accepted"] * MAX_BATCH
    assert api.counts()["events"] == MAX_BATCH


def test_more_than_500_is_refused_naming_the_field(api: Api) -> None:
    token = api.create_terminal("t1")
    before = api.counts()
    response = api.post_batch(token, batch("t1", [event("t1") for _ in range(MAX_BATCH + 1)]))
    assert response.status_code == 422
    assert any(e["loc"] == ["body", "events"] for e in response.json()["detail"])
    assert api.counts() == before


def test_id_owned_by_another_terminal_is_rejected_and_kept(api: Api) -> None:
    token1 = api.create_terminal("t1")
    token2 = api.create_terminal("t2")
    shared = uuid.uuid4()
    api.post_batch(token1, batch("t1", [event("t1", event_id=shared)]))

    clash = event("t2", event_id=shared, person_id="p9")
    response = api.post_batch(token2, batch("t2", [clash, event("t2")]))
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "accepted"]
    assert results[0]["reason"] == "id_conflict"

    rejected = api.admin("GET", "/admin/events/rejected").json()["rejected"]
    assert len(rejected) == 1
    assert rejected[0]["device_id"] == "t2"
    assert rejected[0]["reason"] == "id_conflict"
    assert rejected[0]["event"]["person_id"] == "p9"
    # The original stays the first terminal's.
    stored = api.admin("GET", "/admin/events", params={"person_id": "p1"}).json()["events"]
    assert [e["device_id"] for e in stored if e["id"] == str(shared)] == ["t1"]

    # Sending the clash again answers the same and keeps one copy.
    again = api.post_batch(token2, batch("t2", [clash]))
    assert again.json()["results"][0]["reason"] == "id_conflict"
    assert api.counts()["rejected_events"] == 1


def test_event_from_the_future_is_rejected_and_kept(api: Api) -> None:
    token = api.create_terminal("t1")
    future = event("t1", wall_time=utcnow() + timedelta(hours=2))
    response = api.post_batch(token, batch("t1", [future, event("t1")]))
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "accepted"]
    assert results[0]["reason"] == "future_time"
    assert api.counts()["events"] == 1
    rejected = api.admin("GET", "/admin/events/rejected").json()["rejected"]
    assert [r["event_id"] for r in rejected] == [future["id"]]


def test_unknown_person_is_accepted_and_flagged(api: Api) -> None:
    token = api.create_terminal("t1")
    api.enrol("known", 1)
    response = api.post_batch(
        token, batch("t1", [event("t1", "known"), event("t1", "deleted-yesterday")])
    )
    assert _statuses(response.json()) == ["accepted", "accepted"]
    stored = {e["person_id"]: e for e in api.admin("GET", "/admin/events").json()["events"]}
    assert stored["known"]["person_known"] is True
    assert stored["deleted-yesterday"]["person_known"] is False


def test_event_fields_are_stored(api: Api) -> None:
    token = api.create_terminal("t1")
    sent = event("t1", "p7", kind="out", distance=0.41, margin=0.12)
    api.post_batch(token, batch("t1", [sent]))
    (stored,) = api.admin("GET", "/admin/events").json()["events"]
    assert stored["id"] == sent["id"]
    assert stored["kind"] == "out"
    assert stored["distance"] == 0.41
    assert stored["margin"] == 0.12
    assert stored["time_source"] == "terminal"
    assert stored["corrected_time"] == stored["wall_time"]


def test_batch_for_another_device_is_refused_and_nothing_written(api: Api) -> None:
    token1 = api.create_terminal("t1")
    api.create_terminal("t2")
    before = api.counts()

    response = api.post_batch(token1, batch("t2", [event("t2")]))
    assert response.status_code == 403
    assert response.json()["reason"] == "wrong_device"

    # A batch of its own that smuggles in another terminal's event: refused whole.
    response = api.post_batch(token1, batch("t1", [event("t1"), event("t2")]))
    assert response.status_code == 403
    assert api.counts() == before


def test_malformed_json_is_422_and_nothing_written(api: Api) -> None:
    token = api.create_terminal("t1")
    before = api.counts()
    response = api.as_terminal(
        token,
        "POST",
        "/events",
        content=b'{"device_id": "t1", "events": [',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"
    assert api.counts() == before


def test_bad_field_is_422_naming_it_and_nothing_written(api: Api) -> None:
    token = api.create_terminal("t1")
    before = api.counts()
    good = event("t1")
    naive = dict(event("t1"), wall_time="2026-01-01T08:00:00")
    response = api.post_batch(token, batch("t1", [good, naive]))
    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["detail"]]
    assert ["body", "events", 1, "wall_time"] in locs
    extra = dict(event("t1"), colour="red")
    response = api.post_batch(token, batch("t1", [extra]))
    assert response.status_code == 422
    assert ["body", "events", 0, "colour"] in [e["loc"] for e in response.json()["detail"]]
    assert api.counts() == before


def test_wrong_content_type_is_refused(api: Api) -> None:
    token = api.create_terminal("t1")
    body = json.dumps(batch("t1", [event("t1")])).encode()
    response = api.as_terminal(
        token, "POST", "/events", content=body, headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 422
    assert api.counts()["events"] == 0


def test_event_for_a_person_of_another_group_is_accepted_and_flagged(api: Api) -> None:
    token = api.create_terminal("t1", group="north")
    api.create_person("ours", group="north")
    api.create_person("theirs", group="south")
    sent = [event("t1", "ours"), event("t1", "theirs"), event("t1", "nobody-known")]
    results = api.post_batch(token, batch("t1", sent)).json()["results"]
    assert [r["status"] for r in results] == ["accepted"] * 3
    stored = {e["person_id"]: e for e in api.admin("GET", "/admin/events").json()["events"]}
    assert {p: (e["other_group"], e["person_known"]) for p, e in stored.items()} == {
        "ours": (False, True),
        "theirs": (True, True),
        "nobody-known": (False, False),
    }


def test_same_id_with_other_content_is_a_conflict_and_kept(api: Api) -> None:
    token = api.create_terminal("t1")
    first = event("t1", "p1", kind="in")
    assert api.post_batch(token, batch("t1", [first])).json()["results"][0]["status"] == "accepted"

    changed = dict(first, person_id="p2")
    results = api.post_batch(token, batch("t1", [first, changed])).json()["results"]
    assert [(r["status"], r["reason"]) for r in results] == [
        ("duplicate", None),
        ("conflict", "content_differs"),
    ]
    later = dict(first, kind="out")
    (result,) = api.post_batch(token, batch("t1", [later])).json()["results"]
    assert (result["status"], result["reason"]) == ("conflict", "content_differs")

    # Inside one new batch: the first copy is stored, a different second copy conflicts.
    fresh = event("t1", "p3")
    twin = dict(fresh, distance=0.5)
    results = api.post_batch(token, batch("t1", [fresh, twin, fresh])).json()["results"]
    assert [r["status"] for r in results] == ["accepted", "conflict", "duplicate"]

    stored = {e["id"]: e for e in api.admin("GET", "/admin/events").json()["events"]}
    assert (stored[first["id"]]["person_id"], stored[first["id"]]["kind"]) == ("p1", "in")
    assert stored[fresh["id"]]["distance"] == 0.3
    kept = api.admin("GET", "/admin/events/rejected").json()["rejected"]
    assert {(k["event_id"], k["reason"]) for k in kept} == {
        (first["id"], "content_differs"),
        (fresh["id"], "content_differs"),
    }


def test_terminal_keeps_a_conflict_aside_and_stops_resending(api: Api, tmp_path: Path) -> None:
    token = api.create_terminal("t1")
    with open_store(tmp_path / "edge.db", "t1") as store:
        ids = record_events(store, 3)
        # Another copy of the terminal's first event reached the server with other content.
        (pending,) = [e for e in store.pending(10) if str(e.id) == ids[0]]
        other = json.loads(pending.model_dump_json()) | {"person_id": "someone-else"}
        api.post_batch(token, batch("t1", [other]))

        service = make_service(
            store, str(api.client.base_url), token, transport=api.client._transport
        )
        assert service.push_once() == 3
        assert store.backlog().count == 0
        (kept,) = store.rejected()
        assert (str(kept.event.id), kept.reason) == (ids[0], "conflict: content_differs")
        assert service.status().events_rejected == 1
        assert service.push_once() == 0  # never sent again


def test_retention_prunes_old_clock_refs_and_rejected_events(api: Api) -> None:
    token = api.create_terminal("t1")
    now = utcnow()
    assert api.as_terminal(token, "POST", "/heartbeat", json=heartbeat("t1")).status_code == 200
    future = event("t1", wall_time=now + timedelta(hours=2))
    api.post_batch(token, batch("t1", [future], boot_id="b2"))
    assert (api.counts()["clock_refs"], api.counts()["rejected_events"]) == (2, 1)

    db = Database.from_url(api.config.database_url, pool_size=1)
    try:
        assert prune_expired(db, now + timedelta(days=89), 90) == (0, 0)
        with db.write() as conn:
            old = datetime(2026, 1, 1, tzinfo=UTC)
            conn.execute(
                sa.update(clock_refs).where(clock_refs.c.boot_id == "b2").values(updated_at=old)
            )
        assert prune_expired(db, now, 90) == (1, 0)
        assert prune_expired(db, now + timedelta(days=91), 90) == (1, 1)
    finally:
        db.dispose()
    assert (api.counts()["clock_refs"], api.counts()["rejected_events"]) == (0, 0)


def test_the_server_prunes_at_start_up(make_api: Callable[..., Api], api: Api) -> None:
    db = Database.from_url(api.config.database_url, pool_size=1)
    old = datetime(2020, 1, 1, tzinfo=UTC)
    try:
        with db.write() as conn:
            conn.execute(
                sa.insert(clock_refs).values(
                    device_id="t1",
                    boot_id="b",
                    ref_wall=old,
                    ref_monotonic=1.0,
                    synced=True,
                    updated_at=old,
                )
            )
            conn.execute(
                sa.insert(rejected_events).values(
                    event_id=uuid.uuid4(),
                    device_id="t1",
                    reason="future_time",
                    detail="",
                    payload="{}",
                    received_at=old,
                )
            )
    finally:
        db.dispose()
    make_api(retention_days=30)
    assert (api.counts()["clock_refs"], api.counts()["rejected_events"]) == (0, 0)


FLAGGED = {"score": 0.2, "passed": False, "reasons": ["frame_edges", "flat_motion"]}


def test_liveness_evidence_is_stored_and_listed(api: Api) -> None:
    token = api.create_terminal("t1")
    flagged = event("t1", "p1", liveness=FLAGGED)
    live = event("t1", "p2", liveness={"score": 0.91, "passed": True, "reasons": []})
    unchecked = event("t1", "p3")
    results = api.post_batch(token, batch("t1", [flagged, live, unchecked])).json()["results"]
    assert [r["status"] for r in results] == ["accepted"] * 3

    stored = {e["person_id"]: e for e in api.admin("GET", "/admin/events").json()["events"]}
    fields = ("liveness_score", "liveness_passed", "liveness_reasons", "needs_review")
    assert {p: tuple(e[f] for f in fields) for p, e in stored.items()} == {
        "p1": (0.2, False, ["frame_edges", "flat_motion"], True),
        "p2": (0.91, True, [], False),
        "p3": (None, None, None, False),
    }
    assert all(e["reviewed_at"] is None and e["reviewed_by"] is None for e in stored.values())
    db = Database.from_url(api.config.database_url, pool_size=1)
    try:
        with db.read() as conn:
            reasons = conn.execute(
                sa.text("SELECT liveness_reasons FROM events WHERE person_id = 'p1'")
            ).scalar_one()
    finally:
        db.dispose()
    assert reasons == "frame_edges,flat_motion"


def test_liveness_is_part_of_an_events_content(api: Api) -> None:
    token = api.create_terminal("t1")
    flagged = event("t1", "p1", liveness=FLAGGED)
    assert _statuses(api.post_batch(token, batch("t1", [flagged])).json()) == ["accepted"]

    # The same event again (a lost answer): a duplicate, also next to itself in one batch.
    again = api.post_batch(token, batch("t1", [flagged, dict(flagged)])).json()
    assert _statuses(again) == ["duplicate", "duplicate"]
    # Other evidence, or none, under that id is another event: a conflict.
    other_score = dict(flagged, liveness=dict(FLAGGED, score=0.25))
    other_reasons = dict(flagged, liveness=dict(FLAGGED, reasons=["frame_edges"]))
    passed = dict(flagged, liveness=dict(FLAGGED, passed=True))
    without = {k: v for k, v in flagged.items() if k != "liveness"}
    results = api.post_batch(
        token, batch("t1", [other_score, other_reasons, passed, without])
    ).json()["results"]
    assert [(r["status"], r["reason"]) for r in results] == [("conflict", "content_differs")] * 4

    # Inside one new batch: the first copy stands, a copy with other evidence conflicts.
    fresh = event("t1", "p2", liveness=FLAGGED)
    twin = dict(fresh, liveness=dict(FLAGGED, passed=True))
    results = api.post_batch(token, batch("t1", [fresh, twin, fresh])).json()["results"]
    assert [r["status"] for r in results] == ["accepted", "conflict", "duplicate"]
    stored = {e["id"]: e for e in api.admin("GET", "/admin/events").json()["events"]}
    assert stored[fresh["id"]]["liveness_passed"] is False
    assert stored[flagged["id"]]["liveness_score"] == 0.2
    assert api.counts()["events"] == 2


def test_liveness_evidence_out_of_bounds_is_422_naming_it(api: Api) -> None:
    token = api.create_terminal("t1")
    bad = [
        event("t1", liveness=dict(FLAGGED, score=1.5)),
        event("t1", liveness=dict(FLAGGED, reasons=["Not A Name"])),
    ]
    response = api.post_batch(token, batch("t1", bad))
    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["detail"]]
    assert ["body", "events", 0, "liveness", "score"] in locs
    assert ["body", "events", 1, "liveness", "reasons", 0] in locs
    assert api.counts()["events"] == 0
