"""Outbox, retention, cursors, health, and sharing the store between threads."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.store import EdgeStore, EventError, StoreBusyError
from tests.store.conftest import OpenStore, page, upsert
from tests.support.clock import BOOT_B, FakeClock


def _fill(store: EdgeStore, clock: FakeClock, count: int, prefix: str = "p") -> list[uuid.UUID]:
    ids = []
    for i in range(count):
        ids.append(store.record(f"{prefix}{i}", distance=0.4, margin=0.1).event.id)
        clock.advance(1)
    return ids


def test_pending_is_oldest_first_with_a_limit(store: EdgeStore, clock: FakeClock) -> None:
    ids = _fill(store, clock, 5)
    assert [e.id for e in store.pending()] == ids
    assert [e.id for e in store.pending(limit=2)] == ids[:2]
    with pytest.raises(ValueError, match="limit"):
        store.pending(limit=0)


def test_pending_order_is_recording_order_not_wall_order(
    store: EdgeStore, clock: FakeClock
) -> None:
    first = store.record("alice", distance=0.4, margin=0.1).event.id
    clock.wall -= timedelta(hours=5)
    clock.mono += 1
    second = store.record("bob", distance=0.4, margin=0.1).event.id
    assert [e.id for e in store.pending()] == [first, second]


def test_mark_synced_is_idempotent(store: EdgeStore, clock: FakeClock) -> None:
    ids = _fill(store, clock, 4)
    assert store.mark_synced([ids[0], str(ids[2]), uuid.uuid4()]) == 2
    assert [e.id for e in store.pending()] == [ids[1], ids[3]]
    assert store.mark_synced([ids[0], ids[2]]) == 0
    assert store.mark_synced([]) == 0
    assert store.stats().synced == 2


def test_mark_synced_checks_every_id_before_writing(store: EdgeStore, clock: FakeClock) -> None:
    ids = _fill(store, clock, 2)
    with pytest.raises(EventError, match="not an event id"):
        store.mark_synced([ids[0], "not-a-uuid"])
    assert store.backlog().count == 2


def test_mark_synced_a_large_batch_in_one_go(store: EdgeStore, clock: FakeClock) -> None:
    _fill(store, clock, 600)
    batch = store.pending(limit=500)
    assert store.mark_synced(e.id for e in batch) == 500
    assert store.backlog().count == 100


def test_rejected_event_leaves_the_outbox_but_stays_visible(
    store: EdgeStore, clock: FakeClock
) -> None:
    ids = _fill(store, clock, 3)
    assert store.mark_rejected(ids[1], "unknown person")
    assert not store.mark_rejected(ids[1], "again")  # already out of the outbox
    assert [e.id for e in store.pending()] == [ids[0], ids[2]]
    (rejected,) = store.rejected()
    assert (rejected.event.id, rejected.reason) == (ids[1], "unknown person")
    assert rejected.rejected_at == clock.wall
    assert store.stats().rejected == 1
    assert store.mark_synced([ids[1]]) == 0  # an accepted answer cannot override it silently

    assert store.requeue_rejected([ids[1]]) == 1
    assert [e.id for e in store.pending()] == ids
    assert store.rejected() == []


def test_backlog_count_and_age(store: EdgeStore, clock: FakeClock) -> None:
    assert store.backlog().count == 0
    assert store.backlog().oldest_age_s is None
    ids = _fill(store, clock, 3)  # recorded at t, t+1, t+2; clock now t+3
    clock.advance(7)
    backlog = store.backlog()
    assert backlog.count == 3
    assert backlog.oldest_age_s == pytest.approx(10)
    store.mark_synced(ids[:1])
    assert store.backlog().oldest_age_s == pytest.approx(9)


def test_backlog_age_ignores_wall_clock_jumps_in_one_boot(
    store: EdgeStore, clock: FakeClock
) -> None:
    store.record("alice", distance=0.4, margin=0.1)
    clock.wall -= timedelta(days=2)
    clock.mono += 30
    assert store.backlog().oldest_age_s == pytest.approx(30)


def test_backlog_age_after_a_reboot_uses_the_wall_clock(
    open_store: OpenStore, tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "edge.sqlite3"
    open_store(path).record("alice", distance=0.4, margin=0.1)
    clock.reboot(BOOT_B)
    clock.wall += timedelta(minutes=10)
    assert open_store(path).backlog().oldest_age_s == pytest.approx(600)


# -- retention -------------------------------------------------------------------------


def test_prune_drops_only_old_synced_events(open_store: OpenStore, clock: FakeClock) -> None:
    store = open_store(retention_days=90)
    old_synced, old_pending, old_rejected = _fill(store, clock, 3, prefix="old")
    store.mark_synced([old_synced])
    store.mark_rejected(old_rejected, "bad")
    clock.advance(86_400 * 91)
    recent = _fill(store, clock, 1, prefix="new")[0]
    store.mark_synced([recent])

    assert store.prune() == 1
    remaining = {e.id for e in store.events()}
    assert remaining == {old_pending, old_rejected, recent}
    assert store.prune() == 0


def test_prune_keeps_events_synced_recently_even_if_recorded_long_ago(
    open_store: OpenStore, clock: FakeClock
) -> None:
    store = open_store(retention_days=90)
    event_id = _fill(store, clock, 1)[0]
    clock.advance(86_400 * 200)  # offline for 200 days, then the server takes it
    store.mark_synced([event_id])
    assert store.prune() == 0
    clock.advance(86_400 * 91)
    assert store.prune() == 1


def test_prune_waits_for_a_synchronised_clock(open_store: OpenStore, clock: FakeClock) -> None:
    store = open_store(retention_days=1)
    store.mark_synced(_fill(store, clock, 1))
    clock.advance(86_400 * 5)
    clock.synced = False
    assert store.prune() == 0  # the clock might be years ahead
    assert store.prune(now=clock.wall) == 1  # an explicit time is trusted


def test_prune_works_in_chunks(open_store: OpenStore, clock: FakeClock) -> None:
    store = open_store(retention_days=1, cooldown_s=0)
    ids = []
    for _ in range(2300):
        ids.append(store.record("alice", distance=0.4, margin=0.1).event.id)
    store.mark_synced(ids)
    assert store.prune(now=clock.wall + timedelta(days=2)) == 2300
    assert store.stats().events == 0


# -- cursors, stats ------------------------------------------------------------------


def test_cursors(store: EdgeStore) -> None:
    assert store.get_cursor("push.last_ok") is None
    assert store.get_cursor("push.last_ok", "never") == "never"
    store.set_cursor("push.last_ok", "2026-11-23T07:00:00Z")
    store.set_cursor("heartbeat.seq", "41")
    store.set_cursor("heartbeat.seq", "42")
    assert store.cursors() == {"push.last_ok": "2026-11-23T07:00:00Z", "heartbeat.seq": "42"}
    with pytest.raises(ValueError, match="cursor key"):
        store.set_cursor("", "x")


def test_stats(file_store: EdgeStore, clock: FakeClock) -> None:
    ids = _fill(file_store, clock, 3)
    file_store.mark_synced(ids[:1])
    file_store.apply_enrolment(page(0, upsert(1, "alice", 1, 2), upsert(2, "bob", 3)))
    clock.advance(5)
    stats = file_store.stats()
    assert (stats.events, stats.pending, stats.synced, stats.rejected) == (3, 2, 1, 0)
    assert (stats.people, stats.templates, stats.enrolment_version) == (2, 3, 2)
    assert stats.oldest_pending_age_s == pytest.approx(7)
    assert stats.schema_version == 3
    assert stats.db_bytes > 0
    assert stats.path.endswith("edge.sqlite3")
    assert file_store.integrity_check() == ["ok"]
    file_store.checkpoint("truncate")


# -- threads -------------------------------------------------------------------------


def test_recognition_and_sync_threads_share_the_store(
    open_store: OpenStore, tmp_path: Path
) -> None:
    store = open_store(tmp_path / "edge.sqlite3", cooldown_s=0)
    recorded: list[uuid.UUID] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def recognition() -> None:
        try:
            for i in range(300):
                recorded.append(store.record(f"p{i % 7}", distance=0.4, margin=0.1).event.id)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def sync() -> None:
        try:
            version = 0
            while True:
                finished = done.is_set()
                batch = store.pending(limit=50)
                store.mark_synced(e.id for e in batch)
                store.apply_enrolment(page(version, upsert(version + 1, f"x{version % 5}")))
                version += 1
                assert len(store.load_gallery()) >= 1
                store.backlog()
                if finished and not batch:
                    return
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=recognition), threading.Thread(target=sync)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(set(recorded)) == 300
    stats = store.stats()
    assert (stats.events, stats.pending, stats.synced) == (300, 0, 300)


def test_a_long_reader_does_not_block_a_record(open_store: OpenStore, tmp_path: Path) -> None:
    path = tmp_path / "edge.sqlite3"
    store = open_store(path, busy_timeout_s=0.2)
    store.record("alice", distance=0.4, margin=0.1)
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM events").fetchone()  # holds a snapshot
    assert store.record("bob", distance=0.4, margin=0.1).recorded  # WAL: no wait
    reader.execute("COMMIT")
    reader.close()


def test_a_stuck_writer_gives_a_clear_busy_error(open_store: OpenStore, tmp_path: Path) -> None:
    path = tmp_path / "edge.sqlite3"
    store = open_store(path, busy_timeout_s=0.2)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    start = time.monotonic()
    with pytest.raises(StoreBusyError) as info:
        store.record("alice", distance=0.4, margin=0.1)
    assert isinstance(info.value, TimeoutError)
    assert time.monotonic() - start < 5
    blocker.execute("ROLLBACK")
    blocker.close()
    assert store.record("alice", distance=0.4, margin=0.1).recorded


def test_dead_threads_connections_are_released(open_store: OpenStore, tmp_path: Path) -> None:
    store = open_store(tmp_path / "edge.sqlite3")
    for _ in range(5):
        thread = threading.Thread(target=store.backlog)
        thread.start()
        thread.join()
    store.backlog()
    assert store._pool.connection_count() <= 2


def test_wall_time_round_trips_microseconds(open_store: OpenStore, clock: FakeClock) -> None:
    clock.wall = datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    store = open_store()
    event = store.record("alice", distance=0.4, margin=0.1).event
    assert store.pending()[0].wall_time == event.wall_time == clock.wall
