"""Camera settings: one backend per ``type``, plus the reconnect policy.

TOML example (``/etc/hadir/edge.toml``)::

    [capture.camera]
    type = "picamera2"        # or "opencv", "jetson_csi", "replay"
    width = 1280
    height = 720

    [capture.reconnect]
    max_delay = 30
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from edge.backoff import BackoffConfig
from edge.config_base import StrictModel

_Width = Annotated[int, Field(ge=16, le=8192)]
_Height = Annotated[int, Field(ge=16, le=8192)]


class OpenCVCameraConfig(StrictModel):
    """A camera OpenCV can open: V4L2 device, RTSP/HTTP stream, file or GStreamer pipeline."""

    type: Literal["opencv"] = Field("opencv", description="Capture backend.")
    device: Annotated[int, Field(ge=0)] | Annotated[str, Field(min_length=1)] = Field(
        0,
        description="Device index (0 = /dev/video0), device path (/dev/video2), stream URL "
        "(rtsp://...), video file, or a GStreamer pipeline (any string containing ' ! ', "
        "ending in appsink).",
    )
    api: Literal["auto", "any", "v4l2", "ffmpeg", "gstreamer"] = Field(
        "auto",
        description="OpenCV capture API. auto: GStreamer for pipelines, V4L2 for device "
        "indexes and /dev paths, FFmpeg for URLs and files.",
    )
    width: _Width | None = Field(
        None, description="Requested frame width; the device may pick the nearest mode."
    )
    height: _Height | None = Field(
        None, description="Requested frame height; set together with width."
    )
    fps: float | None = Field(None, gt=0, le=240, description="Requested frame rate.")
    fourcc: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9 ]{4}$",
        description="Requested pixel format of a V4L2 device, e.g. MJPG (USB cameras need "
        "it for 720p and up at full rate) or YUYV.",
    )
    buffer_size: int | None = Field(
        None,
        ge=1,
        le=32,
        description="Driver buffers (CAP_PROP_BUFFERSIZE, V4L2 only); 1 minimises latency "
        "on devices whose driver queues old frames. Unset keeps the driver default.",
    )
    open_timeout: float = Field(
        10.0, gt=0, le=300, description="Seconds to wait for a stream to open (FFmpeg, RTSP)."
    )
    read_timeout: float = Field(
        10.0,
        gt=0,
        le=300,
        description="Seconds a stream may deliver nothing before the read fails (FFmpeg, RTSP).",
    )

    @model_validator(mode="after")
    def _width_with_height(self) -> Self:
        if (self.width is None) != (self.height is None):
            raise ValueError("set width and height together")
        return self


class JetsonCSICameraConfig(StrictModel):
    """A CSI camera on an NVIDIA Jetson, read through nvarguscamerasrc with OpenCV+GStreamer."""

    type: Literal["jetson_csi"] = Field("jetson_csi", description="Capture backend.")
    sensor_id: int = Field(0, ge=0, le=7, description="CSI port (nvarguscamerasrc sensor-id).")
    width: _Width = Field(1280, description="Frame width delivered by the sensor and to us.")
    height: _Height = Field(720, description="Frame height delivered by the sensor and to us.")
    fps: int = Field(30, ge=1, le=120, description="Sensor frame rate.")
    flip: int = Field(
        0,
        ge=0,
        le=7,
        description="nvvidconv flip-method: 0 none, 2 rotate 180°, 4 horizontal flip, "
        "6 vertical flip (1, 3, 5, 7 rotate by 90° steps).",
    )
    sensor_mode: int | None = Field(
        None, ge=0, le=15, description="nvarguscamerasrc sensor-mode; unset lets Argus choose."
    )


class Picamera2CameraConfig(StrictModel):
    """A Raspberry Pi camera (CSI) through libcamera's picamera2."""

    type: Literal["picamera2"] = Field("picamera2", description="Capture backend.")
    camera_num: int = Field(0, ge=0, le=7, description="Camera index as libcamera lists them.")
    width: _Width = Field(1280, multiple_of=2, description="Frame width (even).")
    height: _Height = Field(720, multiple_of=2, description="Frame height (even).")
    fps: float | None = Field(
        30.0, gt=0, le=240, description="Frame rate; unset keeps libcamera's default."
    )
    hflip: bool = Field(False, description="Mirror left-right (camera mounted facing a mirror).")
    vflip: bool = Field(False, description="Flip upside down (camera mounted upside down).")
    buffer_count: int = Field(
        4, ge=1, le=16, description="libcamera buffers; more smooths bursts, costs memory."
    )
    read_timeout: float = Field(
        5.0, gt=0, le=300, description="Seconds without a frame before the camera is reopened."
    )


class ReplayCameraConfig(StrictModel):
    """A video file or a folder of images played back as a camera (demo, tests, benchmarks)."""

    type: Literal["replay"] = Field("replay", description="Capture backend.")
    path: Path = Field(
        description="Video file, or folder whose images (png, jpg, bmp, webp) play in name order."
    )
    pace: Literal["realtime", "fast"] = Field(
        "realtime",
        description="realtime: deliver at the file's frame rate and drop frames the consumer "
        "is too slow for, like a camera; fast: as fast as the consumer takes them, none dropped.",
    )
    loop: bool = Field(False, description="Start again at the end instead of ending the stream.")
    clock: Literal["media", "capture"] = Field(
        "media",
        description="Timestamps of fast-paced frames: media stamps frame k at open + k/fps, so "
        "everything downstream (relook intervals, track timeouts, cooldowns) sees the clip as "
        "a live camera would and results do not depend on processing speed; capture stamps "
        "the moment the frame was read. Realtime pace always uses capture time.",
    )
    fps: float | None = Field(
        None,
        gt=0,
        le=1000,
        description="Playback rate; default: the video's own rate, 10 for an image folder.",
    )
    size: tuple[_Width, _Height] | None = Field(
        None, description="Resize every frame to [width, height]."
    )
    scale: float | None = Field(
        None, gt=0, le=8, description="Resize every frame by this factor (instead of size)."
    )

    @model_validator(mode="after")
    def _size_or_scale(self) -> Self:
        if self.size is not None and self.scale is not None:
            raise ValueError("set size or scale, not both")
        return self


CameraConfig = Annotated[
    OpenCVCameraConfig | JetsonCSICameraConfig | Picamera2CameraConfig | ReplayCameraConfig,
    Field(discriminator="type"),
]


class ReconnectConfig(BackoffConfig):
    """How a lost camera is reopened: capped exponential backoff with jitter (edge.backoff)."""

    initial_delay: float = Field(
        0.5, gt=0, le=3600, description="Seconds before the first retry after a failure."
    )
    max_delay: float = Field(
        30.0, gt=0, le=3600, description="Longest wait between retries, in seconds."
    )
    jitter: float = Field(
        0.2,
        ge=0,
        lt=1,
        description="Up to this fraction is taken off each wait at random, so terminals "
        "restarted together do not retry in lock-step.",
    )
    max_failures: int = Field(
        20,
        ge=0,
        description="Consecutive failures (open or read) after which capture gives up and "
        "reports 'failed'; 0 retries forever.",
    )


class ContentCheckConfig(StrictModel):
    """Telling a frozen or blank stream from a working camera (edge/capture/content.py)."""

    frozen_after_s: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="Report the camera 'frozen' when frames keep coming but are identical "
        "for this long (a stuck driver or decoder); the daemon then stops the systemd "
        "watchdog pings as for a stalled camera. 0 turns the check off.",
    )
    blank_after_s: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="Report the camera 'blank' when every frame is flat (black, white, one "
        "colour) for this long; a restart cannot help, so the daemon keeps running and "
        "reports it. 0 turns the check off.",
    )
    blank_max_std: float = Field(
        1.0,
        ge=0,
        le=64,
        description="A frame is flat when the standard deviation of its sampled grey "
        "levels is at most this; a dark room with sensor noise is well above 1.",
    )


class CaptureConfig(StrictModel):
    """The camera and how it is kept running."""

    camera: CameraConfig = Field(
        default_factory=OpenCVCameraConfig,
        description="Camera backend, chosen by its 'type'.",
    )
    reconnect: ReconnectConfig = Field(
        default_factory=ReconnectConfig, description="Reopening a lost camera."
    )
    content: ContentCheckConfig = Field(
        default_factory=ContentCheckConfig,
        description="Frozen and blank stream detection.",
    )
