"""Capture configuration: the type discriminator, validation, the factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from edge.capture import (
    CameraConfig,
    CaptureConfig,
    JetsonCSICameraConfig,
    OpenCVCameraConfig,
    Picamera2CameraConfig,
    ReconnectConfig,
    ReplayCameraConfig,
    create_grabber,
    create_source,
)
from edge.capture.opencv import OpenCVSource
from edge.capture.picam import Picamera2Source
from edge.capture.replay import ReplaySource

CAMERA = TypeAdapter[Any](CameraConfig)


@pytest.mark.parametrize(
    ("data", "model"),
    [
        ({"type": "opencv", "device": "/dev/video2"}, OpenCVCameraConfig),
        ({"type": "jetson_csi", "sensor_id": 1}, JetsonCSICameraConfig),
        ({"type": "picamera2", "width": 640, "height": 480}, Picamera2CameraConfig),
        ({"type": "replay", "path": "clip.mp4", "pace": "fast"}, ReplayCameraConfig),
    ],
)
def test_type_selects_the_backend(data: dict[str, Any], model: type) -> None:
    assert isinstance(CAMERA.validate_python(data), model)


@pytest.mark.parametrize(
    "data",
    [
        {"type": "webcam"},
        {"type": "opencv", "devcie": 0},
        {"type": "opencv", "width": 640},
        {"type": "opencv", "fourcc": "MJPEG"},
        {"type": "picamera2", "width": 641},
        {"type": "replay"},
        {"type": "replay", "path": "x", "pace": "slow"},
        {"type": "replay", "path": "x", "size": [320, 180], "scale": 0.5},
    ],
)
def test_invalid_camera_config_is_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CAMERA.validate_python(data)


def test_defaults_and_immutability() -> None:
    config = CaptureConfig()
    assert isinstance(config.camera, OpenCVCameraConfig)
    assert config.camera.device == 0
    assert config.reconnect == ReconnectConfig(
        initial_delay=0.5, max_delay=30.0, multiplier=2.0, jitter=0.2, max_failures=20
    )
    with pytest.raises(ValidationError):
        config.reconnect.max_delay = 1  # type: ignore[misc]
    with pytest.raises(ValidationError, match="max_delay"):
        ReconnectConfig(initial_delay=10, max_delay=5)


def test_every_field_is_described() -> None:
    for model in (
        OpenCVCameraConfig,
        JetsonCSICameraConfig,
        Picamera2CameraConfig,
        ReplayCameraConfig,
        ReconnectConfig,
        CaptureConfig,
    ):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_factory_builds_each_backend(tmp_path: Path) -> None:
    assert isinstance(create_source(OpenCVCameraConfig()), OpenCVSource)
    assert isinstance(create_source(JetsonCSICameraConfig()), OpenCVSource)
    assert isinstance(create_source(Picamera2CameraConfig()), Picamera2Source)
    replay = create_source(ReplayCameraConfig(path=tmp_path, pace="fast"))
    assert isinstance(replay, ReplaySource)
    assert not replay.paced
    assert create_source(ReplayCameraConfig(path=tmp_path)).paced
    grabber = create_grabber(
        CaptureConfig(camera=ReplayCameraConfig(path=tmp_path, pace="fast")),
        name="test-capture",
    )
    assert grabber.drop_stale is False
    assert grabber.reconnect == ReconnectConfig()


def test_factory_refuses_unknown_configs() -> None:
    with pytest.raises(TypeError):
        create_source(object())  # type: ignore[arg-type]
