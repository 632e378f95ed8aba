"""Wall-clock jumps during operation: days forward (NTP after a stale boot), hours back.

Time is never patched. Two levels:

* the tick with hand-driven clocks: cadence decided on the monotonic clock, the wall
  clock only reported;
* the real APScheduler ``BackgroundScheduler`` whose clock is skewed through the one
  place it reads it, ``datetime.now(timezone)``: :class:`SkewZone` is a UTC zone whose
  ``fromutc`` adds a skew the test moves. A control with APScheduler's stock memory
  job store shows the harness does reproduce the stall the service avoids.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import httpx
import pytest
import structlog
from apscheduler.job import Job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from edge.recognize.matcher import Matcher
from edge.store import EdgeStore
from edge.sync import SyncClient, SyncService
from edge.sync.scheduler import TickExecutor, TickJobStore, TickTrigger
from tests.support.clock import FakeClock
from tests.sync.helpers import BOOT_ID, FakeServer, sync_config

FORWARD = timedelta(days=5)
BACK = timedelta(hours=7)


class SkewZone(tzinfo):
    """UTC, except that ``datetime.now(zone)`` reads ``skew`` ahead of the real clock."""

    def __init__(self) -> None:
        self.skew = timedelta(0)

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "UTC"

    def fromutc(self, dt: datetime) -> datetime:
        return (dt + self.skew).replace(tzinfo=self)


# -- the trigger -------------------------------------------------------------------------------


def test_a_forward_jump_owes_one_tick_not_thousands() -> None:
    """APScheduler lists every missed run time before coalescing them: one per interval.

    That list is what hangs or exhausts memory after a jump of days (apscheduler#526,
    #1066); TickTrigger owes at most one run however far the clock went.
    """
    scheduler = BackgroundScheduler(timezone=UTC)
    now = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    stale = now - timedelta(days=1)

    def missed_runs(trigger: Any) -> int:
        job = Job(
            scheduler,
            id="j",
            func=print,
            args=(),
            kwargs={},
            trigger=trigger,
            executor="default",
            name="j",
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
            next_run_time=stale,
        )
        return len(job._get_run_times(now))

    assert missed_runs(IntervalTrigger(seconds=1, start_date=stale, timezone=UTC)) == 86_401
    assert missed_runs(TickTrigger(1.0)) == 1
    trigger = TickTrigger(1.0)
    assert trigger.get_next_fire_time(stale, now) == now + timedelta(seconds=1)
    assert trigger.get_next_fire_time(now, now + timedelta(seconds=0.2)) == now + timedelta(
        seconds=1
    )
    assert trigger.get_next_fire_time(None, now) == now


# -- the tick, clocks by hand --------------------------------------------------------------------


def test_cadence_on_the_monotonic_clock_through_wall_jumps(
    store: EdgeStore, clock: FakeClock
) -> None:
    start_wall = clock.wall
    server = FakeServer()
    seen: list[tuple[str, float, datetime]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path.rsplit("/", 1)[-1], clock.mono, clock.wall))
        return server.handle(request)

    service = SyncService(
        store,
        Matcher(),
        SyncClient("http://s", "t", transport=httpx.MockTransport(handler)),
        sync_config(
            push_interval_s=2.0, pull_interval_s=30.0, heartbeat_interval_s=30.0, tick_s=1.0
        ),
        monotonic=clock.monotonic,
        now=clock.now,
        boot_id=BOOT_ID,
        clock_synced=lambda: False,
    )
    recorded: dict[str, float] = {}
    with structlog.testing.capture_logs() as logs:
        for second in range(600):
            if second == 200:
                clock.jump_wall(FORWARD)
            if second == 400:
                clock.jump_wall(-BACK)
            if second % 7 == 3:
                result = store.record(f"p{second}", distance=0.3, margin=0.2)
                recorded[str(result.event.id)] = clock.mono
            service.tick()
            clock.advance(1.0)

    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, mono, _wall in seen:
        by_kind[kind].append(mono)
    for kind in ("heartbeat", "changes"):
        gaps = [b - a for a, b in zip(by_kind[kind], by_kind[kind][1:], strict=False)]
        assert len(by_kind[kind]) == 20, kind  # 600 s / 30 s: no burst, no gap
        assert set(gaps) == {30.0}, (kind, gaps)
    # Every event went out within the push interval of being recorded, jumps or not.
    sent_at = {
        e["id"]: batch_mono
        for batch in server.batches
        for e in batch["events"]
        for batch_mono in [batch["sent_monotonic"]]
    }
    assert set(sent_at) == set(recorded)
    assert max(sent_at[i] - recorded[i] for i in recorded) <= 2.0
    # Batches and heartbeats carry the wall clock as it was, jumped.
    walls = [datetime.fromisoformat(b["sent_wall_time"]) for b in server.batches]
    assert min(walls) < start_wall + FORWARD <= max(walls)
    last_beat = datetime.fromisoformat(server.heartbeats[-1]["wall_time"])
    assert last_beat == start_wall + FORWARD - BACK + timedelta(seconds=570)
    jumps = [e["jump_s"] for e in logs if e["event"] == "wall_clock_jumped"]
    assert jumps == [FORWARD.total_seconds(), -BACK.total_seconds()]


# -- the real scheduler, its clock skewed ------------------------------------------------------


def _run_counts(store: Any, zone: SkewZone, steps: list[tuple[timedelta, float]]) -> list[int]:
    runs: list[float] = []
    scheduler = BackgroundScheduler(
        timezone=zone, jobstores={"default": store}, executors={"default": TickExecutor()}
    )
    scheduler.add_job(
        lambda: runs.append(time.monotonic()),
        trigger=TickTrigger(0.05),
        id="tick",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        next_run_time=datetime.now(zone),
    )
    scheduler.start()
    counts = []
    try:
        for skew, seconds in steps:
            zone.skew = skew
            before = len(runs)
            time.sleep(seconds)
            counts.append(len(runs) - before)
    finally:
        scheduler.shutdown(wait=False)
    return counts


def test_control_stock_job_store_stalls_after_a_backward_jump() -> None:
    steps = [(timedelta(0), 0.5), (-BACK, 0.6)]
    stock = _run_counts(MemoryJobStore(), SkewZone(), steps)
    ours = _run_counts(TickJobStore(), SkewZone(), steps)
    assert stock[0] >= 5
    # Stalled: at most the one run the scheduler thread had already dispatched, on the clock as it
    # was, when the skew changed (under load it lands inside the second window).
    assert stock[1] <= 1
    assert ours[0] >= 5
    assert ours[1] >= 5


@pytest.mark.slow
def test_real_scheduler_keeps_cadence_through_wall_jumps(store: EdgeStore) -> None:
    zone = SkewZone()
    server = FakeServer()
    seen: list[tuple[str, float]] = []
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            seen.append((request.url.path.rsplit("/", 1)[-1], time.monotonic()))
        return server.handle(request)

    interval = 0.2
    # Cadence is measured on the real clocks; only the scheduler's wall clock is skewed.
    service = SyncService(
        store,
        Matcher(),
        SyncClient("http://s", "t", transport=httpx.MockTransport(handler)),
        sync_config(
            push_interval_s=interval,
            pull_interval_s=interval,
            heartbeat_interval_s=interval,
            tick_s=0.05,
        ),
        scheduler_timezone=zone,
    )
    phases: list[tuple[str, float, float, float]] = []
    service.start()
    try:
        for name, skew in (
            ("before", timedelta(0)),
            ("forward", FORWARD),
            ("back", FORWARD - BACK),
        ):
            zone.skew = skew
            cpu, begin = time.process_time(), time.monotonic()
            event = store.record(f"p-{name}", distance=0.3, margin=0.2).event
            service.request_push()
            time.sleep(1.5)
            phases.append((name, begin, time.monotonic(), time.process_time() - cpu))
            assert str(event.id) in server.events, f"event of phase {name} not pushed"
    finally:
        service.stop()

    beats = [t for kind, t in seen if kind == "heartbeat"]
    gaps = [b - a for a, b in itertools.pairwise(beats)]
    assert max(gaps) < interval + 0.25, "a stall: the scheduler overslept"
    assert min(gaps) > interval * 0.7, "a burst: runs closer than the interval"
    for name, begin, end, cpu_s in phases:
        count = sum(1 for t in beats if begin <= t < end)
        assert 4 <= count <= 9, (name, count)
        assert cpu_s < 1.0, (name, cpu_s)  # no spin computing missed run times
