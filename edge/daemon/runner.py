"""The composition root of the terminal: config in, a running attendance daemon out.

Wires store -> matcher -> recognition loop -> feedback around the capture
grabber, and drives them from one main loop on the main thread:

    frame = grabber.latest()  ->  loop.process(frame)  ->  store.record()  ->  feedback

Feedback always follows the store's answer, after the commit returned: a beep
means "saved". A recognised face that the liveness check takes for a photo or a
screen is, in ``refuse`` mode, never recorded and gets the refused signal; in
``flag`` mode it is recorded with its evidence (docs/liveness.md).

Recognition never waits on the network; sync jobs (edge.sync) run on their own
threads and only touch the store and ``matcher.swap``.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import TypeAdapter, ValidationError

from edge import __version__
from edge.capture import CaptureState, FrameGrabber, FrameSource, create_source
from edge.config import EdgeConfig
from edge.daemon.notify import SystemdNotifier, Watchdog
from edge.daemon.signals import SignalRequests, StartupCancelledError, install_signal_handlers
from edge.feedback import Feedback, Signal, create_feedback
from edge.protocol import MAX_LIVENESS_REASONS, LivenessEvidence, LivenessReason
from edge.recognize.liveness import LivenessMode, LivenessVerdict
from edge.recognize.loop import Decision, RecognitionLoop, Verdict
from edge.recognize.matcher import Matcher
from edge.recognize.scanner import start_scan_worker
from edge.recognize.timing import StageTimings
from edge.store import EdgeStore, RecordResult, StoreError
from edge.wording import plural

if TYPE_CHECKING:
    from edge.sync import SyncService

log = structlog.get_logger(__name__)

EXIT_OK = 0
EXIT_CAMERA_FAILED = 3
EXIT_STORE_FAILED = 4
STORE_PROBE_EVERY_S = 10.0
"""While writes fail, the daemon tries one small write this often (docs/store.md, "Health")."""

DECISIONS_KEPT = 256
"""Recent decisions kept for tests and the demo; a terminal runs for months."""

_reason_adapter: TypeAdapter[str] = TypeAdapter(LivenessReason)


@dataclass(slots=True)
class DaemonCounters:
    recorded: int = 0
    already_recorded: int = 0
    unknown: int = 0
    refused: int = 0
    """Recognised faces the liveness check refused (mode ``refuse``): nothing recorded."""
    store_errors: int = 0
    frames: int = 0
    decisions: deque[Decision] = field(default_factory=lambda: deque(maxlen=DECISIONS_KEPT))
    """The newest :data:`DECISIONS_KEPT` decisions, oldest first; the counts above are totals."""


RecordedListener = Callable[[RecordResult], None]


class EdgeDaemon:
    """One terminal: build with :meth:`from_config`, then :meth:`run` until stopped.

    Every collaborator can be injected (tests pass a replay source, a MockFactory
    feedback, an in-memory store); otherwise they are built from ``config``.
    """

    def __init__(
        self,
        config: EdgeConfig,
        *,
        store: EdgeStore,
        source: FrameSource,
        feedback: Feedback,
        notifier: SystemdNotifier | None = None,
        stop_event: threading.Event | None = None,
        signals: SignalRequests | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.store = store
        self.feedback = feedback
        self.notifier = notifier or SystemdNotifier()
        self.stop_event = stop_event or (signals.stop_event if signals else threading.Event())
        self.signals = signals
        self._monotonic = monotonic
        self.timings = StageTimings()
        self._startup_step("load_gallery")
        with self.timings.stage("load_gallery"):
            self.matcher = Matcher(store.load_gallery())
        self._startup_step("load_models")
        with self.timings.stage("load_models"):
            # An unpaced source (a fast replay: tests, the demo, the arm64 check) is read one
            # frame at a time as fast as the loop goes: a worker's answer would come an
            # arbitrary number of frames later, so the outcome would depend on the machine's
            # load. Such a replay scans in the loop's process; a camera gets the worker.
            scanner = start_scan_worker(config.recognition) if source.paced else None
            try:
                self.loop = RecognitionLoop(
                    config.recognition, self.matcher, timings=self.timings, scanner=scanner
                )
            except BaseException:
                if scanner is not None:
                    scanner.close()  # the models did not load: the daemon exits
                raise
        self.grabber = FrameGrabber(
            source,
            config.capture.reconnect,
            stop_event=self.stop_event,
            monotonic=monotonic,
            content=config.capture.content,
        )
        self.watchdog = Watchdog(
            self.notifier, stall_after=config.daemon.stall_after_s, monotonic=monotonic
        )
        self.counters = DaemonCounters()
        self.recorded_listeners: list[RecordedListener] = []
        self.sync: SyncService | None = None
        self._last_status = 0.0
        self._store_ok = True
        self._store_probed = 0.0
        self.store_probe_every_s = STORE_PROBE_EVERY_S
        self._closed = False

    @classmethod
    def from_config(cls, config: EdgeConfig, **overrides: Any) -> EdgeDaemon:
        """Build every part from the config; keyword arguments replace parts.

        Raises :class:`StartupCancelledError` when the stop event (``stop_event=`` or
        ``signals=``) is set before it is done; what was built is closed again.
        """
        signals: SignalRequests | None = overrides.get("signals")
        stop_event: threading.Event | None = overrides.get("stop_event") or (
            signals.stop_event if signals else None
        )
        if stop_event is not None and stop_event.is_set():
            raise StartupCancelledError("stopped before the store was opened")
        store = overrides.pop("store", None) or EdgeStore.open(
            config.store.resolve_path(config.data_dir),
            config.store,
            device_id=config.device.id,
            timezone=config.device.timezone,
            # One daemon per store: a second one would record and heartbeat as this terminal.
            exclusive=True,
        )
        source = overrides.pop("source", None) or create_source(config.capture.camera)
        feedback = overrides.pop("feedback", None) or create_feedback(config.feedback)
        sync_transport = overrides.pop("sync_transport", None)
        try:
            daemon = cls(config, store=store, source=source, feedback=feedback, **overrides)
            daemon.enable_sync(transport=sync_transport)
        except BaseException:
            # A failed or cancelled start must not leave the store (and its lock) open.
            source.close()
            feedback.close()
            store.close()
            raise
        return daemon

    def enable_sync(self, *, transport: Any = None) -> SyncService | None:
        """Attach the push/pull/heartbeat jobs (started by :meth:`run` after READY)."""
        from edge.sync import attach_sync, heartbeat_health

        self.sync = attach_sync(
            self.store,
            self.matcher,
            self.config.sync,
            health=lambda: heartbeat_health(self.grabber.health(), self.timings.snapshot()),
            transport=transport,
        )
        return self.sync

    # -- lifecycle -----------------------------------------------------------------------------

    def install_signal_handlers(self) -> SignalRequests:
        """Stop signals set the stop event, SIGUSR1 asks for a status line (edge.daemon.signals).

        ``hadir edge run`` installs them before building the daemon instead, so that
        start-up is covered too.
        """
        self.signals = install_signal_handlers(self.signals or SignalRequests(self.stop_event))
        return self.signals

    def _startup_step(self, step: str) -> None:
        if self.stop_event.is_set():
            raise StartupCancelledError(f"stopped during start-up, before {step}")

    def run(self, *, max_frames: int | None = None, drain_on_end_s: float = 0.0) -> int:
        """Process frames until stopped, the replay ends, or the camera fails for good.

        ``drain_on_end_s``: when a replayed clip ends, wait up to this long for the
        outbox to reach the server before stopping (the demo; a camera never ends).
        """
        code = EXIT_OK
        try:
            if self._start():
                gallery = self.matcher.gallery
                self.notifier.ready(
                    f"ready: {plural(len(gallery.person_ids), 'person')}, "
                    f"{plural(len(gallery), 'template')}"
                )
                log.info(
                    "daemon_ready",
                    device_id=self.config.device.id,
                    version=__version__,
                    people=len(gallery.person_ids),
                    templates=len(gallery),
                )
            while not self.stop_event.is_set():
                self._serve_signals()
                if self._store_failed_for_good():
                    code = EXIT_STORE_FAILED
                    break
                frame = self.grabber.latest(timeout=0.5)
                if frame is None:
                    self.watchdog.beat(frames_flowing=False)
                    state = self.grabber.state
                    if state is CaptureState.ENDED:
                        break
                    if state is CaptureState.FAILED:
                        self.feedback.signal(Signal.ERROR)
                        log.error("camera_failed", **self.grabber.health().as_dict())
                        code = EXIT_CAMERA_FAILED
                        break
                    continue
                self.counters.frames += 1
                for decision in self.loop.process(frame):
                    self._act(decision)
                # Identical frames are no frames: a frozen camera gets the service restarted
                # like a stalled one. A blank one keeps the pings: a restart cannot uncover a
                # lens or light a room, and the state is in STATUS, heartbeat and logs.
                self.watchdog.beat(frames_flowing=self.grabber.state is not CaptureState.FROZEN)
                self._maybe_status()
                if max_frames is not None and self.counters.frames >= max_frames:
                    break
            if drain_on_end_s > 0 and code == EXIT_OK and not self.stop_event.is_set():
                self._drain(drain_on_end_s)
        finally:
            self.notifier.stopping("stopping")
            self.close()
        stopped_by = self.signals.stopped_by if self.signals is not None else None
        if code == EXIT_OK and self.signals is not None:
            code = self.signals.exit_code
        store = self.store.health()
        if code == EXIT_OK and not store.ok:
            # Stopped while it could not save: "success" would hide that from systemd.
            log.error("stopped_unable_to_save", errors=store.errors, last_error=store.last_error)
            code = EXIT_STORE_FAILED
        log.info(
            "daemon_stopped",
            exit_code=code,
            signal=stopped_by.name if stopped_by is not None else None,
            **self.stats(),
        )
        return code

    def _start(self) -> bool:
        """First pull, sync jobs, camera; each only while no stop was requested.

        False when a stop came first: the caller goes straight to :meth:`close`.
        """
        if self.sync is not None:
            self._first_pull()
            if self.stop_event.is_set():
                return False
            self.sync.start()
        if self.stop_event.is_set():
            return False
        # Opening the camera happens on the grabber thread: a slow or hung open cannot
        # hold up a stop (close() gives it capture_stop_timeout_s).
        self.grabber.start()
        return True

    def _first_pull(self) -> None:
        """A terminal with an empty mirror (first boot) tries one pull before READY, so it
        recognises people from its first frame; offline it starts anyway.

        The pull runs on its own thread so that a stop is honoured at once even while
        the request waits out ``sync.timeout_s`` on a server that accepted the connection
        and says nothing. An abandoned pull is a daemon thread: it ends with the process,
        and the store refuses its writes once closed.
        """
        from edge.sync import SyncError

        sync = self.sync
        assert sync is not None
        if len(self.matcher.gallery):
            return
        done = threading.Event()

        def pull() -> None:
            try:
                sync.pull_once()
            except SyncError as exc:
                log.warning("first_pull_failed", error=str(exc))
            except Exception as exc:  # e.g. the store closed under an abandoned pull
                if not self.stop_event.is_set():
                    log.exception("first_pull_failed", error=str(exc))
            finally:
                done.set()

        threading.Thread(target=pull, name="hadir-first-pull", daemon=True).start()
        while not done.wait(0.1):
            self._serve_signals()
            if self.stop_event.is_set():
                log.info("first_pull_abandoned", reason="stop requested")
                return

    def _serve_signals(self) -> None:
        """Act on what signal handlers only noted (SIGUSR1: a status line)."""
        if self.signals is not None and self.signals.take_status_request():
            self.log_status()

    def log_status(self) -> None:
        """One ``daemon_status`` line with the counters, camera, gallery and sync state."""
        gallery = self.matcher.gallery
        fields: dict[str, Any] = {
            "device_id": self.config.device.id,
            "version": __version__,
            "people": len(gallery.person_ids),
            "templates": len(gallery),
            "camera": self.grabber.health().as_dict(),
            "store": self._store_text(),
            **self.stats(),
        }
        idle = self.loop.stats().get("idle")
        if idle is not None:
            fields["idle"] = idle  # how often the detector rested, and why it woke
        if self.sync is not None:
            fields["sync"] = self.sync.status().as_dict()
        log.info("daemon_status", **fields)

    def _drain(self, timeout_s: float) -> None:
        deadline = self._monotonic() + timeout_s
        while self.sync is not None and self.store.backlog().count:
            if self._monotonic() > deadline:
                log.warning("drain_timeout", backlog=self.store.backlog().count)
                return
            self.sync.request_push()
            self.stop_event.wait(0.2)

    def close(self) -> None:
        """Stop capture, turn feedback off, close the store. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.stop_event.set()
        self.grabber.stop(timeout=self.config.daemon.capture_stop_timeout_s)
        if self.sync is not None:
            # Before the store closes: a push in flight finishes its transaction first.
            self.sync.stop()
        self.loop.close()
        self.feedback.close()
        self.store.close()

    # -- decisions -------------------------------------------------------------------------------

    def _act(self, decision: Decision) -> None:
        self.counters.decisions.append(decision)
        if decision.verdict is Verdict.UNKNOWN:
            self.counters.unknown += 1
            if not decision.departed:
                # A face decided after it left has nobody to tell: a red light and a long
                # beep then would only startle the next person walking up.
                self.feedback.signal(Signal.UNKNOWN)
            return
        assert decision.person_id is not None
        mode = self.config.recognition.liveness.mode
        verdict = decision.liveness if mode is not LivenessMode.OFF else None
        if verdict is not None and not verdict.live and mode is LivenessMode.REFUSE:
            self._refuse(decision, verdict)
            return
        evidence = liveness_evidence(verdict) if verdict is not None else None
        try:
            with self.timings.stage("store"):
                result = self.store.record(
                    decision.person_id,
                    distance=decision.match.distance,
                    margin=decision.match.margin,
                    liveness=evidence,
                )
        except StoreError as exc:
            # The person must not walk away believing they were recorded.
            self.counters.store_errors += 1
            self.feedback.signal(Signal.ERROR)
            log.error(
                "record_failed",
                track_id=decision.track_id,
                person_id=decision.person_id,
                error=str(exc),
            )
            return
        if result.recorded:
            self.counters.recorded += 1
            self.feedback.signal(Signal.ACCEPTED)
        else:
            self.counters.already_recorded += 1
            self.feedback.signal(Signal.ALREADY_RECORDED)
        log.info(
            "attendance",
            outcome=result.outcome.value,
            track_id=decision.track_id,
            person_id=decision.person_id,
            event_id=str(result.event.id),
            kind=result.event.kind.value,
            distance=round(decision.match.distance, 3),
        )
        if verdict is not None and not verdict.live and result.recorded:
            # Recorded, so the person got the accepted signal; the server lists the event as
            # "needs review". A repeat wrote nothing: the earlier event stands as it was.
            log.warning(
                "liveness_flagged",
                **_verdict_fields(decision, verdict),
                event_id=str(result.event.id),
            )
        if self.sync is not None:
            self.sync.request_push()  # never blocks: a flag and a nudge
        for listener in self.recorded_listeners:
            listener(result)

    def _refuse(self, decision: Decision, verdict: LivenessVerdict) -> None:
        """A photo or a screen showing someone enrolled: no event, the refused signal."""
        self.counters.refused += 1
        self.feedback.signal(Signal.REFUSED)
        log.warning("presentation_attack_refused", **_verdict_fields(decision, verdict))

    def _maybe_status(self, *, now: bool = False) -> None:
        at = self._monotonic()
        if not now and at - self._last_status < 5.0:
            return
        self._last_status = at
        health = self.grabber.health()
        self.notifier.status(
            f"fps={health.fps or 0:.1f} frames={self.counters.frames} "
            f"recorded={self.counters.recorded} unknown={self.counters.unknown} "
            f"refused={self.counters.refused} "
            f"camera={health.state.value} {self._store_text()}"
        )

    def _store_text(self) -> str:
        store = self.store.health()
        if store.ok:
            return f"store=ok store_errors={store.errors}"
        return f"store=FAILING store_errors={store.errors} last_error={store.last_error}"

    def _store_failed_for_good(self) -> bool:
        """Say at once when the store stops (or resumes) saving; while it fails, retry one
        small write every few seconds; True once it has failed for ``exit_after_failing_s``."""
        health = self.store.health()
        if health.ok != self._store_ok:
            self._store_ok = health.ok
            self._store_probed = self._monotonic()
            self._maybe_status(now=True)
        if health.ok:
            return False
        at = self._monotonic()
        if at - self._store_probed >= self.store_probe_every_s:
            self._store_probed = at
            # Nobody may walk past for hours: without a write of its own the daemon could
            # neither see the disk come back nor be sure it is still failing.
            with contextlib.suppress(StoreError):  # counted in the store's health
                self.store.probe_write()
            health = self.store.health()
            if health.ok:
                return False
        limit = self.config.store.exit_after_failing_s
        if limit <= 0 or health.failing_for_s is None or health.failing_for_s < limit:
            return False
        log.error(
            "store_failed",
            failing_for_s=round(health.failing_for_s, 1),
            errors=health.errors,
            last_error=health.last_error,
            decision=f"exit {EXIT_STORE_FAILED}: systemd restarts the daemon",
        )
        return True

    def stats(self) -> dict[str, Any]:
        return {
            "frames": self.counters.frames,
            "recorded": self.counters.recorded,
            "already_recorded": self.counters.already_recorded,
            "unknown": self.counters.unknown,
            "refused": self.counters.refused,
            "store_errors": self.counters.store_errors,
        }

    def __repr__(self) -> str:
        return f"<EdgeDaemon device={self.config.device.id} {self.matcher!r}>"


def liveness_evidence(verdict: LivenessVerdict) -> LivenessEvidence:
    """The wire form of a verdict, as stored with the event and sent to the server.

    Kept within the wire bounds: an odd value from the detector (a score a hair outside
    0..1, a ninth reason, a name the protocol does not allow) must cost that value, never
    the punch, and never stop the main loop.
    """
    score = verdict.score if math.isfinite(verdict.score) else 0.0
    reasons: list[str] = []
    for reason in verdict.reasons:
        with contextlib.suppress(ValidationError):
            reasons.append(_reason_adapter.validate_python(reason))
    return LivenessEvidence(
        score=min(max(float(score), 0.0), 1.0),
        passed=bool(verdict.live),
        reasons=reasons[:MAX_LIVENESS_REASONS],
    )


def _verdict_fields(decision: Decision, verdict: LivenessVerdict) -> dict[str, Any]:
    """The log fields of a liveness verdict on a recognised face (refused or flagged)."""
    return {
        "track_id": decision.track_id,
        "claimed_person_id": decision.person_id,
        "score": round(verdict.score, 3),
        "reason": verdict.reason,
        "distance": round(decision.match.distance, 3),
    }
