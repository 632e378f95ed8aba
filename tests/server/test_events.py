"""Batch ingest: idempotency, per-id answers, rejected events kept, nothing written on refusal."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from edge.protocol import MAX_BATCH
from tests.server.helpers import Api, batch, event, utcnow


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
