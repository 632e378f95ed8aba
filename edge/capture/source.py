"""The ``FrameSource`` interface shared by every capture backend."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Self

import numpy as np

from edge.capture.errors import CameraReadError
from edge.capture.frame import Frame, RGBImage
from edge.clock import utc_now

Clock = Callable[[], float]
WallClock = Callable[[], datetime]


class FrameSource(ABC):
    """A camera or replay that yields RGB frames.

    ``open()`` acquires the device, ``read()`` blocks until the next frame and
    returns it, ``close()`` releases the device and may be called any number of
    times. A closed source can be opened again, which is how the grabber reconnects.
    One thread uses a source at a time; the grabber owns it while it runs.

    ``read()`` raises :class:`~edge.capture.errors.CameraReadError` when the device
    stops delivering and :class:`~edge.capture.errors.EndOfStreamError` when a replay
    without ``loop`` is over.
    """

    #: A paced source delivers at its own rate (a live camera, a real-time replay),
    #: so frames the consumer is too slow for are dropped. An unpaced source
    #: (``pace = "fast"``) is pulled one frame at a time and nothing is dropped.
    paced: bool = True

    def __init__(self, *, monotonic: Clock = time.monotonic, now: WallClock = utc_now) -> None:
        self._monotonic = monotonic
        self._now = now
        self._is_open = False
        self._next_index = 0
        # open/read/close may come from the grabber thread while health or repr is
        # asked from another; the lock keeps is_open honest.
        self._lock = threading.RLock()

    # -- backend hooks -------------------------------------------------------
    @property
    @abstractmethod
    def description(self) -> str:
        """Where the frames come from, for logs (device, URL, file)."""

    @abstractmethod
    def _open(self) -> None:
        """Acquire the device; raise CaptureError on failure."""

    @abstractmethod
    def _read(self) -> RGBImage:
        """Block for the next frame and return it as contiguous RGB uint8."""

    @abstractmethod
    def _close(self) -> None:
        """Release the device. Called only when open; must not raise for a dead device."""

    # -- public API ----------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._is_open

    @property
    def nominal_fps(self) -> float | None:
        """The rate the source promises (configured or read from the file), if known."""
        return None

    def open(self) -> None:
        """Acquire the device. Opening an open source does nothing."""
        with self._lock:
            if self._is_open:
                return
            self._open()
            self._is_open = True

    def read(self) -> Frame:
        """The next frame. Raises CameraReadError, EndOfStreamError."""
        if not self._is_open:
            raise CameraReadError(f"{self.description}: read from a closed source")
        image = self._read()
        stamp = self._monotonic()
        wall = self._now()
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise CameraReadError(
                f"{self.description}: expected an (H, W, 3) uint8 frame, "
                f"got {image.shape} {image.dtype}"
            )
        frame = Frame(image=image, index=self._next_index, monotonic=stamp, wall_time=wall)
        self._next_index += 1
        return frame

    def close(self) -> None:
        """Release the device. Idempotent; never raises for a device that is already gone."""
        with self._lock:
            if not self._is_open:
                return
            self._is_open = False
            self._close()

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self._is_open else "closed"
        return f"<{type(self).__name__} {self.description} {state}>"
