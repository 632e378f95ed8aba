"""Frozen and blank streams: the content check alone, in the grabber, and in the daemon."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from structlog.testing import capture_logs

from edge.capture import (
    CaptureState,
    ContentCheckConfig,
    FrameGrabber,
    ReplayCameraConfig,
    create_source,
)
from edge.capture.content import ContentMonitor, ContentVerdict, thumbnail
from edge.capture.frame import RGBImage
from edge.capture.synth import _background, _noisy, make_walkby_clip
from edge.config import EdgeConfig
from edge.daemon.notify import SystemdNotifier
from edge.daemon.runner import EdgeDaemon
from edge.feedback import create_feedback
from edge.store import EdgeStore
from edge.sync import HeartbeatHealth, heartbeat_health
from tests.support.clock import FakeClock
from tests.support.wait import wait_until
from tests.terminal.test_process import NotifyListener

FPS = 15.0
CHECK = ContentCheckConfig(frozen_after_s=10.0, blank_after_s=10.0, blank_max_std=1.0)


def _scene(seed: int, brightness: float = 1.0, size: tuple[int, int] = (160, 120)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return _background(size[0], size[1], rng) * brightness


def _verdicts(frames: Iterator[RGBImage], seconds: float) -> list[ContentVerdict]:
    monitor = ContentMonitor(CHECK)
    return [
        monitor.observe(next(frames), n / FPS).verdict for n in range(int(seconds * FPS) + 1)
    ]


def _repeat(image: RGBImage) -> Iterator[RGBImage]:
    while True:
        yield image


def test_thumbnail_samples_single_pixels_as_grey() -> None:
    image = np.zeros((480, 640, 3), np.uint8)
    image[..., 1] = 200  # pure green: luma 150/256 of it
    thumb = thumbnail(image)
    assert thumb.shape == (24, 32)
    assert thumb.dtype == np.uint8
    assert int(thumb[0, 0]) == 200 * 150 >> 8
    # One bright pixel on the sampling grid shows; one off the grid does not.
    image[10, 10] = 255
    image[11, 11] = 255
    assert int(thumbnail(image)[0, 0]) == 255
    assert int(thumbnail(image).astype(int).sum()) == 255 + (24 * 32 - 1) * (200 * 150 >> 8)


@pytest.mark.parametrize(
    "colour", [(0, 0, 0), (255, 255, 255), (128, 128, 128), (16, 16, 16), (0, 0, 200)]
)
def test_flat_frames_are_blank_after_the_threshold(colour: tuple[int, int, int]) -> None:
    frame = np.empty((240, 320, 3), np.uint8)
    frame[:] = colour
    verdicts = _verdicts(_repeat(frame), seconds=12)
    threshold = int(CHECK.blank_after_s * FPS)
    assert set(verdicts[:threshold]) == {ContentVerdict.OK}
    assert set(verdicts[threshold:]) == {ContentVerdict.BLANK}  # blank wins over frozen


def test_near_black_with_faint_noise_is_blank() -> None:
    rng = np.random.default_rng(3)

    def frames() -> Iterator[RGBImage]:
        while True:
            noise = rng.normal(0.0, 0.4, size=(120, 160, 3))
            yield np.clip(4.0 + noise, 0, 255).astype(np.uint8)

    assert _verdicts(frames(), seconds=12)[-1] is ContentVerdict.BLANK


def test_a_dark_room_with_sensor_noise_is_neither_blank_nor_frozen() -> None:
    rng = np.random.default_rng(5)
    dark = _scene(5, brightness=0.06)  # a wall at about 5-10 grey levels

    def frames() -> Iterator[RGBImage]:
        while True:
            yield _noisy(dark, rng)

    first = next(frames())
    assert float(first.mean()) < 12
    assert set(_verdicts(frames(), seconds=15)) == {ContentVerdict.OK}


def test_a_static_scene_with_sensor_noise_is_not_frozen() -> None:
    rng = np.random.default_rng(7)
    wall = _scene(7)

    def frames() -> Iterator[RGBImage]:
        while True:
            yield _noisy(wall, rng)

    assert set(_verdicts(frames(), seconds=15)) == {ContentVerdict.OK}


def test_identical_frames_are_frozen_and_one_changed_frame_recovers() -> None:
    rng = np.random.default_rng(9)
    still = _noisy(_scene(9), rng)
    monitor = ContentMonitor(CHECK)
    verdicts = [monitor.observe(still, n / FPS).verdict for n in range(int(12 * FPS) + 1)]
    threshold = int(CHECK.frozen_after_s * FPS)
    assert set(verdicts[:threshold]) == {ContentVerdict.OK}
    assert set(verdicts[threshold:]) == {ContentVerdict.FROZEN}
    moved = monitor.observe(_noisy(_scene(9), rng), 13.0)
    assert moved.verdict is ContentVerdict.OK
    assert moved.unchanged_s == 0.0


def test_zero_turns_a_check_off() -> None:
    monitor = ContentMonitor(ContentCheckConfig(frozen_after_s=0, blank_after_s=0))
    black = np.zeros((240, 320, 3), np.uint8)
    assert {monitor.observe(black, float(n)).verdict for n in range(100)} == {ContentVerdict.OK}


# -- in the grabber: replayed sources, a fake clock ------------------------------------------


def _folder(tmp_path: Path, images: list[RGBImage]) -> Path:
    folder = tmp_path / "frames"
    folder.mkdir()
    for n, image in enumerate(images):
        cv2.imwrite(str(folder / f"frame_{n:06d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return folder


def _replay_states(path: Path, clock: FakeClock, frames: int) -> list[CaptureState]:
    source = create_source(ReplayCameraConfig(path=path, pace="fast", loop=True))
    states = []
    with FrameGrabber(source, monotonic=clock, content=CHECK) as grabber:
        for _ in range(frames):
            assert grabber.latest(timeout=10) is not None
            states.append(grabber.state)
            clock.advance(1 / FPS)
    return states


def test_grabber_reports_a_looped_still_as_frozen(tmp_path: Path, clock: FakeClock) -> None:
    still = _noisy(_scene(11), np.random.default_rng(11))
    with capture_logs() as logs:
        states = _replay_states(_folder(tmp_path, [still]), clock, frames=int(12 * FPS))
    assert states[0] is CaptureState.OK
    assert states[-1] is CaptureState.FROZEN
    changes = [e for e in logs if e["event"] == "capture_state" and e["state"] == "frozen"]
    assert len(changes) == 1, "one log line per change, not per frame"
    assert changes[0]["log_level"] == "warning"
    assert changes[0]["unchanged_s"] >= CHECK.frozen_after_s


def test_grabber_reports_black_frames_as_blank_with_health(
    tmp_path: Path, clock: FakeClock
) -> None:
    black = np.zeros((240, 320, 3), np.uint8)
    path = _folder(tmp_path, [black, black])
    source = create_source(ReplayCameraConfig(path=path, pace="fast", loop=True))
    with FrameGrabber(source, monotonic=clock, content=CHECK) as grabber:
        for _ in range(int(11 * FPS)):
            assert grabber.latest(timeout=10) is not None
            clock.advance(1 / FPS)
        assert grabber.latest(timeout=10) is not None
        health = grabber.health()
    assert health.state is CaptureState.BLANK
    assert not health.healthy
    assert health.picture_std == 0.0
    assert health.as_dict()["state"] == "blank"


@pytest.mark.faces
@pytest.mark.slow
def test_a_real_walk_by_clip_stays_ok(tmp_path: Path, faces_dir: Path, clock: FakeClock) -> None:
    """An mp4 (lossy, static wall in the gaps) of a real photo: compression keeps the noise."""
    photo = faces_dir / "people/barack_obama/obama.jpg"
    clip = tmp_path / "walkby.mp4"
    make_walkby_clip([("barack_obama", photo)], clip, fps=FPS, gap_seconds=2.0, seed=2)
    source = create_source(ReplayCameraConfig(path=clip, pace="fast", loop=True))
    seen = set()
    with FrameGrabber(
        source,
        monotonic=clock,
        content=ContentCheckConfig(frozen_after_s=0.5, blank_after_s=0.5),
    ) as grabber:
        for _ in range(120):
            assert grabber.latest(timeout=10) is not None
            seen.add(grabber.state)
            clock.advance(1 / FPS)
    assert seen == {CaptureState.OK}


# -- in the daemon: STATUS, heartbeat state and the watchdog ---------------------------------


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifyListener]:
    listener = NotifyListener(tmp_path / "notify.sock")
    yield listener
    listener.close()


def _run_daemon(
    tmp_path: Path, notify: NotifyListener, image: RGBImage
) -> tuple[EdgeDaemon, threading.Thread]:
    config = EdgeConfig.model_validate(
        {
            "device": {"id": "door-1"},
            "data_dir": str(tmp_path),
            "capture": {"content": {"frozen_after_s": 0.5, "blank_after_s": 0.5}},
            "daemon": {"stall_after_s": 0.5},
        }
    )
    path = _folder(tmp_path, [image])
    notifier = SystemdNotifier(
        str(notify.sock.getsockname()), environ={"WATCHDOG_USEC": "200000"}
    )
    daemon = EdgeDaemon(
        config,
        store=EdgeStore.open(":memory:", config.store, device_id="door-1"),
        source=create_source(ReplayCameraConfig(path=path, loop=True, fps=20)),
        feedback=create_feedback(config.feedback),
        notifier=notifier,
    )
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    return daemon, thread


def _heartbeat(daemon: EdgeDaemon) -> HeartbeatHealth:
    """What the daemon's heartbeat would report (as EdgeDaemon.enable_sync wires it)."""
    return heartbeat_health(daemon.grabber.health(), daemon.timings.snapshot())


def _pings_after(notify: NotifyListener, moment: float) -> int:
    return len([t for t in notify.times("WATCHDOG=1") if t > moment])


@pytest.mark.slow
def test_daemon_frozen_camera_reported_and_watchdog_withheld(
    tmp_path: Path, notify: NotifyListener
) -> None:
    still = _noisy(_scene(13), np.random.default_rng(13))
    with capture_logs() as logs:
        daemon, thread = _run_daemon(tmp_path, notify, still)
        try:
            wait_until(lambda: _heartbeat(daemon).camera_state == "frozen")
            wait_until(lambda: any(e["event"] == "watchdog_withheld" for e in logs))
            withheld_at = time.monotonic()
            wait_until(
                lambda: any("camera=frozen" in m for _, m in notify.messages), timeout=30
            )
            assert _pings_after(notify, withheld_at) == 0
            assert thread.is_alive(), "a frozen camera is systemd's to restart, not an exit"
        finally:
            daemon.stop_event.set()
            thread.join(10)
    assert notify.times("WATCHDOG=1"), "it pinged while the picture was live"


@pytest.mark.slow
def test_daemon_blank_camera_reported_and_watchdog_kept(
    tmp_path: Path, notify: NotifyListener
) -> None:
    black = np.zeros((240, 320, 3), np.uint8)
    with capture_logs() as logs:
        daemon, thread = _run_daemon(tmp_path, notify, black)
        try:
            wait_until(lambda: _heartbeat(daemon).camera_state == "blank")
            blank_at = time.monotonic()
            wait_until(lambda: _pings_after(notify, blank_at) >= 3)
            wait_until(lambda: any("camera=blank" in m for _, m in notify.messages), timeout=30)
        finally:
            daemon.stop_event.set()
            thread.join(10)
    assert not any(e["event"] == "watchdog_withheld" for e in logs)
    blank = [e for e in logs if e["event"] == "capture_state" and e["state"] == "blank"]
    assert len(blank) == 1


# -- the doctor: a handful of frames ---------------------------------------------------------


def _doctor_camera(tmp_path: Path, images: list[RGBImage]) -> tuple[bool, str]:
    from edge.daemon.doctor import check_camera

    path = _folder(tmp_path, images)
    config = EdgeConfig.model_validate(
        {"capture": {"camera": {"type": "replay", "path": str(path), "pace": "fast", "loop": True}}}
    )
    result = check_camera(config)
    return result.ok, result.detail


def test_doctor_fails_a_blank_camera(tmp_path: Path) -> None:
    ok, detail = _doctor_camera(tmp_path, [np.zeros((120, 160, 3), np.uint8)])
    assert not ok
    assert "blank" in detail


def test_doctor_fails_a_frozen_camera(tmp_path: Path) -> None:
    ok, detail = _doctor_camera(tmp_path, [_noisy(_scene(15), np.random.default_rng(15))])
    assert not ok
    assert "frozen" in detail


def test_doctor_passes_a_dark_noisy_camera(tmp_path: Path) -> None:
    rng = np.random.default_rng(17)
    dark = _scene(17, brightness=0.06)
    ok, detail = _doctor_camera(tmp_path, [_noisy(dark, rng) for _ in range(5)])
    assert ok, detail
