"""SyncService with a hand-driven clock and an in-memory server (httpx.MockTransport).

``tick()`` is what the scheduler calls; here the tests call it, moving the clock
between calls, so every timing decision is checked exactly.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from pydantic import ConfigDict, ValidationError, create_model

from edge import __version__
from edge.protocol import MAX_STORE_ERROR, AttendanceEvent, LivenessEvidence, encode_template
from edge.recognize.matcher import Matcher
from edge.store import EdgeStore, StoreBusyError, StoreConfig
from edge.sync import (
    HeartbeatHealth,
    ProtocolError,
    SyncClient,
    SyncService,
    SyncTimeoutError,
)
from tests.support.clock import FakeClock
from tests.support.wait import wait_until
from tests.sync.helpers import BOOT_ID, FakeServer, record_events, sync_config


def _service(
    store: EdgeStore,
    server: FakeServer,
    clock: FakeClock,
    *,
    health: Any = None,
    transport: httpx.BaseTransport | None = None,
    **config: Any,
) -> SyncService:
    values: dict[str, Any] = {
        "push_interval_s": 2.0,
        "pull_interval_s": 30.0,
        "heartbeat_interval_s": 30.0,
        "tick_s": 1.0,
        "backoff": {"initial_delay": 1.0, "max_delay": 60.0, "jitter": 0.2},
    }
    values.update(config)
    cfg = sync_config(**values)
    assert cfg.server_url is not None
    client = SyncClient(cfg.server_url, "tok", transport=transport or server.transport())
    return SyncService(
        store,
        Matcher(store.load_gallery()),
        client,
        cfg,
        monotonic=clock.monotonic,
        now=clock.now,
        boot_id=BOOT_ID,
        clock_synced=lambda: False,
        health_provider=health,
        random=lambda: 0.5,
    )


def _paths(server: FakeServer) -> list[str]:
    return [path for _method, path in server.requests]


# -- push ----------------------------------------------------------------------------------


def test_push_drains_the_outbox_in_batches(
    store: EdgeStore, fake_server: FakeServer, clock: FakeClock
) -> None:
    ids = record_events(store, 1234)
    clock.advance(5)
    service = _service(store, fake_server, clock)
    assert service.push_once() == 1234
    assert [len(b["events"]) for b in fake_server.batches] == [500, 500, 234]
    assert sorted(fake_server.events) == sorted(ids)
    assert store.backlog().count == 0
    first = fake_server.batches[0]
    # The batch carries the terminal's clocks at sending, as the server's time rule needs.
    assert first["device_id"] == "t1"
    assert datetime.fromisoformat(first["sent_wall_time"]) == clock.wall
    assert first["sent_monotonic"] == clock.mono
    assert first["boot_id"] == BOOT_ID
    assert first["clock_synced"] is False
    assert service.status().events_synced == 1234
    assert service.push_once() == 0  # nothing left: no request at all
    assert len(fake_server.batches) == 3


def test_duplicates_are_synced_and_rejections_kept_aside(
    store: EdgeStore, fake_server: FakeServer, clock: FakeClock
) -> None:
    ids = record_events(store, 6)
    fake_server.events[ids[1]] = {}  # stored earlier, the answer was lost
    fake_server.reject[ids[2]] = "future_time"
    service = _service(store, fake_server, clock)
    assert service.push_once() == 6
    assert store.backlog().count == 0
    rejected = store.rejected()
    assert [(str(r.event.id), r.reason) for r in rejected] == [(ids[2], "future_time")]
    status = service.status()
    assert (status.events_synced, status.events_duplicate, status.events_rejected) == (4, 1, 1)
    # A rejected event is never sent again.
    record_events(store, 1)
    service.push_once()
    assert ids[2] not in {e["id"] for e in fake_server.batches[-1]["events"]}


def test_liveness_evidence_is_pushed_and_absent_when_the_row_has_none(
    store: EdgeStore, fake_server: FakeServer, clock: FakeClock
) -> None:
    flagged = LivenessEvidence(score=0.18, passed=False, reasons=["frame_edges", "flat_motion"])
    live = LivenessEvidence(score=0.93, passed=True)
    ids = [
        str(store.record("alice", distance=0.3, margin=0.2, liveness=flagged).event.id),
        str(store.record("bob", distance=0.3, margin=0.2).event.id),
        str(store.record("carol", distance=0.3, margin=0.2, liveness=live).event.id),
    ]
    service = _service(store, fake_server, clock)
    assert service.push_once() == 3
    sent = [fake_server.events[i] for i in ids]
    assert sent[0]["liveness"] == {
        "score": 0.18,
        "passed": False,
        "reasons": ["frame_edges", "flat_motion"],
    }
    # No key at all, not null: an older server forbids fields it does not know.
    assert "liveness" not in sent[1]
    assert sent[2]["liveness"] == {"score": 0.93, "passed": True, "reasons": []}
    assert [AttendanceEvent.model_validate(e).liveness for e in sent] == [flagged, None, live]


def test_a_server_older_than_liveness_takes_events_of_a_terminal_with_the_check_off(
    store: EdgeStore, fake_server: FakeServer, clock: FakeClock
) -> None:
    # The event model as servers before the liveness field had it: unknown fields forbidden.
    fields = {
        name: (info.annotation, info)
        for name, info in AttendanceEvent.model_fields.items()
        if name != "liveness"
    }
    old_event = create_model(  # type: ignore[call-overload]
        "OldAttendanceEvent", __config__=ConfigDict(extra="forbid"), **fields
    )

    def old_server(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events"):
            for index, event in enumerate(json.loads(request.content)["events"]):
                try:
                    old_event.model_validate(event)
                except ValidationError as exc:
                    detail = [{"loc": ["body", "events", index], "msg": str(exc)}]
                    return httpx.Response(422, json={"detail": detail})
        return fake_server.handle(request)

    ids = record_events(store, 4)
    service = _service(store, fake_server, clock, transport=httpx.MockTransport(old_server))
    assert service.push_once() == 4
    assert sorted(fake_server.events) == sorted(ids)
    assert store.rejected() == []
    assert store.backlog().count == 0


def test_push_budget_bounds_one_run(store: EdgeStore, fake_server: FakeServer) -> None:
    clock = FakeClock()
    steps = iter(range(1_000_000))

    def slow_monotonic() -> float:
        # Every reading moves time on: each batch "takes" a while.
        return 1000.0 + next(steps) * 0.5

    record_events(store, 2000)
    cfg = sync_config(batch_size=100, push_budget_s=3.0)
    service = SyncService(
        store,
        Matcher(),
        SyncClient("http://s", "t", transport=fake_server.transport()),
        cfg,
        monotonic=slow_monotonic,
        now=clock.now,
        boot_id=BOOT_ID,
    )
    pushed = service.push_once()
    assert 0 < pushed < 2000
    # The tick keeps going until the outbox is empty, one bounded run after another.
    service.tick()
    assert store.backlog().count == 0
    assert len(fake_server.events) == 2000


def test_refused_event_is_isolated_and_kept(
    store: EdgeStore, fake_server: FakeServer, clock: FakeClock
) -> None:
    ids = record_events(store, 40)
    poison = ids[23]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events"):
            events = json.loads(request.content)["events"]
            if any(e["id"] == poison for e in events):
                # A 422 that does not say which event: the service must find it.
                return httpx.Response(422, json={"detail": [{"loc": ["body"], "msg": "?"}]})
        return fake_server.handle(request)

    service = _service(store, fake_server, clock, transport=httpx.MockTransport(handler))
    service.push_once()
    assert store.backlog().count == 0
    assert sorted(fake_server.events) == sorted(i for i in ids if i != poison)
    [kept] = store.rejected()
    assert str(kept.event.id) == poison
    assert kept.reason.startswith("refused_by_server: 422")


def test_refused_event_named_by_the_server(
    store: EdgeStore, fake_server: FakeServer, clock: FakeClock
) -> None:
    ids = record_events(store, 5)

    def handler(request: httpx.Request) -> httpx.Response:
        events = json.loads(request.content)["events"] if request.content else []
        if request.url.path.endswith("/events") and events and events[0]["id"] == ids[0]:
            detail = [{"loc": ["body", "events", 0, "margin"], "msg": "bad", "type": "x"}]
            return httpx.Response(422, json={"detail": detail})
        return fake_server.handle(request)

    service = _service(store, fake_server, clock, transport=httpx.MockTransport(handler))
    service.push_once()
    assert [str(r.event.id) for r in store.rejected()] == [ids[0]]
    assert sorted(fake_server.events) == sorted(ids[1:])


# -- failures and backoff ------------------------------------------------------------------


def test_backoff_doubles_with_jitter_up_to_the_cap(
    store: EdgeStore, fake_server: FakeServer, clock: FakeClock
) -> None:
    record_events(store, 3)
    fake_server.faults = [httpx.ConnectError("refused")] * 100
    service = _service(
        store, fake_server, clock, backoff={"initial_delay": 1.0, "max_delay": 8.0, "jitter": 0.2}
    )
    waits = []
    for _ in range(7):
        service.tick()
        status = service.status().tasks["push"]
        waits.append(status.next_attempt_in_s)
        clock.advance(status.next_attempt_in_s)
    # random() is 0.5: every wait is 10% short of 1, 2, 4, 8, 8 ... seconds.
    assert waits == pytest.approx([0.9, 1.8, 3.6, 7.2, 7.2, 7.2, 7.2])
    assert service.status().tasks["push"].consecutive_failures == 7
    assert service.status().link_up is False
    assert store.backlog().count == 3


def test_nothing_is_sent_before_the_backoff_ends(
    store: EdgeStore, fake_server: FakeServer, clock: FakeClock
) -> None:
    record_events(store, 1)
    fake_server.faults = [httpx.ConnectError("refused")] * 3
    service = _service(store, fake_server, clock)
    service.tick()  # push, pull and heartbeat all fail
    sent = len(fake_server.requests)
    assert sent == 3
    for _ in range(8):
        clock.advance(0.1)
        service.tick()
    assert len(fake_server.requests) == sent
    service.request_push()  # offline: a new event does not bypass the backoff
    service.tick()
    assert len(fake_server.requests) == sent
    clock.advance(0.2)
    service.tick()  # 0.9 s after the failure: everything retried, and now it works
    assert store.backlog().count == 0
    assert service.status().link_up is True


def test_link_restored_retries_every_waiting_task(
    store: EdgeStore, fake_server: FakeServer, clock: FakeClock
) -> None:
    service = _service(
        store, fake_server, clock, heartbeat_interval_s=3.0, backoff={"initial_delay": 2.0}
    )
    service.tick()  # t=0: all three succeed; the outbox is empty
    record_events(store, 2)
    fake_server.faults = [httpx.ConnectError("down")]
    clock.advance(2.0)
    service.tick()  # t=2: the push fails and backs off 1.8 s
    assert service.status().link_up is False
    clock.advance(1.0)  # t=3: the heartbeat is due; the push still waits
    assert service.status().tasks["push"].next_attempt_in_s == pytest.approx(0.8)
    service.tick()
    # The heartbeat got through, so the waiting push went at once, in the same tick.
    assert _paths(fake_server)[-2:] == ["/heartbeat", "/events"]
    assert store.backlog().count == 0
    assert service.status().tasks["push"].consecutive_failures == 0


def test_a_bad_token_slows_every_task_down(
    store: EdgeStore, fake_server: FakeServer, clock: FakeClock
) -> None:
    record_events(store, 1)
    fake_server.faults = [401]
    service = _service(store, fake_server, clock, backoff={"max_delay": 60.0})
    service.tick()
    assert _paths(fake_server) == ["/events"]  # pull and heartbeat held back too
    status = service.status()
    assert all(t.next_attempt_in_s == pytest.approx(54.0) for t in status.tasks.values())
    clock.advance(53.0)
    service.tick()
    assert len(fake_server.requests) == 1
    clock.advance(1.0)
    service.tick()
    assert store.backlog().count == 0


def test_rate_limit_waits_retry_after(
    store: EdgeStore, fake_server: FakeServer, clock: FakeClock
) -> None:
    record_events(store, 1)

    def handler(request: httpx.Request) -> httpx.Response:
        if len(fake_server.requests) == 0:
            fake_server.requests.append(("limited", request.url.path))
            return httpx.Response(429, headers={"Retry-After": "120"}, json={"reason": "x"})
        return fake_server.handle(request)

    service = _service(store, fake_server, clock, transport=httpx.MockTransport(handler))
    service.tick()
    assert min(t.next_attempt_in_s for t in service.status().tasks.values()) >= 120


def test_timeouts_leave_events_pending(
    store: EdgeStore, fake_server: FakeServer, clock: FakeClock
) -> None:
    ids = record_events(store, 3)
    fake_server.faults = [httpx.ReadTimeout("slow")]
    service = _service(store, fake_server, clock)
    with pytest.raises(SyncTimeoutError):
        service.push_once()
    assert store.backlog().count == 3
    service.push_once()
    assert sorted(fake_server.events) == sorted(ids)


def test_tick_survives_a_broken_store(
    store: EdgeStore, fake_server: FakeServer, clock: FakeClock
) -> None:
    service = _service(store, fake_server, clock)
    store.close()
    service.tick()  # StoreClosedError in every task: logged, backed off, no exception
    assert all(t.consecutive_failures == 1 for t in service.status().tasks.values())
    assert "StoreClosedError" in (service.status().tasks["push"].last_error or "")


# -- heartbeat ------------------------------------------------------------------------------


def test_heartbeat_reports_the_terminal(
    store: EdgeStore, fake_server: FakeServer, clock: FakeClock
) -> None:
    record_events(store, 4)
    clock.advance(12.5)
    fake_server.clock_offset_s = 3.25
    service = _service(
        store,
        fake_server,
        clock,
        health=lambda: HeartbeatHealth("reconnecting", 14.5, 180.0),
    )
    ack = service.heartbeat_once()
    [beat] = fake_server.heartbeats
    assert beat["device_id"] == "t1"
    assert datetime.fromisoformat(beat["wall_time"]) == clock.wall
    assert beat["monotonic"] == clock.mono
    assert beat["boot_id"] == BOOT_ID
    assert beat["clock_synced"] is False
    assert beat["software_version"] == __version__
    assert beat["backlog"] == 4
    assert beat["backlog_oldest_age_s"] == pytest.approx(12.5)
    assert (beat["camera_state"], beat["fps"], beat["recognition_latency_ms"]) == (
        "reconnecting",
        14.5,
        180.0,
    )
    assert ack.clock_offset_s == 3.25
    assert service.status().clock_offset_s == 3.25


def test_heartbeat_says_when_the_store_cannot_save(
    tmp_path: Path, fake_server: FakeServer, clock: FakeClock
) -> None:
    """The sync jobs' own writes fail too: the heartbeat reports the store's account."""
    store = EdgeStore.open(
        tmp_path / "edge.db",
        StoreConfig(busy_timeout_s=0.05),
        device_id="t1",
        now=clock.now,
        monotonic=clock.monotonic,
        boot_id=BOOT_ID,
    )
    try:
        record_events(store, 3)
        service = _service(store, fake_server, clock)
        service.heartbeat_once()
        assert {k: v for k, v in fake_server.heartbeats[-1].items() if "store" in k} == {
            "store_state": "ok",
            "store_errors": 0,
            "store_last_error": None,
        }
        # Another writer holds the file: acknowledging the pushed events cannot be saved.
        blocker = sqlite3.connect(tmp_path / "edge.db", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreBusyError):
                service.push_once()
            service.heartbeat_once()
        finally:
            blocker.close()
        beat = fake_server.heartbeats[-1]
        assert (beat["store_state"], beat["store_errors"]) == ("error", 1)
        assert beat["store_last_error"].startswith("StoreBusyError: mark events synced: ")
        assert len(beat["store_last_error"]) <= MAX_STORE_ERROR
        assert beat["backlog"] == 3
        # Saving works again: ok, with the count and the last error kept for the record.
        service.push_once()
        service.heartbeat_once()
        beat = fake_server.heartbeats[-1]
        assert (beat["store_state"], beat["store_errors"], beat["backlog"]) == ("ok", 1, 0)
        assert beat["store_last_error"].startswith("StoreBusyError")
    finally:
        store.close()


@pytest.mark.parametrize(
    ("health", "expected"),
    [
        (HeartbeatHealth("Re-Connecting", math.nan, -5.0), ("re_connecting", 0.0, None)),
        (HeartbeatHealth("42", 5000.0, math.inf), ("unknown", 1000.0, None)),
        (HeartbeatHealth("", -1.0, None), ("unknown", 0.0, None)),
    ],
)
def test_odd_health_readings_never_cost_the_heartbeat(
    store: EdgeStore,
    fake_server: FakeServer,
    clock: FakeClock,
    health: HeartbeatHealth,
    expected: tuple[str, float, float | None],
) -> None:
    _service(store, fake_server, clock, health=lambda: health).heartbeat_once()
    beat = fake_server.heartbeats[-1]
    assert (beat["camera_state"], beat["fps"], beat["recognition_latency_ms"]) == expected


def test_a_failing_health_provider_sends_unknown(
    store: EdgeStore, fake_server: FakeServer, clock: FakeClock
) -> None:
    def broken() -> HeartbeatHealth:
        raise RuntimeError("camera gone")

    _service(store, fake_server, clock, health=broken).heartbeat_once()
    assert fake_server.heartbeats[-1]["camera_state"] == "unknown"


def test_heartbeat_announcing_changes_pulls_at_once(
    store: EdgeStore, fake_server: FakeServer, clock: FakeClock
) -> None:
    service = _service(store, fake_server, clock, heartbeat_interval_s=5.0)
    service.tick()
    assert _paths(fake_server) == ["/enrolment/changes", "/heartbeat"]
    fake_server.enrolment_version = 7
    fake_server.pages = [_page(0, 7, [_upsert("ada", 7, seed=1)])]
    clock.advance(5.0)
    service.tick()  # heartbeat says 7 > 0: the pull runs in the same tick
    assert _paths(fake_server)[-2:] == ["/heartbeat", "/enrolment/changes"]
    assert store.enrolment_version() == 7
    assert service.matcher.gallery.person_ids == ("ada",)


# -- pull -----------------------------------------------------------------------------------


def _upsert(person: str, version: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {
        "op": "upsert",
        "version": version,
        "person_id": person,
        "name": person.title(),
        "templates": [encode_template(rng.normal(size=128) / 11.3)],
    }


def _page(
    since: int, version: int, changes: list[dict[str, Any]], more: bool = False, **extra: Any
) -> dict[str, Any]:
    return {"since": since, "version": version, "more": more, "changes": changes, **extra}


def test_pull_applies_every_page_and_swaps_once(
    store: EdgeStore, fake_server: FakeServer, clock: FakeClock
) -> None:
    fake_server.pages = [
        _page(0, 2, [_upsert("a", 1, 1), _upsert("b", 2, 2)], more=True),
        _page(2, 4, [_upsert("c", 4, 3)], more=True),
        _page(4, 9, [{"op": "delete", "version": 9, "person_id": "a"}]),
    ]
    service = _service(store, fake_server, clock)
    generation = service.matcher.generation
    assert service.pull_once() is True
    assert store.enrolment_version() == 9
    assert service.matcher.gallery.person_ids == ("b", "c")
    assert service.matcher.generation == generation + 1
    assert service.pull_once() is False  # up to date: nothing applied, no swap
    assert service.matcher.generation == generation + 1


def test_reset_page_replaces_the_mirror_without_an_empty_gallery(
    store: EdgeStore, fake_server: FakeServer, clock: FakeClock
) -> None:
    fake_server.pages = [_page(0, 5, [_upsert("old", 5, 1)], once=True)]
    service = _service(store, fake_server, clock)
    service.pull_once()
    assert service.matcher.gallery.person_ids == ("old",)
    generation = service.matcher.generation
    fake_server.pages = [
        _page(0, 0, [], more=True, reset=True, once=True),
        _page(0, 12, [_upsert("new", 12, 2)]),
    ]
    service.pull_once()
    # One swap, straight from "old" to "new": the matcher never held an empty gallery.
    assert service.matcher.generation == generation + 1
    assert service.matcher.gallery.person_ids == ("new",)
    assert store.enrolment_version() == 12


def test_feed_that_does_not_advance_is_a_protocol_error(
    store: EdgeStore, fake_server: FakeServer, clock: FakeClock
) -> None:
    fake_server.pages = [_page(0, 0, [], more=True)]
    service = _service(store, fake_server, clock)
    with pytest.raises(ProtocolError, match="does not advance"):
        service.pull_once()


# -- request_push and the lifecycle --------------------------------------------------------


def test_request_push_before_start_only_sets_a_flag(
    store: EdgeStore, fake_server: FakeServer, clock: FakeClock
) -> None:
    service = _service(store, fake_server, clock)
    store.record("p1", distance=0.3, margin=0.2)
    service.request_push()
    assert fake_server.requests == []


def test_new_event_is_pushed_at_once_while_the_link_is_up(
    store: EdgeStore, fake_server: FakeServer
) -> None:
    """Real scheduler, real clocks: the push follows the event, not the 60 s interval."""
    pushed = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        response = fake_server.handle(request)
        if request.url.path.endswith("/events"):
            pushed.set()
        return response

    cfg = sync_config(push_interval_s=60, pull_interval_s=60, heartbeat_interval_s=60, tick_s=30)
    service = SyncService(
        store,
        Matcher(),
        SyncClient("http://s", "t", transport=httpx.MockTransport(handler)),
        cfg,
    )
    service.start()
    try:
        assert wait_until(lambda: service.status().link_up is True, timeout=5.0)
        result = store.record("p1", distance=0.3, margin=0.2)
        started = time.perf_counter()
        service.request_push()
        returned = time.perf_counter() - started
        assert pushed.wait(5), "the new event was not pushed"
        assert str(result.event.id) in fake_server.events
        assert returned < 0.5  # generous: it only sets a flag and nudges the scheduler
    finally:
        service.stop()


def test_start_and_stop_are_idempotent(
    store: EdgeStore, fake_server: FakeServer, clock: FakeClock
) -> None:
    service = _service(store, fake_server, clock)
    service.start()
    service.start()
    assert service.running
    service.stop()
    service.stop()
    assert not service.status().running
    with pytest.raises(RuntimeError, match="cannot be started again"):
        service.start()
    service.request_push()  # after stop: harmless


def test_stop_does_not_wait_for_a_hung_request(store: EdgeStore, fake_server: FakeServer) -> None:
    release = threading.Event()
    entered = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        entered.set()
        release.wait(10)
        return fake_server.handle(request)

    record_events(store, 1)
    service = SyncService(
        store,
        Matcher(),
        SyncClient("http://s", "t", transport=httpx.MockTransport(handler)),
        sync_config(),
        stop_timeout_s=0.2,
    )
    service.start()
    try:
        assert entered.wait(5)
        started = time.perf_counter()
        service.stop()
        assert time.perf_counter() - started < 2.0
    finally:
        release.set()
