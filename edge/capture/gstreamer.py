"""GStreamer pipeline strings for OpenCV's CAP_GSTREAMER backend."""

from __future__ import annotations

from edge.errors import ConfigError


def is_gstreamer_pipeline(source: str) -> bool:
    """True when ``source`` is a GStreamer launch line rather than a path or URL."""
    return " ! " in source or source.rstrip().endswith("appsink") or "appsink " in source


def jetson_csi_pipeline(
    sensor_id: int = 0,
    width: int = 1280,
    height: int = 720,
    fps: int = 30,
    flip: int = 0,
    *,
    sensor_mode: int | None = None,
) -> str:
    """The Jetson CSI camera pipeline, ending in a BGR appsink OpenCV can read.

    nvarguscamerasrc delivers NV12 in NVMM (GPU) memory; nvvidconv flips and copies
    it to CPU memory as BGRx, which videoconvert turns into the packed BGR OpenCV
    expects. ``appsink drop=1 max-buffers=1`` keeps only the newest frame, so a slow
    reader never gets a queue of stale frames.
    """
    if not 0 <= sensor_id <= 7:
        raise ConfigError(f"sensor_id must be 0..7 (got {sensor_id})")
    if width <= 0 or height <= 0:
        raise ConfigError(f"width and height must be positive (got {width}x{height})")
    if not 1 <= fps <= 120:
        raise ConfigError(f"fps must be 1..120 (got {fps})")
    if not 0 <= flip <= 7:
        raise ConfigError(f"flip must be an nvvidconv flip-method 0..7 (got {flip})")
    mode = "" if sensor_mode is None else f" sensor-mode={sensor_mode}"
    return (
        f"nvarguscamerasrc sensor-id={sensor_id}{mode} ! "
        f"video/x-raw(memory:NVMM),width={width},height={height},"
        f"framerate={fps}/1,format=NV12 ! "
        f"nvvidconv flip-method={flip} ! "
        f"video/x-raw,width={width},height={height},format=BGRx ! "
        "videoconvert ! video/x-raw,format=BGR ! "
        "appsink drop=1 max-buffers=1"
    )
