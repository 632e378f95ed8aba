"""Fixtures for capture tests: the real clip, a fake clock, a scripted source."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from edge.capture.errors import EndOfStreamError
from edge.capture.frame import RGBImage
from edge.capture.source import FrameSource
from tests.support.clock import FakeClock

CLIP_FRAMES = 275
CLIP_FPS = 29.97
CLIP_SIZE = (640, 360)


@pytest.fixture(scope="session")
def clip(faces_dir: Path) -> Path:
    path = faces_dir / "video" / "short_hamilton_clip.mp4"
    assert path.is_file(), f"{path} missing from the faces data"
    return path


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def solid(rgb: tuple[int, int, int], size: tuple[int, int] = (8, 6)) -> RGBImage:
    image = np.empty((size[1], size[0], 3), np.uint8)
    image[:] = rgb
    return image


class ScriptedSource(FrameSource):
    """A source that fails or succeeds as a test scripts it.

    ``opens``: results of successive open() calls (an exception to raise, or None
    for success); once used up, open() succeeds. ``reads``: results of successive
    read() calls (None gives a frame); once used up, read() raises EndOfStreamError
    unless ``gated``. A gated read first blocks until ``release()`` (or ``abort``).
    ``tick`` advances a fake clock per frame so the grabber's fps is deterministic.
    """

    def __init__(
        self,
        opens: Iterable[BaseException | None] = (),
        reads: Iterable[BaseException | None] = (),
        *,
        paced: bool = True,
        gated: bool = False,
        clock: FakeClock | None = None,
        tick: float = 0.0,
    ) -> None:
        if clock is None:
            super().__init__()
        else:
            super().__init__(monotonic=clock, now=clock.now)
        self.paced = paced
        self._opens = list(opens)
        self._reads = list(reads)
        self._gated = gated
        self._gate = threading.Semaphore(0)
        self._clock = clock
        self._tick = tick
        self.open_calls = 0
        self.close_calls = 0
        self.frames_made = 0
        self.read_waiting = threading.Event()
        # Pass as the grabber's stop_event: a gated read then ends when it stops.
        self.abort = threading.Event()

    @property
    def description(self) -> str:
        return "scripted"

    def release(self, frames: int = 1) -> None:
        """Let ``frames`` more gated reads complete."""
        for _ in range(frames):
            self._gate.release()

    def _open(self) -> None:
        self.open_calls += 1
        if self._opens:
            result = self._opens.pop(0)
            if result is not None:
                raise result

    def _read(self) -> RGBImage:
        if self._gated:
            self.read_waiting.set()
            while not self._gate.acquire(timeout=0.02):
                if self.abort.is_set():
                    raise EndOfStreamError("aborted while waiting")
            self.read_waiting.clear()
        if self._reads:
            result = self._reads.pop(0)
            if result is not None:
                raise result
        elif not self._gated:
            raise EndOfStreamError("script over")
        if self._clock is not None and self._tick:
            self._clock.advance(self._tick)
        self.frames_made += 1
        return solid((self.frames_made % 256, 0, 0))

    def _close(self) -> None:
        self.close_calls += 1
