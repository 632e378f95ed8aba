"""OpenCV backend: V4L2 devices, RTSP/HTTP streams, files and GStreamer pipelines."""

from __future__ import annotations

import functools
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import structlog

from edge.capture.config import OpenCVCameraConfig
from edge.capture.errors import CameraBackendUnavailableError, CameraOpenError, CameraReadError
from edge.capture.frame import RGBImage
from edge.capture.gstreamer import is_gstreamer_pipeline
from edge.capture.source import Clock, FrameSource, WallClock
from edge.clock import utc_now

log = structlog.get_logger(__name__)

_APIS = {
    "any": cv2.CAP_ANY,
    "v4l2": cv2.CAP_V4L2,
    "ffmpeg": cv2.CAP_FFMPEG,
    "gstreamer": cv2.CAP_GSTREAMER,
}


@dataclass(frozen=True, slots=True)
class _Target:
    location: int | str
    api: int
    kind: str  # device, stream, file, gstreamer


def _resolve(device: int | str, api: str) -> _Target:
    if isinstance(device, int) or device.strip().isdigit():
        location: int | str = int(device)
        kind = "device"
    else:
        location = device.strip()
        if is_gstreamer_pipeline(location):
            kind = "gstreamer"
        elif "://" in location:
            kind = "stream"
        elif location.startswith("/dev/"):
            kind = "device"
        else:
            kind = "file"
    if api != "auto":
        return _Target(location, _APIS[api], kind)
    if kind == "gstreamer":
        chosen = cv2.CAP_GSTREAMER
    elif kind == "device":
        # V4L2 directly: CAP_ANY may route /dev/video paths through FFmpeg, which
        # ignores the size/fourcc/buffer settings below.
        chosen = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
    else:
        chosen = cv2.CAP_FFMPEG
    return _Target(location, chosen, kind)


@functools.cache
def opencv_has_gstreamer() -> bool:
    """Whether this cv2 build can open GStreamer pipelines (pip wheels cannot)."""
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GStreamer:"):
            return "YES" in line.split(":", 1)[1]
    return False


def bgr_to_rgb(image: np.ndarray[Any, Any]) -> RGBImage:
    """Convert what cv2 delivers (BGR, BGRA or grey) to contiguous RGB uint8."""
    if image.dtype != np.uint8:
        raise CameraReadError(f"unsupported frame dtype {image.dtype}")
    if image.ndim == 2:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2RGB), dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] == 4:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGRA2RGB), dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] == 3:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), dtype=np.uint8)
    raise CameraReadError(f"unsupported frame shape {image.shape}")


class OpenCVSource(FrameSource):
    """Frames from ``cv2.VideoCapture``, converted from BGR to RGB once."""

    def __init__(
        self,
        config: OpenCVCameraConfig,
        *,
        label: str | None = None,
        monotonic: Clock = time.monotonic,
        now: WallClock = utc_now,
    ) -> None:
        super().__init__(monotonic=monotonic, now=now)
        self.config = config
        self._target = _resolve(config.device, config.api)
        self._label = label
        self._cap: cv2.VideoCapture | None = None
        self._fps: float | None = None

    @property
    def description(self) -> str:
        if self._label:
            return self._label
        location = self._target.location
        if self._target.kind == "device" and isinstance(location, int):
            return f"opencv /dev/video{location}"
        if self._target.kind == "gstreamer":
            head = str(location).split("!", 1)[0].strip()
            return f"opencv gstreamer '{head} ! ...'"
        return f"opencv {location}"

    @property
    def nominal_fps(self) -> float | None:
        return self._fps

    def _open(self) -> None:
        target = self._target
        if target.api == cv2.CAP_GSTREAMER and not opencv_has_gstreamer():
            raise CameraBackendUnavailableError(
                f"{self.description}: this OpenCV build has no GStreamer support "
                "(pip's opencv-python wheels never do); on a Jetson use the system OpenCV "
                "from JetPack (python3-opencv) in a venv created with --system-site-packages"
            )
        if (
            target.kind == "device"
            and isinstance(target.location, str)
            and not os.path.exists(target.location)
        ):
            raise CameraOpenError(f"{self.description}: no such device (unplugged?)")
        params: list[int] = []
        if target.api in (cv2.CAP_FFMPEG, cv2.CAP_ANY):
            # Without these an unreachable RTSP camera blocks open/read for ~30 s.
            params += [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                int(self.config.open_timeout * 1000),
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                int(self.config.read_timeout * 1000),
            ]
        cap = cv2.VideoCapture(target.location, target.api, params)
        if not cap.isOpened():
            cap.release()
            hint = ""
            if target.kind == "device":
                hint = " (absent, or held by another process?)"
            raise CameraOpenError(f"{self.description}: cannot open{hint}")
        self._apply_settings(cap)
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self._fps = fps if fps > 0 else self.config.fps
        self._cap = cap
        log.info(
            "camera_opened",
            source=self.description,
            api=cap.getBackendName(),
            width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            fps=self._fps,
        )

    def _apply_settings(self, cap: cv2.VideoCapture) -> None:
        cfg = self.config
        # Order matters on V4L2: the pixel format decides which sizes and rates exist.
        if cfg.fourcc:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*cfg.fourcc))
        if cfg.width is not None and cfg.height is not None:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, cfg.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, cfg.height)
        if cfg.fps is not None:
            cap.set(cv2.CAP_PROP_FPS, cfg.fps)
        if cfg.buffer_size is not None:
            cap.set(cv2.CAP_PROP_BUFFERSIZE, cfg.buffer_size)

    def _read(self) -> RGBImage:
        cap = self._cap
        if cap is None:
            raise CameraReadError(f"{self.description}: not open")
        ok, image = cap.read()
        if not ok or image is None:
            raise CameraReadError(f"{self.description}: no frame (device gone or stream ended)")
        return bgr_to_rgb(image)

    def _close(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()
