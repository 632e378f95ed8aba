"""The grabber thread: keeps the newest frame, reopens a lost camera, reports health.

Recognition must never work on a stale frame: a camera delivers at its own rate
and whatever the consumer was too slow for is replaced (``frames_dropped``).
A replay at ``pace = "fast"`` is the exception: there the grabber waits for the
consumer to take each frame (backpressure), so a benchmark or test sees every
frame of the file, in order, deterministically.

States (one log line per change, never per frame)::

    starting --first frame--> ok --read/open fails--> reconnecting --frame--> ok
        reconnecting --max_failures reached, or permanent error--> failed
        ok --replay without loop is over--> ended
        ok --identical frames for frozen_after_s--> frozen --a changed frame--> ok
        ok --flat frames (black, one colour) for blank_after_s--> blank --a picture--> ok
        any --stop()--> stopped

Frozen and blank streams still deliver frames (see :mod:`edge.capture.content`); the
consumer gets them as usual and decides what the state means (the daemon stops its
watchdog pings while frozen).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from enum import StrEnum
from types import TracebackType
from typing import Any, Self

import structlog

from edge.backoff import Backoff
from edge.capture.config import ContentCheckConfig, ReconnectConfig
from edge.capture.content import ContentMonitor, ContentReading, ContentVerdict
from edge.capture.errors import EndOfStreamError
from edge.capture.frame import Frame
from edge.capture.source import Clock, FrameSource

log = structlog.get_logger(__name__)

FPS_SMOOTHING = 0.1
"""Weight of the newest frame interval in the fps moving average."""


class CaptureState(StrEnum):
    STARTING = "starting"
    OK = "ok"
    RECONNECTING = "reconnecting"
    FAILED = "failed"
    ENDED = "ended"
    STOPPED = "stopped"
    FROZEN = "frozen"
    BLANK = "blank"


_FINAL = frozenset({CaptureState.FAILED, CaptureState.ENDED, CaptureState.STOPPED})
# The source delivers frames in these; the content check moves between them.
_DELIVERING = frozenset({CaptureState.OK, CaptureState.FROZEN, CaptureState.BLANK})
_BY_VERDICT = {
    ContentVerdict.OK: CaptureState.OK,
    ContentVerdict.FROZEN: CaptureState.FROZEN,
    ContentVerdict.BLANK: CaptureState.BLANK,
}


@dataclass(frozen=True, slots=True)
class CaptureHealth:
    """A snapshot of the capture pipeline, for health checks, heartbeats and logs."""

    state: CaptureState
    source: str
    frames_total: int
    """Frames read from the source since start."""
    frames_delivered: int
    """Frames handed to the consumer by :meth:`FrameGrabber.latest`."""
    frames_dropped: int
    """Frames replaced by a newer one before the consumer took them."""
    fps: float | None
    """Capture rate, exponentially weighted; None until two frames arrived."""
    last_frame_age: float | None
    """Seconds since the newest frame was captured; None before the first."""
    consecutive_failures: int
    reconnects: int
    """Times the source came back after a loss."""
    last_error: str | None
    state_age: float
    """Seconds spent in the current state."""
    picture_std: float | None = None
    """Spread of the newest frame's grey levels (edge.capture.content); near 0 is blank."""
    unchanged_s: float | None = None
    """Seconds the picture has not changed at all; grows without bound when frozen."""

    @property
    def healthy(self) -> bool:
        return self.state is CaptureState.OK

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (for the heartbeat and ``hadir diagnose``)."""
        data = asdict(self)
        data["state"] = str(self.state)
        return data


class FrameGrabber:
    """Runs ``source`` on a thread and hands the consumer the newest frame.

    ``latest()`` returns each frame at most once. ``stop_event`` may be shared
    with the daemon (SIGTERM sets it); ``sleep`` waits between reconnect attempts
    (default: waiting on the stop event, so stop() interrupts it) and is replaced
    in tests to record delays without waiting. ``monotonic`` drives fps, ages and
    state times.
    """

    def __init__(
        self,
        source: FrameSource,
        reconnect: ReconnectConfig | None = None,
        *,
        drop_stale: bool | None = None,
        stop_event: threading.Event | None = None,
        monotonic: Clock = time.monotonic,
        sleep: Callable[[float], object] | None = None,
        random: Callable[[], float] = random.random,
        on_state_change: Callable[[CaptureHealth], None] | None = None,
        name: str = "hadir-capture",
        content: ContentCheckConfig | None = None,
    ) -> None:
        self.source = source
        self.reconnect = reconnect or ReconnectConfig()
        self._content = ContentMonitor(content)
        self.drop_stale = source.paced if drop_stale is None else drop_stale
        self._stop = stop_event or threading.Event()
        self._monotonic = monotonic
        self._sleep = sleep or self._stop.wait
        self._backoff = Backoff(self.reconnect, random=random)
        self._on_state_change = on_state_change
        self._name = name
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stop_called = False
        self._slot: Frame | None = None
        # Everything below is guarded by _cond.
        self._state = CaptureState.STARTING
        self._state_since = monotonic()
        self._frames_total = 0
        self._frames_delivered = 0
        self._frames_dropped = 0
        self._interval: float | None = None
        self._last_frame_at: float | None = None
        self._failures = 0
        self._reconnects = 0
        self._ever_ok = False
        self._last_error: str | None = None
        self._reading: ContentReading | None = None

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> Self:
        """Start the thread. Starting a started grabber does nothing; a stopped one refuses.

        When the shared stop event is already set (SIGTERM during the daemon's start-up)
        there is nothing to start: no thread, and ``latest()`` answers None at once.
        """
        if self._stop_called:
            raise RuntimeError("a stopped FrameGrabber cannot be restarted; make a new one")
        if self._thread is not None:
            return self
        if self._stop.is_set():
            log.info("capture_not_started", source=self.source.description, reason="stopping")
            return self
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the thread and close the source; True if it ended within ``timeout``.

        A read already blocked inside the camera driver cannot be interrupted; the
        source's own timeouts bound it, and a False return says it did not end.
        """
        self._stop_called = True
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        thread = self._thread
        if thread is None:
            self._set_state(CaptureState.STOPPED)
            self.source.close()
            return True
        thread.join(timeout)
        if thread.is_alive():
            log.warning("capture_stop_timeout", source=self.source.description, timeout=timeout)
            return False
        return True

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- consumer side -------------------------------------------------------
    @property
    def state(self) -> CaptureState:
        return self._state

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def latest(self, timeout: float | None = None) -> Frame | None:
        """The newest frame not yet returned, waiting up to ``timeout`` seconds for one.

        None when nothing arrived in time, or capture has ended, failed or stopped
        and every frame has been taken.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._slot is None:
                if self._state in _FINAL or self._stop.is_set():
                    return None
                if deadline is None:
                    self._cond.wait()
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    self._cond.wait(remaining)
            frame, self._slot = self._slot, None
            self._frames_delivered += 1
            self._cond.notify_all()
            return frame

    def __iter__(self) -> Iterator[Frame]:
        """Every frame ``latest()`` gives, until capture ends, fails or stops."""
        while True:
            frame = self.latest()
            if frame is None:
                return
            yield frame

    def health(self) -> CaptureHealth:
        with self._cond:
            now = self._monotonic()
            age = None if self._last_frame_at is None else max(0.0, now - self._last_frame_at)
            return CaptureHealth(
                state=self._state,
                source=self.source.description,
                frames_total=self._frames_total,
                frames_delivered=self._frames_delivered,
                frames_dropped=self._frames_dropped,
                fps=None if not self._interval else 1.0 / self._interval,
                last_frame_age=age,
                consecutive_failures=self._failures,
                reconnects=self._reconnects,
                last_error=self._last_error,
                state_age=max(0.0, now - self._state_since),
                picture_std=None if self._reading is None else round(self._reading.std, 2),
                unchanged_s=None if self._reading is None else round(self._reading.unchanged_s, 3),
            )

    def __repr__(self) -> str:
        return (
            f"<FrameGrabber {self.source.description} state={self._state} "
            f"frames={self._frames_total} dropped={self._frames_dropped}>"
        )

    # -- grabber thread ------------------------------------------------------
    def _run(self) -> None:
        log.debug("capture_thread_started", source=self.source.description)
        try:
            while not self._stop.is_set():
                if not self.source.is_open:
                    try:
                        self.source.open()
                    except Exception as exc:
                        if not self._handle_failure(exc):
                            return
                        continue
                try:
                    frame = self.source.read()
                except EndOfStreamError:
                    self._set_state(CaptureState.ENDED)
                    return
                except Exception as exc:
                    self._close_source()
                    if not self._handle_failure(exc):
                        return
                    continue
                self._publish(frame)
        finally:
            self._close_source()
            self._set_state(CaptureState.STOPPED, only_from_live=True)
            with self._cond:
                self._cond.notify_all()
            log.info(
                "capture_stopped",
                source=self.source.description,
                state=str(self._state),
                frames_total=self._frames_total,
                frames_dropped=self._frames_dropped,
            )

    def _close_source(self) -> None:
        try:
            self.source.close()
        except Exception as exc:
            log.warning("camera_close_error", source=self.source.description, error=str(exc))

    def _handle_failure(self, exc: BaseException) -> bool:
        """Count a failure, then wait out the backoff; False when capture has failed for good."""
        cfg = self.reconnect
        with self._cond:
            self._failures += 1
            self._last_error = f"{type(exc).__name__}: {exc}"
            failures = self._failures
        permanent = bool(getattr(exc, "permanent", False))
        if permanent or (cfg.max_failures and failures >= cfg.max_failures):
            self._set_state(
                CaptureState.FAILED,
                error=self._last_error,
                failures=failures,
                permanent=permanent,
            )
            return False
        delay = self._backoff.next_delay()
        if self._state is CaptureState.RECONNECTING:
            log.debug(
                "camera_retry",
                source=self.source.description,
                failures=failures,
                retry_in=round(delay, 3),
                error=self._last_error,
            )
        else:
            self._set_state(
                CaptureState.RECONNECTING,
                error=self._last_error,
                retry_in=round(delay, 3),
                # Our own errors explain themselves; anything else is a bug worth a trace.
                exc_info=False if isinstance(exc, OSError | EOFError) else exc,
            )
        self._sleep(delay)
        return not self._stop.is_set()

    def _publish(self, frame: Frame) -> None:
        now = self._monotonic()
        if self._state not in _DELIVERING:
            # A camera that was never up has not "reconnected" when it first comes up.
            recovered = self._state is CaptureState.RECONNECTING and self._ever_ok
            self._ever_ok = True
            with self._cond:
                self._failures = 0
                if recovered:
                    self._reconnects += 1
                # The outage must not pull the fps average down.
                self._interval = None
                self._last_frame_at = None
            self._backoff.reset()
            # A reopened camera is a new stream: it gets the full time before "frozen".
            self._content.reset()
            self._set_state(CaptureState.OK)
        self._check_content(frame, now)
        with self._cond:
            self._frames_total += 1
            if self._last_frame_at is not None:
                dt = now - self._last_frame_at
                if dt > 0:
                    self._interval = (
                        dt
                        if self._interval is None
                        else self._interval + FPS_SMOOTHING * (dt - self._interval)
                    )
            self._last_frame_at = now
            if self.drop_stale:
                if self._slot is not None:
                    self._frames_dropped += 1
            else:
                while self._slot is not None and not self._stop.is_set():
                    self._cond.wait()
                if self._stop.is_set():
                    return
            self._slot = frame
            self._cond.notify_all()

    def _check_content(self, frame: Frame, now: float) -> None:
        reading = self._content.observe(frame.image, now)
        with self._cond:
            self._reading = reading
        state = _BY_VERDICT[reading.verdict]
        if state is not self._state:
            self._set_state(
                state,
                picture_std=round(reading.std, 2),
                unchanged_s=round(reading.unchanged_s, 3),
                flat_s=round(reading.flat_s, 3),
            )

    def _set_state(
        self, state: CaptureState, *, only_from_live: bool = False, **fields: Any
    ) -> None:
        with self._cond:
            previous = self._state
            if previous is state or (only_from_live and previous in _FINAL):
                return
            self._state = state
            self._state_since = self._monotonic()
            self._cond.notify_all()
        level = {
            CaptureState.RECONNECTING: log.warning,
            CaptureState.FROZEN: log.warning,
            CaptureState.BLANK: log.warning,
            CaptureState.FAILED: log.error,
        }.get(state, log.info)
        level(
            "capture_state",
            state=str(state),
            previous=str(previous),
            source=self.source.description,
            **fields,
        )
        if self._on_state_change is not None:
            try:
                self._on_state_change(self.health())
            except Exception:
                log.exception("capture_state_callback_error", source=self.source.description)
