"""Recording attendance: cooldown, kind, clocks."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from edge.errors import ConfigError
from edge.protocol import MAX_MARGIN, AttendanceEvent, EventKind, LivenessEvidence
from edge.store import (
    EdgeStore,
    EventError,
    Outcome,
    StoreClosedError,
    StoreConfig,
)
from tests.store.conftest import OpenStore
from tests.support.clock import BOOT_A, FakeClock


def test_record_returns_the_committed_event(store: EdgeStore, clock: FakeClock) -> None:
    result = store.record("alice", distance=0.41, margin=0.12)

    assert result.outcome is Outcome.RECORDED
    assert result.recorded
    event = result.event
    assert isinstance(event, AttendanceEvent)
    assert event.id.version == 7
    assert (event.person_id, event.device_id, event.kind) == ("alice", "gate-1", EventKind.IN)
    assert event.wall_time == clock.wall
    assert event.wall_time.utcoffset() == timedelta(0)
    assert (event.clock_synced, event.monotonic, event.boot_id) == (True, 1000.0, BOOT_A)
    assert (event.distance, event.margin) == (0.41, 0.12)
    assert store.pending() == [event]


def test_wall_time_is_stored_in_utc_whatever_the_offset(
    open_store: OpenStore, clock: FakeClock
) -> None:
    from zoneinfo import ZoneInfo

    clock.wall = datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=ZoneInfo("Asia/Kolkata"))
    store = open_store()
    event = store.record("alice", distance=0.4, margin=0.1).event
    assert event.wall_time == clock.wall
    assert event.wall_time.tzinfo is UTC
    assert store.pending()[0].wall_time.isoformat() == "2026-11-23T04:00:15.123456+00:00"


def test_infinite_margin_is_stored_as_the_protocol_maximum(store: EdgeStore) -> None:
    # One person enrolled: the matcher reports no runner-up as an infinite margin, which
    # JSON cannot carry; the protocol caps it at MAX_MARGIN so the event can be synced.
    event = store.record("alice", distance=0.4, margin=float("inf")).event
    assert store.pending()[0].margin == MAX_MARGIN == event.margin
    assert AttendanceEvent.model_validate_json(event.model_dump_json()) == event


@pytest.mark.parametrize(
    ("person_id", "distance", "margin"),
    [
        ("", 0.4, 0.1),
        ("bad id", 0.4, 0.1),
        ("alice", float("nan"), 0.1),
        ("alice", -0.1, 0.1),
        ("alice", 0.4, -1.0),
    ],
)
def test_invalid_event_is_refused_and_nothing_written(
    store: EdgeStore, person_id: str, distance: float, margin: float
) -> None:
    with pytest.raises(EventError) as info:
        store.record(person_id, distance=distance, margin=margin)
    assert isinstance(info.value, ValueError)
    assert store.backlog().count == 0


def test_liveness_evidence_is_stored_with_the_event(store: EdgeStore, clock: FakeClock) -> None:
    flagged = LivenessEvidence(score=0.2, passed=False, reasons=["recapture_texture"])
    event = store.record("alice", distance=0.4, margin=0.1, liveness=flagged).event
    assert event.liveness == flagged
    live = LivenessEvidence(score=0.9, passed=True)
    other = store.record("bob", distance=0.4, margin=0.1, liveness=live).event
    plain = store.record("carol", distance=0.4, margin=0.1).event
    assert [e.liveness for e in store.pending()] == [flagged, live, None]
    assert store.last_event("bob") == other
    assert plain.liveness is None
    # A repeat stores nothing: it answers with the earlier event and that event's evidence.
    clock.advance(10)
    repeat = store.record("alice", distance=0.4, margin=0.1, liveness=live)
    assert repeat.outcome is Outcome.ALREADY_RECORDED
    assert repeat.event.liveness == flagged


@pytest.mark.parametrize(
    ("liveness", "message"),
    [
        (LivenessEvidence.model_construct(score=1.5, passed=True, reasons=[]), "less than or"),
        (
            LivenessEvidence.model_construct(score=0.1, passed=False, reasons=["Bad,Reason"]),
            "pattern",
        ),
        ({"score": 0.5, "passed": True}, "LivenessEvidence or None, got dict"),
    ],
)
def test_invalid_liveness_is_refused_and_nothing_written(
    store: EdgeStore, liveness: object, message: str
) -> None:
    with pytest.raises(EventError, match=message) as info:
        store.record("alice", distance=0.4, margin=0.1, liveness=liveness)  # type: ignore[arg-type]
    assert "'alice'" in str(info.value)
    assert store.backlog().count == 0


def test_naive_wall_clock_is_refused(open_store: OpenStore, clock: FakeClock) -> None:
    store = open_store()
    clock.wall = datetime(2026, 11, 23, 8, 0)  # no tzinfo
    with pytest.raises(EventError, match="aware"):
        store.record("alice", distance=0.4, margin=0.1)


# -- cooldown ------------------------------------------------------------------------


def test_repeat_within_cooldown_is_already_recorded(store: EdgeStore, clock: FakeClock) -> None:
    first = store.record("alice", distance=0.4, margin=0.1)
    clock.advance(299.9)
    again = store.record("alice", distance=0.3, margin=0.2)

    assert again.outcome is Outcome.ALREADY_RECORDED
    assert not again.recorded
    assert again.event == first.event
    assert again.since_s == pytest.approx(299.9)
    assert store.backlog().count == 1


def test_cooldown_ends_after_cooldown_s(store: EdgeStore, clock: FakeClock) -> None:
    store.record("alice", distance=0.4, margin=0.1)
    clock.advance(300)
    assert store.record("alice", distance=0.4, margin=0.1).outcome is Outcome.RECORDED
    assert store.backlog().count == 2


def test_cooldown_is_per_person(store: EdgeStore, clock: FakeClock) -> None:
    store.record("alice", distance=0.4, margin=0.1)
    clock.advance(1)
    assert store.record("bob", distance=0.4, margin=0.1).recorded


def test_cooldown_is_per_device(open_store: OpenStore, tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "edge.sqlite3"
    open_store(path, device_id="gate-1").record("alice", distance=0.4, margin=0.1)
    clock.advance(1)
    # The same file used by a renamed terminal: its own cooldown.
    assert open_store(path, device_id="gate-2").record("alice", distance=0.4, margin=0.1).recorded


def test_cooldown_zero_records_every_sighting(open_store: OpenStore) -> None:
    store = open_store(cooldown_s=0)
    assert all(store.record("alice", distance=0.4, margin=0.1).recorded for _ in range(3))


@pytest.mark.parametrize("jump", [timedelta(days=-1), timedelta(days=365), timedelta(hours=-2)])
def test_wall_clock_jumps_do_not_affect_cooldown(
    store: EdgeStore, clock: FakeClock, jump: timedelta
) -> None:
    store.record("alice", distance=0.4, margin=0.1)
    clock.wall += jump  # NTP sets the clock; the monotonic clock does not move
    clock.mono += 10
    assert store.record("alice", distance=0.4, margin=0.1).outcome is Outcome.ALREADY_RECORDED
    clock.mono += 300
    assert store.record("alice", distance=0.4, margin=0.1).outcome is Outcome.RECORDED


def test_cooldown_survives_a_daemon_restart(
    open_store: OpenStore, tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "edge.sqlite3"
    first = open_store(path)
    first.record("alice", distance=0.4, margin=0.1)
    first.close()

    clock.advance(30)  # same boot id: the daemon restarted, the machine did not
    restarted = open_store(path)
    assert restarted.record("alice", distance=0.4, margin=0.1).outcome is Outcome.ALREADY_RECORDED
    clock.advance(300)
    assert restarted.record("alice", distance=0.4, margin=0.1).outcome is Outcome.RECORDED


@pytest.mark.parametrize(
    ("synced_before", "synced_after", "expected"),
    [
        (True, True, Outcome.ALREADY_RECORDED),
        (True, False, Outcome.RECORDED),
        (False, True, Outcome.RECORDED),
        (False, False, Outcome.RECORDED),
    ],
)
def test_after_a_reboot_only_synchronised_wall_clocks_count(
    open_store: OpenStore,
    tmp_path: Path,
    clock: FakeClock,
    synced_before: bool,
    synced_after: bool,
    expected: Outcome,
) -> None:
    path = tmp_path / "edge.sqlite3"
    clock.synced = synced_before
    before = open_store(path)
    before.record("alice", distance=0.4, margin=0.1)
    before.close()

    clock.reboot()  # monotonic restarts at 5 s: not comparable with the old boot
    clock.wall += timedelta(seconds=60)
    clock.synced = synced_after
    assert open_store(path).record("alice", distance=0.4, margin=0.1).outcome is expected


def test_after_a_reboot_a_synchronised_clock_still_ends_the_cooldown(
    open_store: OpenStore, tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "edge.sqlite3"
    open_store(path).record("alice", distance=0.4, margin=0.1)
    clock.reboot()
    clock.wall += timedelta(seconds=301)
    assert open_store(path).record("alice", distance=0.4, margin=0.1).recorded


def test_monotonic_going_backwards_in_one_boot_records(store: EdgeStore, clock: FakeClock) -> None:
    # Impossible on a real kernel; if it happens, recording beats losing an event.
    store.record("alice", distance=0.4, margin=0.1)
    clock.mono -= 10
    assert store.record("alice", distance=0.4, margin=0.1).recorded


# -- kind ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["in", "out"])
def test_fixed_kind_mode(open_store: OpenStore, clock: FakeClock, mode: str) -> None:
    store = open_store(kind_mode=mode)
    kinds = []
    for _ in range(3):
        kinds.append(store.record("alice", distance=0.4, margin=0.1).event.kind)
        clock.advance(3600)
    assert kinds == [EventKind(mode)] * 3


def test_auto_kind_first_of_the_local_day_is_in(open_store: OpenStore, clock: FakeClock) -> None:
    clock.wall = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # 07:00 in Berlin
    store = open_store(timezone="Europe/Berlin", kind_mode="auto")

    def kind(person: str) -> EventKind:
        return store.record(person, distance=0.4, margin=0.1).event.kind

    assert kind("alice") is EventKind.IN
    clock.advance(4 * 3600)
    assert kind("alice") is EventKind.OUT
    assert kind("bob") is EventKind.IN
    clock.advance(6 * 3600)
    assert kind("alice") is EventKind.OUT  # 17:00
    # 23:30 UTC is 00:30 the next day in Berlin, still the same day in UTC.
    clock.wall = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    clock.mono += 10 * 3600
    assert kind("alice") is EventKind.IN
    assert kind("bob") is EventKind.IN


def test_auto_kind_uses_the_configured_zone(open_store: OpenStore, clock: FakeClock) -> None:
    clock.wall = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    store = open_store(timezone="UTC")
    assert store.record("alice", distance=0.4, margin=0.1).event.kind is EventKind.IN
    clock.wall = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    clock.mono += 12_600
    assert store.record("alice", distance=0.4, margin=0.1).event.kind is EventKind.OUT


def test_auto_kind_after_the_wall_clock_went_back(open_store: OpenStore, clock: FakeClock) -> None:
    store = open_store()
    assert store.record("alice", distance=0.4, margin=0.1).event.kind is EventKind.IN
    # An unsynchronised Pi starts at its last saved time, days ago.
    clock.wall -= timedelta(days=3)
    clock.mono += 600
    clock.synced = False
    event = store.record("alice", distance=0.4, margin=0.1).event
    assert event.kind is EventKind.IN
    assert event.clock_synced is False
    assert [e.id for e in store.pending()][-1] == event.id  # recording order, not wall order


def test_events_of_a_local_day(open_store: OpenStore, clock: FakeClock) -> None:
    clock.wall = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)
    store = open_store(timezone="Europe/Berlin")
    late = store.record("alice", distance=0.4, margin=0.1).event  # 23:30 local, the 23rd
    clock.advance(3600)
    early = store.record("alice", distance=0.4, margin=0.1).event  # 00:30 local, the 24th
    assert store.events(person_id="alice", day=date(2026, 11, 23)) == [late]
    assert store.events(day=date(2026, 11, 24)) == [early]
    assert store.events() == [late, early]
    assert store.last_event("alice") == early
    assert store.last_event("nobody") is None


# -- life cycle and misuse ---------------------------------------------------------------


def test_open_validates_identity_and_zone() -> None:
    with pytest.raises(ConfigError, match="device id"):
        EdgeStore.open(":memory:", device_id="bad id")
    with pytest.raises(ConfigError, match="time zone"):
        EdgeStore.open(":memory:", device_id="gate-1", timezone="Mars/Olympus")
    with pytest.raises(ConfigError):
        EdgeStore.open(":memory:", device_id="gate-1", boot_id="")
    with pytest.raises(ConfigError, match="read-only"):
        EdgeStore.open(":memory:", device_id="gate-1", read_only=True)


def test_defaults_work_without_injection(tmp_path: Path) -> None:
    with EdgeStore.open(tmp_path / "edge.sqlite3", device_id="gate-1") as store:
        event = store.record("alice", distance=0.4, margin=0.1).event
        assert event.boot_id
        assert isinstance(event.clock_synced, bool)
        assert abs(event.wall_time - datetime.now(UTC)) < timedelta(minutes=1)


def test_close_is_idempotent_and_later_use_fails(open_store: OpenStore, tmp_path: Path) -> None:
    store = open_store(tmp_path / "edge.sqlite3")
    store.close()
    store.close()
    assert store.closed
    assert "closed" in repr(store)
    with pytest.raises(StoreClosedError):
        store.record("alice", distance=0.4, margin=0.1)
    with pytest.raises(StoreClosedError):
        store.pending()


def test_context_manager_and_repr(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "edge.sqlite3"
    with EdgeStore.open(
        path, StoreConfig(cooldown_s=120), device_id="gate-7", now=clock.now
    ) as store:
        text = repr(store)
        assert "gate-7" in text
        assert "edge.sqlite3" in text
        assert "schema=v3" in text
        assert "cooldown_s=120" in text
    assert store.closed


def test_file_is_in_wal_mode(file_store: EdgeStore) -> None:
    assert file_store.path is not None
    conn = sqlite3.connect(file_store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_event_ids_are_unique_uuid7(open_store: OpenStore) -> None:
    store = open_store(cooldown_s=0)
    ids = {store.record("alice", distance=0.4, margin=0.1).event.id for _ in range(200)}
    assert len(ids) == 200
    assert all(isinstance(i, uuid.UUID) and i.version == 7 for i in ids)
