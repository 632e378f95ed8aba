"""APScheduler 3.x parts that make one periodic "tick" immune to wall-clock jumps.

APScheduler 3.x keeps every job's next run as a wall-clock datetime and reads the
clock as ``datetime.now(scheduler.timezone)`` in its main loop (``_process_jobs``).
The loop's sleep itself is ``threading.Event.wait``, which runs on the monotonic
clock. So, on a Raspberry Pi whose clock NTP steps days forward or hours back:

* **forward**: ``Job._get_run_times`` lists every run time missed since the old
  next run, one trigger call per interval (a 1 s job after a 3-day step: 259,200
  datetimes; years ahead exhausts memory: apscheduler#526, #1066). ``coalesce``
  only drops them after they were all computed;
* **backward**: the next run is now hours in the future, the loop sleeps until
  then and the job stops (apscheduler#339, #351, #752).

Both are cured here without touching the scheduler itself:

* :class:`TickTrigger` never owes more than one run: when the next fire time is
  already behind ``now`` it answers ``now + interval``;
* :class:`TickJobStore` never lets a tick job's next run lie more than one interval
  ahead of ``now``: anything further is a clock that went back, and the job is
  made due at once.

The tick's body then decides on the monotonic clock what is really due (see
:mod:`edge.sync.jobs`). :class:`TickExecutor` runs it on one daemon thread.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import datetime, timedelta
from typing import Any

import structlog
from apscheduler.executors.base import BaseExecutor, run_job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.triggers.base import BaseTrigger

log = structlog.get_logger(__name__)

SCHEDULER_LOGGER = f"{__name__}.apscheduler"
"""APScheduler's own log lines go here. It logs two INFO lines per job run; the
logger is set to WARNING so a 1 s tick does not flood the journal."""


class TickTrigger(BaseTrigger):  # type: ignore[misc]
    """Fire every ``interval_s``; after a stall or a forward clock jump, fire once, not N times."""

    __slots__ = ("interval",)

    def __init__(self, interval_s: float) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval must be positive, got {interval_s!r}")
        self.interval = timedelta(seconds=interval_s)

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        if previous_fire_time is None:
            return now
        following = previous_fire_time + self.interval
        return following if following > now else now + self.interval

    def __str__(self) -> str:
        return f"tick[{self.interval.total_seconds():g}s]"

    def __repr__(self) -> str:
        return f"<TickTrigger interval={self.interval.total_seconds():g}s>"


class TickJobStore(MemoryJobStore):  # type: ignore[misc]
    """A memory job store that pulls a tick job's next run back when the clock went back."""

    def get_due_jobs(self, now: datetime) -> list[Any]:
        for job in list(self.get_all_jobs()):
            trigger = job.trigger
            next_run = job.next_run_time
            if not isinstance(trigger, TickTrigger) or next_run is None:
                continue
            ahead = next_run - now
            if ahead > trigger.interval:
                # Only a clock set back can put a tick more than one interval ahead.
                log.warning(
                    "scheduler_clock_went_back",
                    job_id=job.id,
                    ahead_s=round(ahead.total_seconds(), 3),
                    decision="run the tick now",
                )
                # Job._modify is what the scheduler itself uses to move a job (3.x API).
                job._modify(next_run_time=now)
                self.update_job(job)
        due: list[Any] = super().get_due_jobs(now)
        return due


class TickExecutor(BaseExecutor):  # type: ignore[misc]
    """Runs jobs one after another on a single daemon thread.

    * daemon: the process never waits at exit for a request stuck in a timeout;
    * one long-lived thread: the store keeps one SQLite connection per thread,
      so a fresh pool thread per run would reopen it every second;
    * a run submitted while the previous one is still going is merged into it
      (counted in :attr:`merged`) instead of APScheduler's "maximum number of
      running instances reached" warning once a second during a long drain: the
      running tick re-checks what is due before it ends.
    """

    def __init__(self, thread_name: str = "hadir-sync") -> None:
        super().__init__()
        self.thread_name = thread_name
        self.merged = 0
        self._queue: queue.SimpleQueue[tuple[Any, list[datetime]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        self._logger = logging.getLogger(SCHEDULER_LOGGER)
        self._thread = threading.Thread(target=self._work, name=self.thread_name, daemon=True)
        self._thread.start()

    def submit_job(self, job: Any, run_times: list[datetime]) -> None:
        assert self._lock is not None, "the executor has not been started"
        with self._lock:
            if self._instances[job.id] >= job.max_instances:
                self.merged += 1
                return
            self._do_submit_job(job, run_times)
            self._instances[job.id] += 1

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        self._queue.put((job, run_times))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            job, run_times = item
            try:
                events = run_job(job, job._jobstore_alias, run_times, self._logger.name)
            except BaseException as exc:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, events)

    def shutdown(self, wait: bool = True) -> None:
        self._queue.put(None)
        if wait:
            self.join(None)

    def join(self, timeout: float | None) -> bool:
        """Wait for the worker to finish; True when it did within ``timeout``."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def busy(self) -> bool:
        """Whether a run is in progress or queued."""
        if self._lock is None:
            return False
        with self._lock:
            return bool(self._instances)


__all__ = ["SCHEDULER_LOGGER", "TickExecutor", "TickJobStore", "TickTrigger"]
