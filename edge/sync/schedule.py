"""When each sync task runs next: due times, backoff, the hold, the state of the link.

A pure state machine on an injected **monotonic** clock: no threads, no locks, no I/O.
:class:`~edge.sync.jobs.SyncService` asks it which task is due, runs the task, and
tells it how the run ended; the service guards it with its lock, since ``status()``
is read from the daemon's thread while the tick thread runs.

Rules:

* a task is due ``interval_s`` after its last success, or at once when the run left
  work behind (a drain cut off by its budget, a heartbeat announcing newer enrolment);
* a failed task waits by :class:`~edge.backoff.Backoff` (one per task);
* a refused token holds every task for the longest wait, a rate limit for its
  ``Retry-After`` (the server counts both against this terminal's address);
* a push asked for by a new event goes at once while the link is up and the push
  is not backing off;
* the first answer after the link was down ends every wait that was only for the link.
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from edge.backoff import Backoff, BackoffConfig
from edge.sync.errors import AuthError, RateLimitedError, ServerError, ServerUnreachableError

PUSH, PULL, HEARTBEAT = "push", "pull", "heartbeat"
TASKS = (PUSH, PULL, HEARTBEAT)


@dataclass(frozen=True, slots=True)
class TaskStatus:
    name: str
    consecutive_failures: int
    last_success_at: datetime | None
    """Wall clock at the last success (as the terminal saw it then)."""
    last_success_age_s: float | None
    """Monotonic seconds since the last success."""
    next_attempt_in_s: float
    last_error: str | None


@dataclass(slots=True)
class _Task:
    name: str
    interval_s: float
    next_due: float
    backoff: Backoff
    """Its ``attempt`` is the count of consecutive failures."""
    unreachable: bool = False  # the last failure was the link, not the data
    last_success: float | None = None
    last_success_wall: datetime | None = None
    last_error: str | None = None


class SyncSchedule:
    """Due times, per-task backoff, the shared hold and the link state of the sync tasks.

    ``intervals`` names the tasks (in the order a tick runs them) and their periods;
    every task is due at once when the schedule is made.
    """

    def __init__(
        self,
        intervals: Mapping[str, float],
        backoff: BackoffConfig,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self._monotonic = monotonic
        start = monotonic()
        self._tasks = {
            name: _Task(name, interval, start, Backoff(backoff, random=random))
            for name, interval in intervals.items()
        }
        self._hold_until = start  # every task waits until then (bad token, rate limit)
        self._link_up: bool | None = None
        self._link_down_since: float | None = None
        self._more: set[str] = set()  # tasks that stopped with work left: due again at once

    @property
    def link_up(self) -> bool | None:
        """Whether the last request got an answer; ``None`` before the first one."""
        return self._link_up

    def failures(self, name: str) -> int:
        return self._tasks[name].backoff.attempt

    def due(self, name: str, *, push_requested: bool = False) -> bool:
        """Whether ``name`` may run now; ``push_requested``: a new event waits in the outbox."""
        now = self._monotonic()
        if now < self._hold_until:
            return False
        task = self._tasks[name]
        if now >= task.next_due:
            return True
        return (
            name == PUSH
            and push_requested
            and task.backoff.attempt == 0
            and bool(self._link_up)
        )

    def again(self, *, push_requested: bool = False) -> bool:
        """Whether the tick should make another pass: a drain has more, or a push was asked
        for meanwhile. Ordinary due-ness waits for the next tick."""
        return any(self.due(name) for name in self._more) or (
            push_requested and self.due(PUSH, push_requested=True)
        )

    def begin(self, name: str) -> None:
        """``name`` starts a run: whatever it left last time, this run takes on."""
        self._more.discard(name)

    def more(self, name: str) -> None:
        """``name`` stopped with work left: due again as soon as the others had their turn."""
        self._more.add(name)

    def run_now(self, name: str) -> None:
        """``name`` has work waiting (the heartbeat saw newer enrolment): due at once."""
        task = self._tasks[name]
        task.next_due = min(task.next_due, self._monotonic())
        self._more.add(name)

    def succeeded(self, name: str, *, answered: bool, wall: datetime) -> float | None:
        """Record a successful run; ``answered``: the server answered a request in it (a push
        of an empty outbox sends none, and only an answer proves the link).

        Returns the seconds the link had been down when this answer restored it, else None.
        """
        now = self._monotonic()
        task = self._tasks[name]
        task.backoff.reset()
        task.unreachable = False
        task.last_error = None
        task.last_success = now
        task.last_success_wall = wall
        task.next_due = now if name in self._more else now + task.interval_s
        if not answered:
            return None
        restored = self._link_up is False
        self._link_up = True
        if not restored:
            return None
        # The server is back: whatever waited for it may go now (a refused page or a full
        # disk keeps its backoff).
        for other in self._tasks.values():
            if other.backoff.attempt and other.unreachable:
                other.next_due = min(other.next_due, now)
                other.backoff.reset()
                self._more.add(other.name)
        down_since, self._link_down_since = self._link_down_since, None
        return 0.0 if down_since is None else now - down_since

    def failed(self, name: str, exc: BaseException) -> float:
        """Record a failed run; returns the seconds until the task is tried again."""
        now = self._monotonic()
        task = self._tasks[name]
        task.last_error = f"{type(exc).__name__}: {exc}"
        delay = task.backoff.next_delay()
        hold = None
        if isinstance(exc, AuthError):
            # Unknown tokens count against this address at the server: go slow, all of us.
            delay = task.backoff.longest()
            hold = now + delay
        elif isinstance(exc, RateLimitedError):
            delay = max(exc.retry_after_s, delay)
            hold = now + delay
        task.next_due = now + delay
        if hold is not None:
            self._hold_until = max(self._hold_until, hold)
        unreachable = isinstance(exc, ServerUnreachableError) or (
            isinstance(exc, ServerError) and not isinstance(exc, RateLimitedError)
        )
        task.unreachable = unreachable
        if unreachable:
            if self._link_up is not False:
                self._link_down_since = now
            self._link_up = False
        return delay

    def status(self) -> dict[str, TaskStatus]:
        now = self._monotonic()
        return {
            name: TaskStatus(
                name=name,
                consecutive_failures=t.backoff.attempt,
                last_success_at=t.last_success_wall,
                last_success_age_s=None
                if t.last_success is None
                else round(now - t.last_success, 3),
                next_attempt_in_s=round(max(t.next_due, self._hold_until) - now, 3),
                last_error=t.last_error,
            )
            for name, t in self._tasks.items()
        }


__all__ = ["HEARTBEAT", "PULL", "PUSH", "TASKS", "SyncSchedule", "TaskStatus"]
