"""Is the camera showing anything? Frozen and blank streams look healthy by every other measure.

A driver that keeps handing out its last buffer, an RTSP decoder stuck on one picture, a lens
cap or a dead sensor that delivers black: frames keep flowing at full rate, so neither the
reconnect logic nor the watchdog notices. :class:`ContentMonitor` looks at a tiny grey
thumbnail of each frame:

* **frozen**: the thumbnail is bit-identical to the previous one for ``frozen_after_s``. A real
  sensor's noise changes some of the sampled pixels in every frame, even of a static scene in a
  dark room, which is why the thumbnail samples single pixels instead of averaging blocks
  (averaging would smooth the noise away and make a still scene look frozen).
* **blank**: the thumbnail's standard deviation is at most ``blank_max_std`` grey levels for
  ``blank_after_s``: black, white or one flat colour. A dark room still has structure and
  noise well above one grey level; only a picture with essentially no variance counts.

Cost: about 32x24 pixels sampled through a strided view, so the same handful of small numpy
operations whatever the resolution: a fraction of a millisecond per frame, less than the
BGR->RGB conversion of a 720p frame (``scripts/bench_content_check.py`` prints the ratio).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from edge.capture.config import ContentCheckConfig

__all__ = [
    "THUMB_COLUMNS",
    "THUMB_ROWS",
    "ContentMonitor",
    "ContentReading",
    "ContentVerdict",
    "judge_sample",
    "thumbnail",
]

THUMB_COLUMNS = 32
THUMB_ROWS = 24

Thumbnail = npt.NDArray[np.uint8]


class ContentVerdict(StrEnum):
    OK = "ok"
    FROZEN = "frozen"
    BLANK = "blank"


def thumbnail(image: npt.NDArray[np.uint8]) -> Thumbnail:
    """About THUMB_COLUMNS x THUMB_ROWS single pixels of ``image`` (RGB), as grey uint8."""
    height, width = image.shape[:2]
    step_y = max(1, height // THUMB_ROWS)
    step_x = max(1, width // THUMB_COLUMNS)
    # Offset by half a step so the grid samples the picture, not its top and left edges.
    sample = image[step_y // 2 :: step_y, step_x // 2 :: step_x].astype(np.uint16)
    # ITU-R BT.601 luma in integers: (77 R + 150 G + 29 B) / 256.
    grey = (sample[..., 0] * 77 + sample[..., 1] * 150 + sample[..., 2] * 29) >> 8
    return grey.astype(np.uint8)


@dataclass(frozen=True, slots=True)
class ContentReading:
    """What :meth:`ContentMonitor.observe` saw in one frame."""

    verdict: ContentVerdict
    std: float
    """Standard deviation of the thumbnail, in grey levels."""
    unchanged_s: float
    """Seconds the thumbnail has not changed at all."""
    flat_s: float
    """Seconds the thumbnail has been flat (std at most blank_max_std)."""


class ContentMonitor:
    """Feed it every frame with its capture time; it says ok, frozen or blank.

    Durations run on the times passed in (the grabber's monotonic clock), so a test
    drives them without waiting. A threshold of 0 turns that check off.
    """

    def __init__(self, config: ContentCheckConfig | None = None) -> None:
        self.config = config or ContentCheckConfig()
        self._previous: Thumbnail | None = None
        self._changed_at: float | None = None
        self._flat_since: float | None = None

    def reset(self) -> None:
        """Forget the history (the camera was reopened: a new stream)."""
        self._previous = None
        self._changed_at = None
        self._flat_since = None

    def observe(self, image: npt.NDArray[np.uint8], now: float) -> ContentReading:
        cfg = self.config
        thumb = thumbnail(image)
        std = float(thumb.std())
        previous, self._previous = self._previous, thumb
        if previous is None or previous.shape != thumb.shape or not np.array_equal(previous, thumb):
            self._changed_at = now
        changed_at = now if self._changed_at is None else self._changed_at
        if std <= cfg.blank_max_std:
            if self._flat_since is None:
                self._flat_since = now
        else:
            self._flat_since = None
        unchanged_s = now - changed_at
        flat_s = 0.0 if self._flat_since is None else now - self._flat_since
        # Blank first: a black stream is also an unchanging one, and "blank" says more.
        if cfg.blank_after_s and self._flat_since is not None and flat_s >= cfg.blank_after_s:
            verdict = ContentVerdict.BLANK
        elif cfg.frozen_after_s and unchanged_s >= cfg.frozen_after_s:
            verdict = ContentVerdict.FROZEN
        else:
            verdict = ContentVerdict.OK
        return ContentReading(verdict, std, unchanged_s, flat_s)


def judge_sample(
    thumbs: Sequence[Thumbnail], config: ContentCheckConfig | None = None
) -> tuple[ContentVerdict, str]:
    """A verdict on a few consecutive thumbnails (``hadir edge doctor``), with the reason.

    No duration here: a handful of frames that are all flat, or all bit-identical,
    is already telling for a check run by hand. A check turned off in the config
    (threshold 0) stays off.
    """
    cfg = config or ContentCheckConfig()
    if not thumbs:
        return ContentVerdict.OK, "no frames"
    spread = max(float(t.std()) for t in thumbs)
    if cfg.blank_after_s and spread <= cfg.blank_max_std:
        return (
            ContentVerdict.BLANK,
            f"{len(thumbs)} flat frames (grey-level spread {spread:.2f} <= "
            f"{cfg.blank_max_std:g}): lens covered, no light, or a dead sensor",
        )
    first = thumbs[0]
    if (
        cfg.frozen_after_s
        and len(thumbs) > 1
        and all(t.shape == first.shape and np.array_equal(t, first) for t in thumbs[1:])
    ):
        return (
            ContentVerdict.FROZEN,
            f"{len(thumbs)} identical frames: the driver repeats one picture",
        )
    return ContentVerdict.OK, f"grey-level spread {spread:.1f}"
