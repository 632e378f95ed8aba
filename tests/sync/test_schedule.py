"""SyncSchedule alone: no threads, no server, a hand-driven monotonic clock.

Every timing rule of the sync jobs is decided here; tests/sync/test_jobs.py checks the
same rules through SyncService with a fake server.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from edge.backoff import Backoff, BackoffConfig
from edge.store import StoreError
from edge.sync import (
    AuthError,
    ProtocolError,
    RateLimitedError,
    ServerError,
    ServerUnreachableError,
    SyncSchedule,
)
from edge.sync.schedule import HEARTBEAT, PULL, PUSH
from tests.support.clock import FakeClock

WALL = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
BACKOFF = BackoffConfig(initial_delay=1.0, max_delay=8.0, jitter=0.2)


def _schedule(clock: FakeClock, backoff: BackoffConfig = BACKOFF) -> SyncSchedule:
    return SyncSchedule(
        {PUSH: 2.0, PULL: 30.0, HEARTBEAT: 10.0},
        backoff,
        monotonic=clock.monotonic,
        random=lambda: 0.5,
    )


def _down() -> ServerUnreachableError:
    return ServerUnreachableError("connection refused")


def _link(schedule: SyncSchedule) -> bool | None:
    # A call, not the property: each reading is new to mypy's narrowing.
    return schedule.link_up


def _due(schedule: SyncSchedule, **kwargs: bool) -> list[str]:
    return [name for name in (PUSH, PULL, HEARTBEAT) if schedule.due(name, **kwargs)]


def test_every_task_is_due_at_once_then_after_its_interval() -> None:
    clock = FakeClock()
    schedule = _schedule(clock)
    assert _due(schedule) == [PUSH, PULL, HEARTBEAT]
    assert _link(schedule) is None
    for name in (PUSH, PULL, HEARTBEAT):
        schedule.begin(name)
        assert schedule.succeeded(name, answered=True, wall=WALL) is None
    assert _link(schedule) is True
    assert _due(schedule) == []
    clock.advance(1.999)
    assert _due(schedule) == []
    clock.advance(0.001)
    assert _due(schedule) == [PUSH]
    clock.advance(8.0)
    assert _due(schedule) == [PUSH, HEARTBEAT]
    status = schedule.status()
    assert status[PULL].last_success_at == WALL
    assert status[PULL].last_success_age_s == pytest.approx(10.0)
    assert status[PULL].next_attempt_in_s == pytest.approx(20.0)


def test_failures_back_off_per_task_by_the_shared_formula() -> None:
    clock = FakeClock()
    schedule = _schedule(clock)
    reference = Backoff(BACKOFF, random=lambda: 0.5)
    waits = []
    for _ in range(6):
        assert schedule.due(PUSH)
        schedule.begin(PUSH)
        waits.append(schedule.failed(PUSH, _down()))
        assert not schedule.due(PUSH)
        assert schedule.status()[PUSH].next_attempt_in_s == pytest.approx(waits[-1], abs=1e-3)
        clock.advance(waits[-1])
    # random() is 0.5: every wait is 10% short of 1, 2, 4, 8, 8 ... seconds.
    assert waits == pytest.approx([0.9, 1.8, 3.6, 7.2, 7.2, 7.2])
    assert waits == [reference.next_delay() for _ in range(6)]
    assert schedule.failures(PUSH) == 6
    assert schedule.status()[PUSH].last_error == "ServerUnreachableError: connection refused"
    assert schedule.failures(PULL) == 0  # each task has its own backoff


def test_multiplier_is_a_sync_key_too() -> None:
    clock = FakeClock()
    schedule = _schedule(clock, BackoffConfig(initial_delay=1.0, max_delay=60.0, multiplier=3.0))
    waits = [schedule.failed(PULL, ProtocolError("bad page")) for _ in range(4)]
    assert waits == pytest.approx([0.9, 2.7, 8.1, 24.3])


def test_a_refused_token_holds_every_task_for_the_longest_wait() -> None:
    clock = FakeClock()
    schedule = _schedule(clock)
    schedule.begin(PUSH)
    assert schedule.failed(PUSH, AuthError("unknown token", status=401)) == pytest.approx(7.2)
    assert _due(schedule, push_requested=True) == []
    assert all(t.next_attempt_in_s == pytest.approx(7.2) for t in schedule.status().values())
    clock.advance(7.2)
    assert _due(schedule) == [PUSH, PULL, HEARTBEAT]
    assert _link(schedule) is None  # the server answered: the link is not the problem


def test_a_rate_limit_holds_every_task_for_retry_after() -> None:
    clock = FakeClock()
    schedule = _schedule(clock)
    limited = RateLimitedError("slow down", retry_after_s=5.0)
    assert schedule.failed(HEARTBEAT, limited) == 5.0
    clock.advance(4.9)
    assert _due(schedule) == []
    clock.advance(0.1)
    assert _due(schedule) == [PUSH, PULL, HEARTBEAT]


def test_a_requested_push_goes_early_only_while_the_link_is_up() -> None:
    clock = FakeClock()
    schedule = _schedule(clock)
    schedule.begin(PUSH)
    schedule.succeeded(PUSH, answered=False, wall=WALL)  # empty outbox: nothing sent
    assert _link(schedule) is None
    assert not schedule.due(PUSH, push_requested=True)  # no answer yet: the interval decides
    schedule.succeeded(HEARTBEAT, answered=True, wall=WALL)
    schedule.succeeded(PULL, answered=True, wall=WALL)
    assert schedule.due(PUSH, push_requested=True)
    assert not schedule.due(PUSH)
    assert not schedule.due(PULL, push_requested=True)  # the request is for the push only
    schedule.failed(PUSH, ServerError("bad gateway", status=502))
    assert _link(schedule) is False
    assert not schedule.due(PUSH, push_requested=True)  # offline: backoff decides


def test_the_first_answer_after_an_outage_ends_the_waits_for_the_link() -> None:
    clock = FakeClock()
    schedule = _schedule(clock)
    for _ in range(3):
        schedule.failed(PUSH, _down())  # the push waits 3.6 s now
    schedule.failed(PULL, StoreError("disk full"))  # not the link: keeps its backoff
    clock.advance(1.0)
    schedule.failed(HEARTBEAT, _down())
    assert _link(schedule) is False
    clock.advance(0.9)
    assert _due(schedule) == [PULL, HEARTBEAT]
    schedule.begin(HEARTBEAT)
    down_for = schedule.succeeded(HEARTBEAT, answered=True, wall=WALL)
    assert down_for == pytest.approx(1.9)  # since the first failure that found it down
    assert _link(schedule) is True
    assert schedule.failures(PUSH) == 0
    assert schedule.failures(PULL) == 1
    assert schedule.due(PUSH)
    # The waiting push goes in the same tick: the tick makes another pass for it.
    assert schedule.again()
    schedule.begin(PUSH)
    schedule.succeeded(PUSH, answered=True, wall=WALL)
    assert not schedule.again()


def test_work_left_over_is_due_again_at_once() -> None:
    clock = FakeClock()
    schedule = _schedule(clock)
    schedule.begin(PUSH)
    schedule.more(PUSH)  # the drain ran out of its budget
    schedule.succeeded(PUSH, answered=True, wall=WALL)
    assert schedule.due(PUSH)
    assert schedule.again()
    schedule.begin(PUSH)  # the next run takes it on
    schedule.succeeded(PUSH, answered=True, wall=WALL)
    assert not schedule.due(PUSH)
    assert not schedule.again()
    assert schedule.again(push_requested=True)  # a new event meanwhile: one more pass


def test_newer_enrolment_makes_the_pull_due_at_once() -> None:
    clock = FakeClock()
    schedule = _schedule(clock)
    schedule.succeeded(PULL, answered=True, wall=WALL)
    clock.advance(5.0)
    assert not schedule.due(PULL)
    schedule.run_now(PULL)
    assert schedule.due(PULL)
    assert schedule.again()
    assert schedule.status()[PULL].next_attempt_in_s == 0.0
