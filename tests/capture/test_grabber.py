"""The grabber: newest-frame slot, backpressure, reconnect with backoff, health, stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import structlog

from edge.backoff import Backoff
from edge.capture.config import ReconnectConfig
from edge.capture.errors import CameraOpenError, CameraReadError, SourceNotFoundError
from edge.capture.grabber import CaptureHealth, CaptureState, FrameGrabber
from tests.capture.conftest import ScriptedSource
from tests.support.clock import FakeClock
from tests.support.wait import wait_until

NO_JITTER = ReconnectConfig(
    initial_delay=0.5, max_delay=4.0, multiplier=2.0, jitter=0.0, max_failures=0
)


class StateRecorder:
    def __init__(self) -> None:
        self.states: list[CaptureState] = []

    def __call__(self, health: CaptureHealth) -> None:
        self.states.append(health.state)


class DelayRecorder:
    """Stands in for the backoff sleep: records each delay, returns at once."""

    def __init__(self, then: Callable[[int], None] | None = None) -> None:
        self.delays: list[float] = []
        self._then = then

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self._then is not None:
            self._then(len(self.delays))


# -- backoff -----------------------------------------------------------------


def test_backoff_grows_and_is_capped() -> None:
    backoff = Backoff(NO_JITTER)
    assert [backoff.next_delay() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_backoff_jitter_only_shortens() -> None:
    config = ReconnectConfig(initial_delay=0.5, max_delay=30.0, jitter=0.2)
    high = Backoff(config, random=lambda: 0.0)
    low = Backoff(config, random=lambda: 0.999999)
    highs = [high.next_delay() for _ in range(12)]
    lows = [low.next_delay() for _ in range(12)]
    assert max(highs) == 30.0
    assert all(lo < hi for lo, hi in zip(lows, highs, strict=True))
    assert all(lo >= 0.8 * hi - 1e-9 for lo, hi in zip(lows, highs, strict=True))
    assert highs == sorted(highs)


def test_backoff_survives_many_attempts() -> None:
    backoff = Backoff(ReconnectConfig(jitter=0.0, multiplier=10.0, max_delay=3600))
    backoff.attempt = 10_000
    assert backoff.next_delay() == 3600
    flat = Backoff(ReconnectConfig(jitter=0.0, multiplier=1.0, initial_delay=2, max_delay=9))
    assert [flat.next_delay() for _ in range(3)] == [2, 2, 2]


# -- reconnect ---------------------------------------------------------------


def test_open_failures_back_off_then_recover() -> None:
    source = ScriptedSource(opens=[CameraOpenError("busy")] * 6, reads=[None, None], paced=False)
    sleep = DelayRecorder()
    states = StateRecorder()
    grabber = FrameGrabber(source, NO_JITTER, sleep=sleep, on_state_change=states)
    with grabber:
        frames = list(grabber)
    assert sleep.delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert states.states == [CaptureState.RECONNECTING, CaptureState.OK, CaptureState.ENDED]
    assert [f.index for f in frames] == [0, 1]
    health = grabber.health()
    assert health.consecutive_failures == 0
    assert health.reconnects == 0  # it was never up before, so nothing was re-connected
    assert source.open_calls == 7


def test_lost_camera_goes_ok_reconnecting_ok() -> None:
    source = ScriptedSource(
        reads=[None, None, CameraReadError("gone"), CameraReadError("gone"), None, None],
        paced=False,
    )
    sleep = DelayRecorder()
    states = StateRecorder()
    with FrameGrabber(source, NO_JITTER, sleep=sleep, on_state_change=states) as grabber:
        frames = list(grabber)
    assert states.states == [
        CaptureState.OK,
        CaptureState.RECONNECTING,
        CaptureState.OK,
        CaptureState.ENDED,
    ]
    assert sleep.delays == [0.5, 1.0]
    assert [f.index for f in frames] == [0, 1, 2, 3]
    health = grabber.health()
    assert health.reconnects == 1
    assert health.last_error is not None
    assert "gone" in health.last_error
    # Closed after each failed read, reopened for each retry, closed at the end.
    assert source.open_calls == 3
    assert source.close_calls == 3
    assert not source.is_open


def test_backoff_restarts_after_recovery() -> None:
    reads = [None, CameraReadError("a"), CameraReadError("b"), None, CameraReadError("c"), None]
    sleep = DelayRecorder()
    source = ScriptedSource(reads=reads, paced=False)
    with FrameGrabber(source, NO_JITTER, sleep=sleep) as grabber:
        list(grabber)
    assert sleep.delays == [0.5, 1.0, 0.5]


def test_gives_up_after_max_failures() -> None:
    config = ReconnectConfig(initial_delay=0.5, max_delay=1.0, jitter=0.0, max_failures=3)
    source = ScriptedSource(opens=[CameraOpenError("absent")] * 100)
    sleep = DelayRecorder()
    states = StateRecorder()
    with structlog.testing.capture_logs() as logs:
        grabber = FrameGrabber(source, config, sleep=sleep, on_state_change=states).start()
        assert grabber.latest(timeout=10) is None
        assert grabber.stop()
    assert states.states == [CaptureState.RECONNECTING, CaptureState.FAILED]
    assert sleep.delays == [0.5, 1.0]
    assert source.open_calls == 3
    health = grabber.health()
    assert health.state is CaptureState.FAILED
    assert health.consecutive_failures == 3
    assert "absent" in (health.last_error or "")
    # One line per state change, retries only at debug level.
    changes = [entry for entry in logs if entry["event"] == "capture_state"]
    assert [(c["previous"], c["state"]) for c in changes] == [
        ("starting", "reconnecting"),
        ("reconnecting", "failed"),
    ]
    assert changes[1]["log_level"] == "error"
    retries = [entry for entry in logs if entry["event"] == "camera_retry"]
    assert len(retries) == 1
    assert retries[0]["log_level"] == "debug"


def test_permanent_error_fails_at_once() -> None:
    source = ScriptedSource(opens=[SourceNotFoundError("replay x.mp4: no such file")])
    sleep = DelayRecorder()
    with FrameGrabber(source, NO_JITTER, sleep=sleep) as grabber:
        assert grabber.latest(timeout=10) is None
    assert grabber.state is CaptureState.FAILED
    assert sleep.delays == []


def test_unexpected_exception_is_a_failure_not_a_dead_thread() -> None:
    source = ScriptedSource(reads=[ZeroDivisionError("bug"), None], paced=False)
    with FrameGrabber(source, NO_JITTER, sleep=DelayRecorder()) as grabber:
        frames = list(grabber)
    assert len(frames) == 1
    assert grabber.state is CaptureState.ENDED


# -- newest frame / backpressure ---------------------------------------------


def test_slow_consumer_gets_the_newest_frame_and_drops_are_counted() -> None:
    source = ScriptedSource(gated=True)
    grabber = FrameGrabber(source, stop_event=source.abort).start()
    try:
        source.release(5)
        wait_until(lambda: grabber.health().frames_total == 5)
        frame = grabber.latest(timeout=5)
        assert frame is not None
        assert frame.index == 4
        assert grabber.health().frames_dropped == 4
        # Each frame is returned at most once.
        assert grabber.latest(timeout=0.01) is None
        source.release(3)
        wait_until(lambda: grabber.health().frames_total == 8)
        frame = grabber.latest(timeout=5)
        assert frame is not None
        assert frame.index == 7
        health = grabber.health()
        assert (health.frames_dropped, health.frames_delivered) == (6, 2)
    finally:
        assert grabber.stop()


def test_unpaced_source_is_pulled_without_drops() -> None:
    source = ScriptedSource(reads=[None] * 50, paced=False)
    with FrameGrabber(source) as grabber:
        indexes = []
        for frame in grabber:
            indexes.append(frame.index)
            if frame.index % 10 == 0:
                time.sleep(0.01)  # a slow consumer must not lose frames here
    assert indexes == list(range(50))
    assert grabber.health().frames_dropped == 0


def test_drop_stale_can_be_forced() -> None:
    source = ScriptedSource(gated=True, paced=False)
    grabber = FrameGrabber(source, drop_stale=True, stop_event=source.abort).start()
    try:
        source.release(3)
        wait_until(lambda: grabber.health().frames_total == 3)
        assert grabber.health().frames_dropped == 2
    finally:
        assert grabber.stop()


# -- health and clocks -------------------------------------------------------


def test_health_uses_the_injected_clock(clock: FakeClock) -> None:
    source = ScriptedSource(gated=True, clock=clock, tick=0.1)
    grabber = FrameGrabber(source, monotonic=clock, stop_event=source.abort).start()
    try:
        assert grabber.health().last_frame_age is None
        source.release(20)
        wait_until(lambda: grabber.health().frames_total == 20)
        clock.advance(2.5)
        health = grabber.health()
        assert health.state is CaptureState.OK
        assert health.fps == pytest.approx(10.0)
        assert health.last_frame_age == pytest.approx(2.5)
        frame = grabber.latest(timeout=5)
        assert frame is not None
        assert frame.monotonic == pytest.approx(1002.0)
        assert frame.wall_time.tzinfo is not None
        data = health.as_dict()
        assert data["state"] == "ok"
        assert data["frames_total"] == 20
    finally:
        assert grabber.stop()


# -- lifecycle ---------------------------------------------------------------


def test_stop_interrupts_the_backoff_wait() -> None:
    config = ReconnectConfig(initial_delay=600, max_delay=600, jitter=0.0, max_failures=0)
    source = ScriptedSource(opens=[CameraOpenError("absent")] * 10)
    grabber = FrameGrabber(source, config).start()
    wait_until(lambda: grabber.state is CaptureState.RECONNECTING)
    assert grabber.stop(timeout=10)
    assert grabber.state is CaptureState.STOPPED
    assert not grabber.running


def test_shared_stop_event_ends_a_waiting_consumer() -> None:
    source = ScriptedSource(gated=True)
    grabber = FrameGrabber(source, stop_event=source.abort).start()
    results: list[object] = []
    consumer = threading.Thread(target=lambda: results.append(grabber.latest()))
    consumer.start()
    source.read_waiting.wait(10)
    source.abort.set()  # what the daemon's SIGTERM handler does
    consumer.join(10)
    assert results == [None]
    assert grabber.stop()
    assert not source.is_open


def test_stop_is_idempotent_and_restart_is_refused() -> None:
    source = ScriptedSource(reads=[None], paced=False)
    grabber = FrameGrabber(source).start()
    assert grabber.start() is grabber
    list(grabber)
    assert grabber.stop()
    assert grabber.stop()
    with pytest.raises(RuntimeError):
        grabber.start()
    assert "scripted" in repr(grabber)


def test_start_after_a_shared_stop_is_a_no_op_not_a_crash() -> None:
    """SIGTERM during the daemon's start-up sets the shared event before the camera starts."""
    source = ScriptedSource(reads=[None])
    stop = threading.Event()
    grabber = FrameGrabber(source, stop_event=stop)
    stop.set()
    assert grabber.start() is grabber
    assert not grabber.running
    assert source.open_calls == 0, "a stopping daemon must not open the camera"
    assert grabber.latest(timeout=5) is None
    assert grabber.stop()
    assert grabber.state is CaptureState.STOPPED


def test_stop_before_start_closes_the_source() -> None:
    source = ScriptedSource()
    source.open()
    grabber = FrameGrabber(source)
    assert grabber.stop()
    assert grabber.state is CaptureState.STOPPED
    assert not source.is_open


def test_a_failing_state_callback_does_not_stop_capture() -> None:
    def explode(health: CaptureHealth) -> None:
        raise RuntimeError("observer bug")

    source = ScriptedSource(reads=[None, None], paced=False)
    with FrameGrabber(source, on_state_change=explode) as grabber:
        assert len(list(grabber)) == 2
