"""The idle gate: an empty corridor must not cost a core of face detection.

A wall terminal sees nobody most of the day, and HOG on a 720p frame costs ~85 ms here (about
4x that on a Pi 4), so scanning every third frame of an empty scene keeps a core busy all day.
:class:`IdleGate` looks at a tiny grey thumbnail of each frame (about 0.2 ms) and tells the
loop whether detection may be skipped:

* **motion**: enough thumbnail pixels differ from a slowly adapting background. The first
  frame that wakes the gate gets a full scan at once, so a face that appears is looked for on
  the frame it appears in; while things keep changing, and for ``hold_s`` after, the loop runs
  its usual cadence (a full scan every ``full_scan_every`` frames).
* **tracking**: while any face is tracked the gate is open and the loop runs exactly as without
  it.
* **changed** / **periodic**: while resting, a full scan at most every ``scan_interval_s`` when
  the picture differs from the last one a scan found empty (someone who came in too slowly to
  wake it), and one every ``max_rest_s`` whatever the picture.
* **rest**: otherwise, no grey conversion and no detection at all.

The thumbnail is an RGB frame shrunk with linear interpolation (which averages 2x2 pixels),
turned grey and blurred (sigma 1 thumbnail pixel): with sensor noise of sigma 5 grey levels in
the frame, two thumbnails of a still scene differ with a spread of ~0.4 (sigma 20: ~1.2), far
under ``pixel_threshold``. Before comparing, the
thumbnail is scaled so its mean matches the background's: a light change that brightens or
darkens the whole picture (daylight, a cloud, the camera's exposure) is a gain, not a change.
What light does unevenly is learnt by the background, whose time constant is ``background_s``.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import structlog

from edge.recognize.config import IdleConfig
from edge.recognize.types import Image

log = structlog.get_logger(__name__)

Thumbnail = npt.NDArray[np.float32]

BLUR_SIGMA = 1.0
"""Blur of the thumbnail, in thumbnail pixels: takes sensor noise out, keeps a face's blob."""

MIN_MEAN = 1.0
"""A thumbnail darker than this on average is not gain-corrected (no light to scale)."""

DRIFT_TOLERANCE = 0.1
"""Against the last empty picture, a pixel must also differ by this fraction of its value.

That comparison spans seconds to minutes, in which light changes unevenly (a gradient across
the room, highlights clipping at 255) by more than ``pixel_threshold`` alone: measured on the
benchmark's light cycle (0.8x -> 1.2x with a +-8% gradient turning over), 30% of the pixels
drift past 10 grey levels, none past 10 + 10%; a 60 px face on the same scene still changes
twice ``min_changed``."""


class GateReason(enum.StrEnum):
    """Why the gate let a frame through to detection, or ``rest`` when it did not."""

    TRACKING = "tracking"
    MOTION = "motion"
    HOLD = "hold"
    CHANGED = "changed"
    PERIODIC = "periodic"
    REST = "rest"


_CADENCE = frozenset({GateReason.TRACKING, GateReason.MOTION, GateReason.HOLD})
"""Reasons for which the loop runs its usual detection cadence."""


@dataclass(frozen=True, slots=True)
class GateDecision:
    reason: GateReason
    full_scan: bool
    """Scan the whole frame now, whatever the loop's cadence says."""
    changed: float
    """Fraction of thumbnail pixels that differ from the background."""

    @property
    def rest(self) -> bool:
        return self.reason is GateReason.REST


class IdleGate:
    """Frames in, "detect or rest" out; told what each full scan found.

    Times are the frames' capture times (monotonic seconds), so tests drive it without
    waiting. Not thread-safe: one gate per recognition loop.
    """

    def __init__(self, config: IdleConfig) -> None:
        self.config = config
        self._background: Thumbnail | None = None
        self._empty: Thumbnail | None = None  # the picture the last empty scan saw
        self._thumb: Thumbnail | None = None  # this frame's, for scanned()
        self._seen_at: float | None = None  # the previous frame's time
        self._active_at = -math.inf  # last motion or tracked face
        self._scanned_at = -math.inf  # last full scan, whoever asked for it
        self._last = GateReason.REST
        self.counters = {reason.value: 0 for reason in GateReason}
        self.counters["wakes"] = 0
        self.counters["scans"] = 0

    def reset(self) -> None:
        """Forget the background (the camera reconnected: a new picture)."""
        self._background = None
        self._empty = None
        self._seen_at = None
        self._active_at = -math.inf
        self._scanned_at = -math.inf
        self._last = GateReason.REST

    def check(self, image: Image, now: float, *, tracking: bool) -> GateDecision:
        """Decide for one frame; ``tracking`` says the loop follows at least one face."""
        cfg = self.config
        thumb = thumbnail(image, cfg.thumb_width)
        self._thumb = thumb
        background = self._background
        if background is None or background.shape != thumb.shape:
            # Nothing to compare with. Not "motion" (which would hold the gate open): the
            # first picture is scanned because no scan has been made yet, as "periodic".
            self._background = thumb.copy()
            self._empty = None
            self._scanned_at = -math.inf
            changed = 0.0
        else:
            changed = changed_fraction(thumb, background, cfg.pixel_threshold)
            dt = 0.0 if self._seen_at is None else max(0.0, now - self._seen_at)
            alpha = min(1.0, dt / cfg.background_s)
            cv2.accumulateWeighted(thumb, background, alpha)
        self._seen_at = now
        if tracking:
            reason, scan = GateReason.TRACKING, False
            self._active_at = now
        elif changed >= cfg.min_changed:
            # The loop's cadence may be two frames from its next scan: the frame that wakes
            # the gate is scanned at once, so a face is looked for on the frame it appears in.
            reason, scan = GateReason.MOTION, self._last not in _CADENCE
            self._active_at = now
        elif now - self._active_at < cfg.hold_s:
            reason, scan = GateReason.HOLD, False
        elif now - self._scanned_at >= cfg.max_rest_s:
            reason, scan = GateReason.PERIODIC, True
        elif now - self._scanned_at >= cfg.scan_interval_s and (
            self._empty is None
            or changed_fraction(thumb, self._empty, cfg.pixel_threshold, DRIFT_TOLERANCE)
            >= cfg.min_changed
        ):
            reason, scan = GateReason.CHANGED, True
        else:
            reason, scan = GateReason.REST, False
        self._count(reason, changed)
        return GateDecision(reason, scan, changed)

    def scanned(self, now: float, *, faces: int) -> None:
        """The loop scanned this frame whole and found ``faces`` faces.

        A scan that found nobody makes this picture the empty reference: until the picture
        moves away from it, a resting gate has no reason to scan again before ``max_rest_s``.
        """
        self._scanned_at = now
        self.counters["scans"] += 1
        if faces == 0 and self._thumb is not None:
            self._empty = self._thumb

    def _count(self, reason: GateReason, changed: float) -> None:
        self.counters[reason.value] += 1
        previous, self._last = self._last, reason
        if (reason in _CADENCE) == (previous in _CADENCE):
            return
        # One line per change of mode, never per frame.
        if reason in _CADENCE:
            self.counters["wakes"] += 1
            log.debug("idle_wake", reason=reason.value, changed=round(changed, 4))
        else:
            log.debug("idle_rest")

    def stats(self) -> dict[str, Any]:
        """Frames per reason, wakes (resting -> the usual cadence) and full scans."""
        return dict(self.counters)


def thumbnail(image: Image, width: int) -> Thumbnail:
    """A grey, blurred ``width``-pixel-wide copy of an RGB (or grey) frame, as float32."""
    height, full_width = image.shape[:2]
    size = (width, max(1, round(height * width / full_width)))
    # Linear interpolation averages the 2x2 pixels around each sample point: ~0.1 ms at
    # 720p where INTER_AREA, averaging every pixel, takes ~1.5 ms, and the blur below takes
    # the noise out that averaging would have.
    small = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    if small.ndim == 3:
        small = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    blurred = cv2.GaussianBlur(small.astype(np.float32), (0, 0), BLUR_SIGMA)
    return np.asarray(blurred, dtype=np.float32)


def changed_fraction(
    thumb: Thumbnail, reference: Thumbnail, threshold: float, relative: float = 0.0
) -> float:
    """Fraction of pixels differing by more than ``threshold`` (plus ``relative`` of the
    reference's value) once the gain is matched."""
    mean = float(cv2.mean(thumb)[0])
    gain = float(cv2.mean(reference)[0]) / mean if mean >= MIN_MEAN else 1.0
    diff = cv2.absdiff(thumb * np.float32(gain), reference)
    limit = threshold + relative * reference if relative else threshold
    return float(np.count_nonzero(diff > limit)) / float(diff.size)
