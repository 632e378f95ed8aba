"""The OpenCV backend, with the real clip standing in for a camera device."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.capture import (
    CameraBackendUnavailableError,
    CameraOpenError,
    CameraReadError,
    CaptureState,
    FrameGrabber,
    JetsonCSICameraConfig,
    OpenCVCameraConfig,
    ReconnectConfig,
    create_source,
)
from edge.capture.opencv import OpenCVSource, _resolve, bgr_to_rgb, opencv_has_gstreamer
from tests.capture.conftest import CLIP_FPS, CLIP_FRAMES


@pytest.mark.faces
def test_clip_opened_as_a_device_path(clip: Path) -> None:
    source = create_source(OpenCVCameraConfig(device=str(clip)))
    assert isinstance(source, OpenCVSource)
    with source:
        assert source.nominal_fps == pytest.approx(CLIP_FPS, abs=0.01)
        frames = [source.read() for _ in range(CLIP_FRAMES)]
        with pytest.raises(CameraReadError):
            source.read()
    assert len(frames) == CLIP_FRAMES
    assert [f.index for f in frames[:3]] == [0, 1, 2]
    cap = cv2.VideoCapture(str(clip))
    ok, bgr = cap.read()
    cap.release()
    assert ok
    np.testing.assert_array_equal(frames[0].image, bgr[:, :, ::-1])
    assert not source.is_open
    source.close()  # idempotent


@pytest.mark.faces
def test_file_appearing_later_is_picked_up_by_reconnect(clip: Path, tmp_path: Path) -> None:
    """Real I/O: the "device" is absent, then appears, as a replugged camera would."""
    target = tmp_path / "camera.mp4"
    delays: list[float] = []
    appeared = threading.Event()

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        if len(delays) == 2:
            shutil.copy(clip, target)
            appeared.set()

    states: list[CaptureState] = []
    config = ReconnectConfig(initial_delay=0.01, max_delay=0.04, jitter=0.0, max_failures=0)
    source = OpenCVSource(OpenCVCameraConfig(device=str(target)))
    grabber = FrameGrabber(
        source, config, sleep=sleep, on_state_change=lambda h: states.append(h.state)
    ).start()
    try:
        frame = grabber.latest(timeout=30)
        assert frame is not None
        assert frame.image.shape == (360, 640, 3)
        assert appeared.is_set()
    finally:
        assert grabber.stop()
    assert delays[:2] == [0.01, 0.02]
    assert states[:2] == [CaptureState.RECONNECTING, CaptureState.OK]


def test_missing_device_path_is_a_transient_open_error() -> None:
    source = OpenCVSource(OpenCVCameraConfig(device="/dev/video-hadir-test-absent"))
    with pytest.raises(CameraOpenError, match="no such device") as info:
        source.open()
    assert not info.value.permanent
    assert isinstance(info.value, OSError)


def test_missing_device_index_fails_to_open() -> None:
    with pytest.raises(CameraOpenError, match=r"/dev/video63"):
        OpenCVSource(OpenCVCameraConfig(device=63)).open()


def test_read_from_a_closed_source_is_an_error() -> None:
    with pytest.raises(CameraReadError, match="closed"):
        OpenCVSource(OpenCVCameraConfig()).read()


@pytest.mark.parametrize(
    ("device", "api", "location", "kind", "chosen"),
    [
        (0, "auto", 0, "device", cv2.CAP_V4L2),
        ("2", "auto", 2, "device", cv2.CAP_V4L2),
        ("/dev/video1", "auto", "/dev/video1", "device", cv2.CAP_V4L2),
        ("rtsp://cam/stream", "auto", "rtsp://cam/stream", "stream", cv2.CAP_FFMPEG),
        ("clip.mp4", "auto", "clip.mp4", "file", cv2.CAP_FFMPEG),
        (
            "videotestsrc ! appsink",
            "auto",
            "videotestsrc ! appsink",
            "gstreamer",
            cv2.CAP_GSTREAMER,
        ),
        ("clip.mp4", "any", "clip.mp4", "file", cv2.CAP_ANY),
    ],
)
def test_device_resolution(
    device: int | str, api: str, location: int | str, kind: str, chosen: int
) -> None:
    target = _resolve(device, api)
    assert (target.location, target.kind, target.api) == (location, kind, chosen)


def test_descriptions() -> None:
    assert OpenCVSource(OpenCVCameraConfig(device=1)).description == "opencv /dev/video1"
    pipeline = create_source(JetsonCSICameraConfig(sensor_id=1))
    assert pipeline.description == "jetson csi sensor 1 (1280x720)"
    raw = OpenCVSource(OpenCVCameraConfig(device="videotestsrc ! videoconvert ! appsink"))
    assert raw.description == "opencv gstreamer 'videotestsrc ! ...'"


@pytest.mark.skipif(opencv_has_gstreamer(), reason="this OpenCV build has GStreamer")
def test_pipeline_without_gstreamer_support_names_the_fix() -> None:
    source = create_source(JetsonCSICameraConfig())
    with pytest.raises(CameraBackendUnavailableError, match="system-site-packages") as info:
        source.open()
    assert info.value.permanent


def test_bgr_to_rgb_handles_grey_bgra_and_bgr() -> None:
    bgr = np.zeros((2, 2, 3), np.uint8)
    bgr[:] = (1, 2, 3)
    assert tuple(bgr_to_rgb(bgr)[0, 0]) == (3, 2, 1)
    bgra = np.zeros((2, 2, 4), np.uint8)
    bgra[:] = (1, 2, 3, 255)
    assert tuple(bgr_to_rgb(bgra)[0, 0]) == (3, 2, 1)
    grey = np.full((2, 2), 7, np.uint8)
    assert bgr_to_rgb(grey).shape == (2, 2, 3)
    with pytest.raises(CameraReadError):
        bgr_to_rgb(np.zeros((2, 2, 3), np.float32))
    with pytest.raises(CameraReadError):
        bgr_to_rgb(np.zeros((2, 2, 2), np.uint8))
