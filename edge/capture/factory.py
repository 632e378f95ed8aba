"""Build a source or a running grabber from configuration."""

from __future__ import annotations

from typing import Any

from edge.capture.config import (
    CameraConfig,
    CaptureConfig,
    JetsonCSICameraConfig,
    OpenCVCameraConfig,
    Picamera2CameraConfig,
    ReplayCameraConfig,
)
from edge.capture.grabber import FrameGrabber
from edge.capture.gstreamer import jetson_csi_pipeline
from edge.capture.source import FrameSource


def create_source(config: CameraConfig, **kwargs: Any) -> FrameSource:
    """The backend for ``config.type``, not yet opened.

    Backends are imported here, on demand, so ``import edge.capture`` stays cheap and
    never touches cv2 or picamera2. ``kwargs`` go to the backend (``monotonic=``,
    ``now=``; ``sleep=`` for replay, ``module=`` for picamera2).
    """
    if isinstance(config, ReplayCameraConfig):
        from edge.capture.replay import ReplaySource

        return ReplaySource(config, **kwargs)
    if isinstance(config, Picamera2CameraConfig):
        from edge.capture.picam import Picamera2Source

        return Picamera2Source(config, **kwargs)
    if isinstance(config, JetsonCSICameraConfig):
        from edge.capture.opencv import OpenCVSource

        pipeline = jetson_csi_pipeline(
            config.sensor_id,
            config.width,
            config.height,
            config.fps,
            config.flip,
            sensor_mode=config.sensor_mode,
        )
        return OpenCVSource(
            OpenCVCameraConfig(device=pipeline, api="gstreamer"),
            label=f"jetson csi sensor {config.sensor_id} ({config.width}x{config.height})",
            **kwargs,
        )
    if isinstance(config, OpenCVCameraConfig):
        from edge.capture.opencv import OpenCVSource

        return OpenCVSource(config, **kwargs)
    raise TypeError(f"unknown camera config {type(config).__name__}")


def create_grabber(
    config: CaptureConfig, *, source_kwargs: dict[str, Any] | None = None, **kwargs: Any
) -> FrameGrabber:
    """A grabber (not started) over the configured camera and reconnect policy."""
    source = create_source(config.camera, **(source_kwargs or {}))
    kwargs.setdefault("content", config.content)
    return FrameGrabber(source, config.reconnect, **kwargs)
