"""The Jetson CSI pipeline string."""

from __future__ import annotations

import pytest

from edge.capture import jetson_csi_pipeline
from edge.capture.gstreamer import is_gstreamer_pipeline
from edge.errors import ConfigError


def test_default_pipeline() -> None:
    assert jetson_csi_pipeline() == (
        "nvarguscamerasrc sensor-id=0 ! "
        "video/x-raw(memory:NVMM),width=1280,height=720,framerate=30/1,format=NV12 ! "
        "nvvidconv flip-method=0 ! "
        "video/x-raw,width=1280,height=720,format=BGRx ! "
        "videoconvert ! video/x-raw,format=BGR ! "
        "appsink drop=1 max-buffers=1"
    )


def test_pipeline_options() -> None:
    pipeline = jetson_csi_pipeline(1, 1920, 1080, 60, 2, sensor_mode=3)
    assert pipeline.startswith("nvarguscamerasrc sensor-id=1 sensor-mode=3 ! ")
    assert "width=1920,height=1080,framerate=60/1" in pipeline
    assert "nvvidconv flip-method=2 !" in pipeline
    assert is_gstreamer_pipeline(pipeline)


@pytest.mark.parametrize(
    "kwargs",
    [{"sensor_id": 8}, {"width": 0}, {"fps": 0}, {"flip": 9}],
)
def test_bad_arguments(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        jetson_csi_pipeline(**kwargs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v4l2src device=/dev/video0 ! videoconvert ! appsink", True),
        ("videotestsrc ! appsink", True),
        ("/dev/video0", False),
        ("rtsp://10.0.0.5/stream1", False),
        ("my clip.mp4", False),
    ],
)
def test_pipeline_detection(text: str, expected: bool) -> None:
    assert is_gstreamer_pipeline(text) is expected
