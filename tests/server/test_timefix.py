"""The clock correction rule (docs/protocol.md, "Time"), as a function and end to end."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from edge.protocol import AttendanceEvent, EventBatch
from sync_server.timefix import ClockRef, TimeSource, batch_ref, correct, merge_refs
from tests.server.helpers import Api, batch, event, heartbeat, utcnow

STALE = datetime(2025, 1, 1, 0, 0, tzinfo=UTC)  # a Pi that booted with last year's clock
REAL = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def _event(**kw: object) -> AttendanceEvent:
    base: dict[str, object] = {
        "id": uuid.uuid4(),
        "device_id": "t1",
        "person_id": "p1",
        "kind": "in",
        "wall_time": STALE,
        "clock_synced": False,
        "monotonic": 100.0,
        "boot_id": "b1",
        "distance": 0.3,
        "margin": 0.2,
    }
    base.update(kw)
    return AttendanceEvent.model_validate(base)


def test_synced_event_keeps_its_time() -> None:
    e = _event(wall_time=REAL, clock_synced=True)
    assert correct(e, {}) == (REAL, TimeSource.TERMINAL)


def test_unsynced_event_without_reference_keeps_wall_time() -> None:
    assert correct(_event(), {}) == (STALE, TimeSource.UNSYNCED)


def test_synced_reference_of_the_same_boot() -> None:
    refs = {"b1": ClockRef(REAL, 400.0, True)}
    corrected, source = correct(_event(monotonic=100.0), refs)
    assert corrected == REAL - timedelta(seconds=300)
    assert source is TimeSource.CORRECTED_TERMINAL


def test_server_reference_and_later_reference() -> None:
    refs = {"b1": ClockRef(REAL, 50.0, False)}
    corrected, source = correct(_event(monotonic=80.5), refs)
    assert corrected == REAL + timedelta(seconds=30.5)
    assert source is TimeSource.CORRECTED_SERVER


def test_a_reference_that_cannot_say_leaves_the_event_unsynced() -> None:
    # Stored by a server older than the bounds: an infinite reading, or one so far from the
    # event's that the sum leaves the calendar.
    for ref in (ClockRef(REAL, float("inf"), True), ClockRef(REAL, -1e15, False)):
        assert correct(_event(monotonic=100.0), {"b1": ref}) == (STALE, TimeSource.UNSYNCED)


def test_other_boot_is_not_corrected_by_this_boot() -> None:
    refs = {"b2": ClockRef(REAL, 400.0, True)}
    assert correct(_event(boot_id="b1"), refs)[1] is TimeSource.UNSYNCED


def test_batch_reference_prefers_terminal_clock_when_synced() -> None:
    received = REAL + timedelta(seconds=2)
    synced = EventBatch(
        device_id="t1",
        sent_wall_time=REAL,
        sent_monotonic=900.0,
        boot_id="b1",
        clock_synced=True,
        events=[],
    )
    assert batch_ref(synced, received) == ClockRef(REAL, 900.0, True)
    unsynced = synced.model_copy(update={"clock_synced": False, "sent_wall_time": STALE})
    assert batch_ref(unsynced, received) == ClockRef(received, 900.0, False)


def test_merge_keeps_synced_over_server_time() -> None:
    synced = ClockRef(REAL, 10.0, True)
    server = ClockRef(REAL, 20.0, False)
    assert merge_refs({"b": synced}, ("b", server)) == {"b": synced}
    assert merge_refs({"b": server}, ("b", synced)) == {"b": synced}
    newer = ClockRef(REAL, 30.0, False)
    assert merge_refs({"b": server}, ("b", newer)) == {"b": newer}


def _stored(api: Api) -> dict[str, dict[str, object]]:
    return {e["id"]: e for e in api.admin("GET", "/admin/events").json()["events"]}


def _iso(text: object) -> datetime:
    assert isinstance(text, str)
    return datetime.fromisoformat(text)


def test_events_before_ntp_sync_are_corrected_by_the_synced_batch(api: Api) -> None:
    token = api.create_terminal("t1")
    now = utcnow()
    # Recorded 10 minutes before sending, while the clock still said last year.
    early = event("t1", wall_time=STALE, clock_synced=False, monotonic=1000.0, boot_id="b1")
    synced = event("t1", wall_time=now - timedelta(seconds=1), monotonic=1599.0, boot_id="b1")
    body = batch("t1", [early, synced], sent_wall_time=now, sent_monotonic=1600.0, boot_id="b1")
    assert api.post_batch(token, body).status_code == 200
    stored = _stored(api)
    fixed = stored[early["id"]]
    assert fixed["time_source"] == "corrected_terminal"
    assert _iso(fixed["wall_time"]) == STALE
    assert (
        abs((_iso(fixed["corrected_time"]) - (now - timedelta(seconds=600))).total_seconds()) < 1e-3
    )
    assert stored[synced["id"]]["time_source"] == "terminal"


def test_unsynced_batch_uses_server_receive_time(api: Api) -> None:
    token = api.create_terminal("t1")
    early = event("t1", wall_time=STALE, clock_synced=False, monotonic=400.0, boot_id="b1")
    body = batch(
        "t1",
        [early],
        sent_wall_time=STALE + timedelta(seconds=100),
        sent_monotonic=500.0,
        boot_id="b1",
        clock_synced=False,
    )
    before = utcnow()
    api.post_batch(token, body)
    after = utcnow()
    stored = _stored(api)[early["id"]]
    assert stored["time_source"] == "corrected_server"
    corrected = _iso(stored["corrected_time"])
    assert before - timedelta(seconds=100) <= corrected <= after - timedelta(seconds=100)


def test_event_of_a_previous_boot_uses_a_heartbeat_of_that_boot(api: Api) -> None:
    token = api.create_terminal("t1")
    now = utcnow()
    # During boot b1 the terminal was synced and sent a heartbeat at monotonic 5000 ...
    beat = heartbeat("t1", boot_id="b1", monotonic=5000.0, wall_time=now.isoformat())
    assert api.as_terminal(token, "POST", "/heartbeat", json=beat).status_code == 200
    # ... then lost sync, recorded an event at monotonic 5060, rebooted (b2) and sent it.
    lost = event("t1", wall_time=STALE, clock_synced=False, monotonic=5060.0, boot_id="b1")
    body = batch("t1", [lost], boot_id="b2", sent_monotonic=30.0, sent_wall_time=now)
    api.post_batch(token, body)
    stored = _stored(api)[lost["id"]]
    assert stored["time_source"] == "corrected_terminal"
    assert (
        abs((_iso(stored["corrected_time"]) - (now + timedelta(seconds=60))).total_seconds()) < 1e-3
    )


def test_event_of_an_unknown_boot_stays_unsynced(api: Api) -> None:
    token = api.create_terminal("t1")
    lost = event("t1", wall_time=STALE, clock_synced=False, monotonic=50.0, boot_id="old")
    api.post_batch(token, batch("t1", [lost], boot_id="new"))
    stored = _stored(api)[lost["id"]]
    assert stored["time_source"] == "unsynced"
    assert _iso(stored["corrected_time"]) == STALE


@pytest.mark.parametrize("skew_s", [3600.0, 86_400.0 * 30])
def test_correction_into_the_future_is_rejected(api: Api, skew_s: float) -> None:
    token = api.create_terminal("t1")
    now = utcnow()
    # A monotonic reading after the batch's own: impossible, so the result lies in the future.
    odd = event("t1", wall_time=STALE, clock_synced=False, monotonic=100.0 + skew_s)
    body = batch("t1", [odd], sent_wall_time=now, sent_monotonic=100.0)
    result = api.post_batch(token, body).json()["results"][0]
    assert (result["status"], result["reason"]) == ("rejected", "future_time")
