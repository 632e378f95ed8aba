"""The terminal's sync jobs: push the outbox, pull enrolment changes, send heartbeats.

One APScheduler ``BackgroundScheduler`` runs one job, the *tick*, every
``tick_s`` (``max_instances=1``, ``coalesce=True``; see :mod:`edge.sync.scheduler`
for why it survives wall-clock jumps). The tick asks the schedule
(:mod:`edge.sync.schedule`, on the **monotonic** clock) which of the three tasks is
due, runs it, and tells the schedule how it went; a failure backs that task off
(:class:`edge.backoff.Backoff`). All timing state is monotonic; the wall clock is
only *reported* (batches and heartbeats carry it).

Recognition never waits for the network: the daemon's only call into this module
from its own thread is :meth:`SyncService.request_push` (after each recorded event),
which sets a flag and nudges the scheduler.

Delivery is at-least-once: an event leaves the outbox only after the server's
answer names it (``accepted``/``duplicate`` -> synced, ``rejected`` -> kept aside).
Anything else (no answer, a cut-off answer, a 500, a timeout, a crash of either
side) leaves it pending and it is sent again; the server's idempotent ingest
makes the stored result exactly-once.
"""

from __future__ import annotations

import logging
import random as _random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from typing import Any

import structlog
from apscheduler.schedulers.background import BackgroundScheduler

from edge import __version__
from edge.protocol import (
    MAX_STORE_ERROR,
    AttendanceEvent,
    BatchResult,
    EventBatch,
    EventStatus,
    Heartbeat,
    HeartbeatAck,
)
from edge.recognize.matcher import Matcher
from edge.store import ClockSyncStatus, EdgeStore, StoreError, read_boot_id, utc_now
from edge.sync.client import SyncClient
from edge.sync.config import SyncConfig
from edge.sync.errors import AuthError, ProtocolError, RequestRefusedError, SyncError
from edge.sync.schedule import HEARTBEAT, PULL, PUSH, TASKS, SyncSchedule, TaskStatus
from edge.sync.scheduler import SCHEDULER_LOGGER, TickExecutor, TickJobStore, TickTrigger

log = structlog.get_logger(__name__)

TICK_JOB_ID = "hadir-sync-tick"

_MAX_PAGES_PER_RUN = 1000
_MAX_ROUNDS_PER_TICK = 10_000
_CLOCK_JUMP_LOG_S = 2.0
_CLOCK_OFFSET_WARN_S = 60.0
_CAMERA_STATE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz_")


@dataclass(frozen=True, slots=True)
class HeartbeatHealth:
    """What the daemon adds to a heartbeat; the service fills in clocks, backlog, versions."""

    camera_state: str = "unknown"
    fps: float = 0.0
    recognition_latency_ms: float | None = None


HealthProvider = Callable[[], HeartbeatHealth]


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """Health of the sync jobs (for logs, ``hadir edge doctor``, an admin view)."""

    running: bool
    link_up: bool | None
    """Whether the last request got an answer; ``None`` before the first one."""
    tasks: dict[str, TaskStatus]
    events_synced: int
    events_duplicate: int
    events_rejected: int
    clock_offset_s: float | None
    """Terminal wall clock minus server clock at the last heartbeat."""
    server_enrolment_version: int | None
    merged_ticks: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "link_up": self.link_up,
            "events_synced": self.events_synced,
            "events_duplicate": self.events_duplicate,
            "events_rejected": self.events_rejected,
            "clock_offset_s": self.clock_offset_s,
            "server_enrolment_version": self.server_enrolment_version,
            "merged_ticks": self.merged_ticks,
            "tasks": {
                name: {
                    "consecutive_failures": t.consecutive_failures,
                    "last_success_at": t.last_success_at.isoformat() if t.last_success_at else None,
                    "last_success_age_s": t.last_success_age_s,
                    "next_attempt_in_s": t.next_attempt_in_s,
                    "last_error": t.last_error,
                }
                for name, t in self.tasks.items()
            },
        }


@dataclass(slots=True)
class _Counters:
    synced: int = 0
    duplicate: int = 0
    rejected: int = 0


class SyncService:
    """Push, pull and heartbeat for one terminal; :meth:`start` runs them in the background.

    The ``*_once`` methods do one run of a task and raise on failure; tests and
    the doctor call them directly. :meth:`tick` runs whatever is due, with
    backoff, and never raises; the scheduler calls it.
    """

    def __init__(
        self,
        store: EdgeStore,
        matcher: Matcher,
        client: SyncClient,
        config: SyncConfig,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utc_now,
        boot_id: str | None = None,
        clock_synced: Callable[[], bool] | None = None,
        health_provider: HealthProvider | None = None,
        random: Callable[[], float] = _random.random,
        scheduler_timezone: tzinfo = UTC,
        stop_timeout_s: float = 3.0,
    ) -> None:
        self.store = store
        self.matcher = matcher
        self.client = client
        self.config = config
        self._monotonic = monotonic
        self._now = now
        self._boot_id = boot_id if boot_id is not None else read_boot_id()
        self._clock_synced = clock_synced if clock_synced is not None else ClockSyncStatus()
        self._health_provider = health_provider or HeartbeatHealth
        self._random = random
        # APScheduler reads its clock only as datetime.now(timezone): tests hand in a
        # zone that shifts it, to jump the scheduler's wall clock without touching time.
        self._zone = scheduler_timezone
        self._stop_timeout_s = stop_timeout_s
        self._log = log.bind(device_id=store.device_id)

        self._schedule = SyncSchedule(
            {
                PUSH: config.push_interval_s,
                PULL: config.pull_interval_s,
                HEARTBEAT: config.heartbeat_interval_s,
            },
            config.backoff,
            monotonic=monotonic,
            random=random,
        )
        self._batch_size = config.batch_size
        self._counters = _Counters()
        self._clock_offset_s: float | None = None
        self._offset_warned = False
        self._server_version: int | None = None
        self._last_clocks: tuple[float, datetime] | None = None
        self._answered = False  # whether the running task got an answer from the server

        self._push_requested = threading.Event()
        self._stopping = threading.Event()
        self._tick_lock = threading.Lock()  # one tick at a time (the doctor may call one too)
        self._status_lock = threading.Lock()  # the schedule and counters, read by status()
        self._state_lock = threading.Lock()  # start and stop
        self._ticking = False
        self._scheduler: BackgroundScheduler | None = None
        self._executor: TickExecutor | None = None
        self._started = False
        self._stopped = False

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background scheduler (first tick at once). Idempotent."""
        with self._state_lock:
            if self._stopped:
                raise RuntimeError("a stopped SyncService cannot be started again")
            if self._started:
                return
            self._started = True
            logging.getLogger(SCHEDULER_LOGGER).setLevel(logging.WARNING)
            # httpx logs every request at INFO; the sync jobs log their own decisions.
            logging.getLogger("httpx").setLevel(logging.WARNING)
            self._executor = TickExecutor()
            scheduler = BackgroundScheduler(
                timezone=self._zone,
                jobstores={"default": TickJobStore()},
                executors={"default": self._executor},
                logger=logging.getLogger(SCHEDULER_LOGGER),
                daemon=True,
            )
            scheduler.add_job(
                self.tick,
                trigger=TickTrigger(self.config.tick_s),
                id=TICK_JOB_ID,
                name="hadir sync tick",
                max_instances=1,
                coalesce=True,
                # A late tick is harmless: it decides on the monotonic clock what is due.
                # APScheduler's misfire check compares wall-clock datetimes, the very clock
                # that jumps, so it could only drop ticks for the wrong reason.
                misfire_grace_time=None,
                next_run_time=datetime.now(self._zone),
            )
            scheduler.start()
            self._scheduler = scheduler
        self._log.info(
            "sync_started",
            server=self.client.base_url,
            tick_s=self.config.tick_s,
            push_interval_s=self.config.push_interval_s,
            pull_interval_s=self.config.pull_interval_s,
            heartbeat_interval_s=self.config.heartbeat_interval_s,
            batch_size=self.config.batch_size,
        )

    def stop(self) -> None:
        """Stop the jobs: let the current request finish (up to ``stop_timeout_s``). Idempotent.

        An interrupted push is harmless: its events stay pending and are sent again.
        """
        with self._state_lock:
            if self._stopped:
                return
            self._stopped = True
            scheduler, executor = self._scheduler, self._executor
        self._stopping.set()
        finished = True
        if scheduler is not None and executor is not None:
            scheduler.shutdown(wait=False)
            finished = executor.join(self._stop_timeout_s)
        if finished:
            self.client.close()
            self._log.info("sync_stopped", **self._counter_fields())
        else:
            # Its daemon thread ends with the process; the store refuses writes once closed.
            self._log.warning(
                "sync_stop_timeout", waited_s=self._stop_timeout_s, **self._counter_fields()
            )

    @property
    def running(self) -> bool:
        return self._started and not self._stopped

    def request_push(self) -> None:
        """A new event was recorded: push it now if the server is reachable. Never blocks.

        The daemon calls it on the recognition thread right after the commit, so it
        only sets a flag and nudges the scheduler.
        """
        self._push_requested.set()
        if not self.running or self._ticking or not self._schedule.link_up:
            # A running tick sees the flag before it ends; offline, backoff decides.
            return
        scheduler = self._scheduler
        if scheduler is None:
            return
        try:
            scheduler.modify_job(TICK_JOB_ID, next_run_time=datetime.now(self._zone))
        except Exception as exc:  # the recognition loop must never see a sync problem
            self._log.debug("push_nudge_failed", error=str(exc))

    # -- the tick ----------------------------------------------------------------------------

    def tick(self) -> None:
        """Run every task that is due, then keep going while a drain has more (or a new
        event asks for a push); everything else waits for the next tick. Never raises."""
        if not self._tick_lock.acquire(blocking=False):
            return
        self._ticking = True
        try:
            self._observe_clocks()
            for _ in range(_MAX_ROUNDS_PER_TICK):
                for name, run in (
                    (PUSH, self.push_once),
                    (PULL, self.pull_once),
                    (HEARTBEAT, self.heartbeat_once),
                ):
                    if self._due(name):
                        self._run(name, run)
                # Another pass only to continue a drain (or a push asked for meanwhile);
                # ordinary due-ness waits for the next tick.
                with self._status_lock:
                    again = self._schedule.again(push_requested=self._push_requested.is_set())
                if not again or self._stopping.is_set():
                    break
        finally:
            self._ticking = False
            self._tick_lock.release()

    def _due(self, name: str) -> bool:
        if self._stopping.is_set():
            return False
        with self._status_lock:
            return self._schedule.due(name, push_requested=self._push_requested.is_set())

    def _run(self, name: str, run: Callable[[], object]) -> None:
        with self._status_lock:
            self._schedule.begin(name)
        self._answered = False
        try:
            run()
        except SyncError as exc:
            self._failed(name, exc)
        except StoreError as exc:
            # An enrolment page the store refused, a full disk, a locked file: retry later.
            self._failed(name, exc)
        except Exception as exc:
            # A bug must not kill the tick for good; it is logged with its traceback.
            self._log.exception("sync_task_crashed", task=name)
            self._failed(name, exc)
        else:
            self._succeeded(name)

    def _succeeded(self, name: str) -> None:
        with self._status_lock:
            down_for = self._schedule.succeeded(name, answered=self._answered, wall=self._now())
        if down_for is not None:
            self._log.info(
                "server_link_restored",
                task=name,
                down_for_s=round(down_for, 1),
                decision="retry every waiting task now",
            )

    def _failed(self, name: str, exc: BaseException) -> None:
        with self._status_lock:
            delay = self._schedule.failed(name, exc)
            failures = self._schedule.failures(name)
        emit = self._log.error if isinstance(exc, AuthError | ProtocolError) else self._log.warning
        emit(
            "sync_failed",
            task=name,
            error=f"{type(exc).__name__}: {exc}",
            consecutive_failures=failures,
            retry_in_s=round(delay, 2),
            decision="back off",
        )

    def _observe_clocks(self) -> None:
        """Log a wall-clock step (NTP after a stale boot); timing is unaffected by it."""
        mono, wall = self._monotonic(), self._now()
        last = self._last_clocks
        self._last_clocks = (mono, wall)
        if last is None:
            return
        jump = (wall - last[1]).total_seconds() - (mono - last[0])
        if abs(jump) >= _CLOCK_JUMP_LOG_S:
            self._log.warning(
                "wall_clock_jumped",
                jump_s=round(jump, 3),
                wall_time=wall.isoformat(),
                decision="keep the monotonic schedule",
            )

    # -- push ----------------------------------------------------------------------------

    def push_once(self) -> int:
        """Push the outbox in batches while full batches come back (bounded by
        ``push_budget_s``); returns how many events left the outbox."""
        self._batch_size = self.config.batch_size
        deadline = self._monotonic() + self.config.push_budget_s
        total = 0
        batches = 0
        started = self._monotonic()
        try:
            while not self._stopping.is_set():
                if self._monotonic() >= deadline:
                    # Leave the rest for the next pass of the tick, after pull and heartbeat.
                    with self._status_lock:
                        self._schedule.more(PUSH)
                    break
                self._push_requested.clear()
                events = self.store.pending(self._batch_size)
                if not events:
                    break
                try:
                    result = self.client.push(self._batch(events))
                except RequestRefusedError as exc:
                    self._answered = True
                    total += self._refused(events, exc)
                    continue
                self._answered = True
                total += self._acknowledge(result)
                batches += 1
                if len(events) < self._batch_size and not self._push_requested.is_set():
                    break
        finally:
            # Also after a failure: what got through before it is worth a line.
            if batches:
                self._log.info(
                    "events_pushed",
                    events=total,
                    batches=batches,
                    seconds=round(self._monotonic() - started, 3),
                    backlog=self.store.backlog().count,
                )
        return total

    def _batch(self, events: list[AttendanceEvent]) -> EventBatch:
        return EventBatch(
            device_id=self.store.device_id,
            sent_wall_time=self._now(),
            sent_monotonic=max(0.0, self._monotonic()),
            boot_id=self._boot_id,
            clock_synced=bool(self._clock_synced()),
            events=events,
        )

    def _acknowledge(self, result: BatchResult) -> int:
        # A conflict (this id was sent before with other content) is kept and reported like a
        # rejection: resending the same content cannot change the answer.
        refused = (EventStatus.REJECTED, EventStatus.CONFLICT)
        synced = [r.id for r in result.results if r.status not in refused]
        rejected = [r for r in result.results if r.status in refused]
        if synced:
            self.store.mark_synced(synced)
        for item in rejected:
            reason = item.reason or item.status.value
            if item.status is EventStatus.CONFLICT:
                reason = f"conflict: {reason}"
            self.store.mark_rejected(item.id, reason)
        duplicates = sum(1 for r in result.results if r.status is EventStatus.DUPLICATE)
        with self._status_lock:
            self._counters.synced += len(synced) - duplicates
            self._counters.duplicate += duplicates
            self._counters.rejected += len(rejected)
        self._log.debug(
            "batch_acknowledged",
            accepted=len(synced) - duplicates,
            duplicate=duplicates,
            rejected=len(rejected),
        )
        if rejected:
            self._log.warning(
                "events_rejected",
                count=len(rejected),
                reasons=sorted({r.reason or "rejected" for r in rejected}),
                event_ids=[str(r.id) for r in rejected[:10]],
                decision="kept aside, not resent",
            )
        return len(result.results)

    def _refused(self, events: list[AttendanceEvent], exc: RequestRefusedError) -> int:
        """The server refused the request itself: find the events it cannot take."""
        reason = f"refused_by_server: {exc.status} {exc.reason}".strip()[:200]
        if exc.event_indexes:
            culprits = [events[i] for i in sorted(exc.event_indexes)]
        elif len(events) > 1:
            # Unattributed (or too large): halve until the culprit is alone.
            self._batch_size = max(1, len(events) // 2)
            self._log.warning(
                "batch_refused",
                status=exc.status,
                reason=exc.reason,
                events=len(events),
                decision=f"retry in batches of {self._batch_size}",
            )
            return 0
        else:
            culprits = events
        for event in culprits:
            self.store.mark_rejected(event.id, reason)
        with self._status_lock:
            self._counters.rejected += len(culprits)
        self._log.error(
            "events_refused",
            status=exc.status,
            reason=exc.reason,
            event_ids=[str(e.id) for e in culprits[:10]],
            count=len(culprits),
            decision="kept aside as rejected, not resent",
        )
        return len(culprits)

    # -- pull ----------------------------------------------------------------------------

    def pull_once(self) -> bool:
        """Fetch and apply enrolment changes page by page; swap the matcher once at the end.

        Returns whether the gallery changed. Each page is applied atomically by the
        store; a malformed or inconsistent page raises and changes nothing (pages
        applied before it stay applied, and the gallery follows them).
        """
        changed = False
        pages = 0
        try:
            for pages in range(1, _MAX_PAGES_PER_RUN + 1):  # noqa: B007
                since = self.store.enrolment_version()
                page = self.client.changes(since)
                self._answered = True
                if page.more and not page.reset and page.version <= since and not page.changes:
                    raise ProtocolError(
                        f"the enrolment feed does not advance: since={since} "
                        f"version={page.version} more=true"
                    )
                applied = self.store.apply_enrolment(page)
                changed = changed or applied.changed
                if applied.changed or applied.reset:
                    self._log.info(
                        "enrolment_page_applied",
                        since=applied.since,
                        version=applied.version,
                        upserted=applied.upserted,
                        deleted=applied.deleted,
                        reset=applied.reset,
                        more=page.more,
                    )
                if not page.more or self._stopping.is_set():
                    break
            else:
                with self._status_lock:
                    self._schedule.more(PULL)
        finally:
            if changed:
                gallery = self.store.load_gallery()
                self.matcher.swap(gallery)
                self._log.info(
                    "gallery_swapped",
                    people=len(gallery.person_ids),
                    templates=len(gallery),
                    version=self.store.enrolment_version(),
                    pages=pages,
                )
        return changed

    # -- heartbeat -------------------------------------------------------------------------

    def heartbeat_once(self) -> HeartbeatAck:
        ack = self.client.heartbeat(self._heartbeat())
        self._answered = True
        local_version = self.store.enrolment_version()
        with self._status_lock:
            self._clock_offset_s = ack.clock_offset_s
            self._server_version = ack.enrolment_version
            if ack.enrolment_version > local_version:
                self._schedule.run_now(PULL)
        if ack.enrolment_version > local_version:
            self._log.info(
                "enrolment_behind",
                local_version=local_version,
                server_version=ack.enrolment_version,
                decision="pull now",
            )
        large = abs(ack.clock_offset_s) >= _CLOCK_OFFSET_WARN_S
        if large != self._offset_warned:
            self._offset_warned = large
            emit = self._log.warning if large else self._log.info
            emit(
                "clock_offset_large" if large else "clock_offset_ok",
                clock_offset_s=round(ack.clock_offset_s, 3),
                clock_synced=bool(self._clock_synced()),
            )
        self._log.debug("heartbeat_sent", clock_offset_s=round(ack.clock_offset_s, 3))
        return ack

    def _heartbeat(self) -> Heartbeat:
        backlog = self.store.backlog()
        health = self._health()
        # The store's own account of its writes, not the daemon's: the sync jobs write too.
        store = self.store.health()
        return Heartbeat(
            device_id=self.store.device_id,
            wall_time=self._now(),
            monotonic=max(0.0, self._monotonic()),
            boot_id=self._boot_id,
            clock_synced=bool(self._clock_synced()),
            software_version=__version__,
            enrolment_version=self.store.enrolment_version(),
            backlog=backlog.count,
            backlog_oldest_age_s=backlog.oldest_age_s,
            camera_state=health.camera_state,
            fps=health.fps,
            recognition_latency_ms=health.recognition_latency_ms,
            store_state="ok" if store.ok else "error",
            store_errors=min(store.errors, 2**31 - 1),  # the field's bound
            store_last_error=None
            if store.last_error is None
            else store.last_error[:MAX_STORE_ERROR],
        )

    def _health(self) -> HeartbeatHealth:
        try:
            health = self._health_provider()
        except Exception as exc:
            self._log.warning("health_provider_failed", error=f"{type(exc).__name__}: {exc}")
            return HeartbeatHealth()
        return _sane(health)

    # -- status ----------------------------------------------------------------------------

    def status(self) -> SyncStatus:
        with self._status_lock:
            return SyncStatus(
                running=self.running,
                link_up=self._schedule.link_up,
                tasks=self._schedule.status(),
                events_synced=self._counters.synced,
                events_duplicate=self._counters.duplicate,
                events_rejected=self._counters.rejected,
                clock_offset_s=self._clock_offset_s,
                server_enrolment_version=self._server_version,
                merged_ticks=self._executor.merged if self._executor is not None else 0,
            )

    def _counter_fields(self) -> dict[str, int]:
        c = self._counters
        return {"synced": c.synced, "duplicate": c.duplicate, "rejected": c.rejected}

    def __repr__(self) -> str:
        state = "running" if self.running else ("stopped" if self._stopped else "idle")
        return f"<SyncService {self.store.device_id} -> {self.client.base_url} {state}>"


def _sane(health: HeartbeatHealth) -> HeartbeatHealth:
    """Clamp what the daemon reports into the heartbeat's limits: a bad reading of the
    camera must not cost the heartbeat (and with it the server's clock reference)."""
    state = str(health.camera_state).strip().lower().replace("-", "_").replace(" ", "_")
    if not state or not state[0].isalpha() or not set(state) <= _CAMERA_STATE_CHARS:
        state = "unknown"
    fps = health.fps if isinstance(health.fps, int | float) and health.fps == health.fps else 0.0
    latency = health.recognition_latency_ms
    if latency is not None and not (latency == latency and 0 <= latency < float("inf")):
        latency = None
    return replace(
        health,
        camera_state=state[:32],
        fps=min(max(float(fps), 0.0), 1000.0),
        recognition_latency_ms=latency,
    )


__all__ = [
    "HEARTBEAT",
    "PULL",
    "PUSH",
    "TASKS",
    "TICK_JOB_ID",
    "HealthProvider",
    "HeartbeatHealth",
    "SyncService",
    "SyncStatus",
    "TaskStatus",
]
