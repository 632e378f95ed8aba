"""Replay of the real clip and of image folders."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.capture import (
    CaptureConfig,
    CaptureState,
    EndOfStreamError,
    FrameGrabber,
    ReconnectConfig,
    ReplayCameraConfig,
    SourceNotFoundError,
    create_grabber,
    create_source,
)
from edge.capture.replay import ReplaySource
from tests.capture.conftest import CLIP_FPS, CLIP_FRAMES, CLIP_SIZE
from tests.support.clock import FakeClock


def replay(path: Path, **kwargs: object) -> ReplayCameraConfig:
    return ReplayCameraConfig.model_validate({"path": path, **kwargs})


def first_bgr_frame(path: Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    try:
        ok, image = cap.read()
        assert ok
        return image
    finally:
        cap.release()


@pytest.mark.faces
def test_fast_replay_delivers_every_frame_in_order_as_rgb(clip: Path) -> None:
    with create_grabber(CaptureConfig(camera=replay(clip, pace="fast"))) as grabber:
        frames = list(grabber)
    assert [f.index for f in frames] == list(range(CLIP_FRAMES))
    first = frames[0].image
    assert first.shape == (CLIP_SIZE[1], CLIP_SIZE[0], 3)
    assert first.dtype == np.uint8
    assert first.flags.c_contiguous
    # RGB: the same pixels OpenCV decodes as BGR, channels reversed.
    np.testing.assert_array_equal(first, first_bgr_frame(clip)[:, :, ::-1])
    assert all(a.monotonic <= b.monotonic for a, b in itertools.pairwise(frames))
    assert all(f.wall_time.tzinfo is not None for f in frames)
    health = grabber.health()
    assert health.state is CaptureState.ENDED
    assert (health.frames_total, health.frames_dropped) == (CLIP_FRAMES, 0)


@pytest.mark.faces
def test_realtime_pace_follows_the_schedule_on_an_injected_clock(
    clip: Path, clock: FakeClock
) -> None:
    source = ReplaySource(replay(clip), monotonic=clock, now=clock.now, sleep=clock.sleep)
    assert source.paced
    with source:
        frames = [source.read() for _ in range(30)]
    assert source.nominal_fps == pytest.approx(CLIP_FPS, abs=0.01)
    # Frame k leaves at start + k / fps: 29 periods after the first.
    assert clock.mono - 1000.0 == pytest.approx(29 / CLIP_FPS)
    gaps = [b.monotonic - a.monotonic for a, b in itertools.pairwise(frames)]
    assert gaps == pytest.approx([1 / CLIP_FPS] * 29)


@pytest.mark.faces
def test_realtime_pace_does_not_burst_after_a_stall(clip: Path, clock: FakeClock) -> None:
    source = ReplaySource(replay(clip), monotonic=clock, sleep=clock.sleep)
    with source:
        source.read()
        clock.advance(5.0)  # the reader was away for 5 s
        source.read()
        slept_before = len(clock.sleeps)
        source.read()
        # The schedule restarted: the next frame waits a period, not zero.
        assert len(clock.sleeps) == slept_before + 1
        assert clock.sleeps[-1] == pytest.approx(1 / CLIP_FPS)


@pytest.mark.faces
def test_realtime_pace_on_the_real_clock_takes_about_real_time(clip: Path) -> None:
    frames = 15
    started = time.monotonic()
    with ReplaySource(replay(clip)) as source:
        for _ in range(frames):
            source.read()
    elapsed = time.monotonic() - started
    # Sleeping to a schedule can only make it later, never earlier; the upper
    # bound only catches a replay that ignores its pace entirely on a busy machine.
    assert elapsed >= (frames - 1) / CLIP_FPS * 0.95
    assert elapsed < 30


@pytest.mark.faces
def test_realtime_grabber_drops_frames_for_a_slow_consumer(clip: Path) -> None:
    grabber = FrameGrabber(ReplaySource(replay(clip, scale=0.25))).start()
    try:
        taken = []
        for _ in range(4):
            frame = grabber.latest(timeout=10)
            assert frame is not None
            taken.append(frame.index)
            time.sleep(0.3)  # about 9 frame periods
        assert taken == sorted(set(taken))
        assert grabber.health().frames_dropped > 0
    finally:
        assert grabber.stop()


@pytest.mark.faces
def test_end_of_stream_without_loop(clip: Path) -> None:
    with ReplaySource(replay(clip, pace="fast")) as source:
        for _ in range(CLIP_FRAMES):
            source.read()
        with pytest.raises(EndOfStreamError):
            source.read()
        with pytest.raises(EOFError):  # also a builtin EOFError
            source.read()


@pytest.mark.faces
def test_loop_restarts_and_keeps_counting(clip: Path) -> None:
    with ReplaySource(replay(clip, pace="fast", loop=True, scale=0.25)) as source:
        frames = [source.read() for _ in range(CLIP_FRAMES + 3)]
        assert source.position == 3
    assert [f.index for f in frames] == list(range(CLIP_FRAMES + 3))
    np.testing.assert_array_equal(frames[CLIP_FRAMES].image, frames[0].image)


@pytest.mark.faces
@pytest.mark.parametrize(
    ("options", "shape"),
    [({"size": [320, 180]}, (180, 320, 3)), ({"scale": 0.5}, (180, 320, 3))],
)
def test_resize(clip: Path, options: dict[str, object], shape: tuple[int, ...]) -> None:
    with ReplaySource(replay(clip, pace="fast", **options)) as source:
        assert source.read().image.shape == shape


def test_missing_file_fails_at_once(tmp_path: Path) -> None:
    missing = tmp_path / "gone.mp4"
    source = create_source(replay(missing))
    with pytest.raises(SourceNotFoundError, match=r"gone\.mp4"):
        source.open()
    grabber = FrameGrabber(source, ReconnectConfig(max_failures=0), sleep=lambda s: None)
    with grabber:
        assert grabber.latest(timeout=10) is None
    assert grabber.state is CaptureState.FAILED
    assert grabber.health().consecutive_failures == 1


# -- image folders -----------------------------------------------------------

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (10, 20, 30)]


def write_folder(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    for i, rgb in enumerate(COLOURS):
        image = np.empty((48, 64, 3), np.uint8)
        image[:] = rgb[::-1]  # cv2 writes BGR
        assert cv2.imwrite(str(folder / f"frame_{i:03d}.png"), image)


def test_image_folder_plays_in_name_order_as_rgb(tmp_path: Path) -> None:
    write_folder(tmp_path)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "frame_001b.png").write_bytes(b"truncated garbage")
    with create_grabber(CaptureConfig(camera=replay(tmp_path, pace="fast"))) as grabber:
        frames = list(grabber)
    assert [tuple(int(v) for v in f.image[0, 0]) for f in frames] == COLOURS
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert grabber.state is CaptureState.ENDED


def test_image_folder_pace_and_loop(tmp_path: Path, clock: FakeClock) -> None:
    write_folder(tmp_path)
    config = replay(tmp_path, loop=True, fps=4)
    with ReplaySource(config, monotonic=clock, sleep=clock.sleep) as source:
        frames = [source.read() for _ in range(6)]
    assert source.nominal_fps == 4
    assert clock.mono - 1000.0 == pytest.approx(5 * 0.25)
    assert [tuple(int(v) for v in f.image[0, 0]) for f in frames] == COLOURS + COLOURS[:2]


def test_image_folder_default_rate(tmp_path: Path) -> None:
    write_folder(tmp_path)
    with ReplaySource(replay(tmp_path)) as source:
        assert source.nominal_fps == 10


def test_empty_folder_is_a_missing_source(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError, match="no images"):
        ReplaySource(replay(tmp_path)).open()


@pytest.mark.faces
def test_source_basics(clip: Path) -> None:
    source = ReplaySource(replay(clip, pace="fast"))
    assert "closed" in repr(source)
    assert "short_hamilton_clip" in repr(source)
    with source as opened:
        assert opened is source
        assert "open" in repr(source)
        source.open()  # opening twice does nothing
    source.close()
    source.close()
    assert not source.is_open
