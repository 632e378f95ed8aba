"""Replay backend: a video file or a folder of images played back as a camera.

``pace = "realtime"`` delivers frame k at ``start + k / fps`` on the monotonic
clock (a schedule, not a per-frame sleep, so decode time does not add up to
drift); ``pace = "fast"`` delivers as fast as the reader asks, and the grabber
then hands every frame to the consumer instead of dropping stale ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import structlog

from edge.capture.config import ReplayCameraConfig
from edge.capture.errors import (
    EndOfStreamError,
    InvalidSourceError,
    SourceNotFoundError,
)
from edge.capture.frame import RGBImage
from edge.capture.opencv import bgr_to_rgb
from edge.capture.source import Clock, FrameSource, WallClock
from edge.clock import utc_now

log = structlog.get_logger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})
DEFAULT_FOLDER_FPS = 10.0
DEFAULT_VIDEO_FPS = 30.0
# Further behind schedule than this (a slow reader, a suspended process) and the
# schedule restarts from now, instead of bursting frames out to catch up.
MAX_LAG_FRAMES = 3


class ReplaySource(FrameSource):
    """Frames from a video file or an image folder, in order."""

    def __init__(
        self,
        config: ReplayCameraConfig,
        *,
        monotonic: Clock = time.monotonic,
        now: WallClock = utc_now,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        super().__init__(monotonic=monotonic, now=now)
        self.config = config
        self.paced = config.pace == "realtime"
        self._sleep = sleep
        self._cap: cv2.VideoCapture | None = None
        self._images: list[Path] = []
        self._position = 0
        self._fps: float | None = config.fps
        self._schedule_start: float | None = None
        self._scheduled = 0
        self._ended = False
        self._media_origin: tuple[float, datetime] | None = None
        if config.pace == "fast" and config.clock == "media":
            self._capture_monotonic, self._capture_now = self._monotonic, self._now
            self._monotonic, self._now = self._media_monotonic, self._media_now

    @property
    def description(self) -> str:
        extra = ", loop" if self.config.loop else ""
        return f"replay {self.config.path} ({self.config.pace}{extra})"

    @property
    def nominal_fps(self) -> float | None:
        return self._fps

    @property
    def position(self) -> int:
        """Index of the next frame within the file or folder (restarts when looping)."""
        return self._position

    def _open(self) -> None:
        path = self.config.path
        if path.is_dir():
            images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not images:
                raise SourceNotFoundError(f"{self.description}: folder holds no images")
            self._images = images
            self._fps = self.config.fps or DEFAULT_FOLDER_FPS
        elif path.is_file():
            self._cap = self._open_video()
            fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
            self._fps = self.config.fps or (fps if fps > 0 else DEFAULT_VIDEO_FPS)
        else:
            raise SourceNotFoundError(f"{self.description}: no such file or folder")
        self._position = 0
        self._schedule_start = None
        self._ended = False
        log.info("camera_opened", source=self.description, fps=self._fps)

    def _open_video(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(str(self.config.path), cv2.CAP_ANY)
        if not cap.isOpened():
            cap.release()
            raise InvalidSourceError(f"{self.description}: not a video OpenCV can decode")
        return cap

    def _next_image(self) -> np.ndarray[Any, Any] | None:
        if self._cap is not None:
            ok, frame = self._cap.read()
            return frame if ok and frame is not None else None
        while self._position < len(self._images):
            path = self._images[self._position]
            image: np.ndarray[Any, Any] | None = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                return image
            # One bad file must not end (or, through reconnects, fail) the replay.
            log.warning("replay_image_skipped", source=self.description, file=path.name)
            self._position += 1
        return None

    def _rewind(self) -> None:
        if self._cap is not None:
            # Seeking to 0 is unreliable for some codecs; reopening always works.
            self._cap.release()
            self._cap = self._open_video()
        self._position = 0

    def _read(self) -> RGBImage:
        if self._ended:
            raise EndOfStreamError(f"{self.description}: end of stream")
        image = self._next_image()
        if image is None and self.config.loop and self._position > 0:
            self._rewind()
            image = self._next_image()
        if image is None:
            self._ended = True
            if self._position == 0:
                raise InvalidSourceError(f"{self.description}: no frame could be decoded")
            raise EndOfStreamError(
                f"{self.description}: end of stream after {self._position} frames"
            )
        self._position += 1
        rgb = self._resize(bgr_to_rgb(image))
        if self.paced:
            self._wait_for_schedule()
        return rgb

    def _media_offset(self) -> float:
        # Called by read() right after a frame was decoded, before the index advances.
        if self._media_origin is None:
            self._media_origin = (self._capture_monotonic(), self._capture_now())
        return self._next_index / (self._fps or DEFAULT_VIDEO_FPS)

    def _media_monotonic(self) -> float:
        offset = self._media_offset()
        assert self._media_origin is not None
        return self._media_origin[0] + offset

    def _media_now(self) -> datetime:
        offset = self._media_offset()
        assert self._media_origin is not None
        return self._media_origin[1] + timedelta(seconds=offset)

    def _resize(self, image: RGBImage) -> RGBImage:
        cfg = self.config
        if cfg.size is not None:
            width, height = cfg.size
        elif cfg.scale is not None and cfg.scale != 1.0:
            width = max(1, round(image.shape[1] * cfg.scale))
            height = max(1, round(image.shape[0] * cfg.scale))
        else:
            return image
        if (width, height) == (image.shape[1], image.shape[0]):
            return image
        shrinking = width * height < image.shape[0] * image.shape[1]
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        return np.asarray(
            cv2.resize(image, (width, height), interpolation=interpolation), dtype=np.uint8
        )

    def _wait_for_schedule(self) -> None:
        period = 1.0 / (self._fps or DEFAULT_VIDEO_FPS)
        now = self._monotonic()
        if self._schedule_start is None:
            self._schedule_start = now
            self._scheduled = 0
        due = self._schedule_start + self._scheduled * period
        delay = due - now
        if delay > 0:
            self._sleep(delay)
        elif -delay > MAX_LAG_FRAMES * period:
            self._schedule_start = now - self._scheduled * period
        self._scheduled += 1

    def _close(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()
        self._images = []
