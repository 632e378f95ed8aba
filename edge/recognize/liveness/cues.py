"""The liveness cues, each a pure function of a few observations of one track.

Every cue returns a :class:`Cue`: how strongly it speaks for an attack (``attack``, 0..1)
and how much it could see (``weight``, 0 when it had nothing to go on). A cue never decides
alone: :mod:`edge.recognize.liveness.evidence` fuses them (docs/liveness.md has the
measurements behind each one).

Geometry is in *face units*: distances divided by the face box width, so a cue reads the
same for a 90 px face in the corridor and a 300 px face at the wall.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from edge.recognize.types import Box, Image

Points = npt.NDArray[np.float32]
"""``(N, 2)`` float32 x, y in full-frame pixels."""

# dlib's 68-point layout: the rigid part of the face (brows, nose, eye corners) moves with
# the skull; the jaw line slides along the cheek as the head turns and the mouth and lids
# move on their own, so those say little about the shape of the head.
RIGID = np.r_[17:27, 27:36, 36, 39, 42, 45]
LEFT_EYE = np.arange(36, 42)
RIGHT_EYE = np.arange(42, 48)
INNER_MOUTH = np.arange(60, 68)

# The crop around a face that motion cues work on, in face units from the face centre: wide
# enough to hold the border of a phone or a printed photo, and the background beside the head.
WINDOW_X = 2.2
WINDOW_UP = 1.8
WINDOW_DOWN = 2.4
WINDOW_FACE_PX = 64  # face width in the crop; the cues need shape, not detail
EDGE_POINTS = 5  # points tracked along each straight edge


@dataclass(frozen=True, slots=True)
class Cue:
    """One cue's reading: ``attack`` 0 (live) .. 1 (attack), trusted as much as ``weight``."""

    attack: float
    weight: float

    @staticmethod
    def blind() -> Cue:
        return Cue(0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Window:
    """A grey crop around a face, scaled so the face is :data:`WINDOW_FACE_PX` wide."""

    image: Image
    left: float  # full-frame coordinates of the crop's origin
    top: float
    scale: float  # crop pixels per frame pixel
    # The crop's far edges in the frame: another frame is cut at exactly these pixels. Edges
    # recomputed from the scaled size can land a pixel off, and resampling a crop one pixel
    # wider into the same size is a fake motion of a few thousandths of a face width: as
    # much as a held-still photo's whole travel (liveness.still_travel).
    right: int = 0
    bottom: int = 0

    @classmethod
    def around(cls, grey: Image, box: Box) -> Window:
        height, width = grey.shape[:2]
        cx, cy = box.center
        fw = max(1, box.width)
        left = int(max(0, cx - WINDOW_X * fw))
        right = int(min(width, cx + WINDOW_X * fw))
        top = int(max(0, cy - WINDOW_UP * fw))
        bottom = int(min(height, cy + WINDOW_DOWN * fw))
        scale = WINDOW_FACE_PX / fw
        crop = grey[top:bottom, left:right]
        size = (max(8, round(crop.shape[1] * scale)), max(8, round(crop.shape[0] * scale)))
        small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        return cls(np.ascontiguousarray(small, dtype=np.uint8), left, top, scale, right, bottom)

    def same_place(self, grey: Image) -> Window:
        """The same region of another frame, at the same scale (motion is measured in it)."""
        height, width = self.image.shape[:2]
        crop = grey[int(self.top) : self.bottom, int(self.left) : self.right]
        small = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)
        return Window(
            np.ascontiguousarray(small, dtype=np.uint8),
            self.left,
            self.top,
            self.scale,
            self.right,
            self.bottom,
        )

    def to_window(self, points: Points) -> Points:
        return ((points - (self.left, self.top)) * self.scale).astype(np.float32)


@dataclass(frozen=True, slots=True)
class MotionPair:
    """Two frames of one face for the motion cues: ``after`` is ``before``'s region of the
    later frame (:meth:`Window.same_place`), the landmarks are in full-frame pixels, and
    ``camera_shift`` is how the whole frame moved (full-frame pixels; (0, 0) for a fixed
    camera)."""

    before: Window
    after: Window
    face_before: Points
    face_after: Points
    face_width: float
    camera_shift: tuple[float, float] = (0.0, 0.0)

    def glued_motion(self) -> npt.NDArray[np.float64] | None:
        """The homography that carries the face's rigid landmarks from one frame to the
        other, in window pixels: what a point glued to a tilting picture of the face does."""
        homography: Any = cv2.findHomography(
            self.before.to_window(self.face_before[RIGID]),
            self.before.to_window(self.face_after[RIGID]),
            cv2.LMEDS,
        )[0]
        return None if homography is None else np.asarray(homography, dtype=np.float64)

    def still_shift(self) -> npt.NDArray[np.float32]:
        """Where the room moved, in window pixels."""
        return np.asarray(self.camera_shift, dtype=np.float32) * self.before.scale


def face_motion(first: Points, last: Points, face_width: float) -> float:
    """The median landmark displacement between two looks, in face units."""
    shift = np.linalg.norm(last[RIGID] - first[RIGID], axis=1)
    return float(np.median(shift)) / max(1.0, face_width)


def flatness(first: Points, last: Points, face_width: float) -> Cue:
    """Do the rigid landmarks move as a plane (a photo or a screen) or as a head?

    A planar object's points map from one view to the next by a homography; a head turning
    even a few degrees moves the nose against the eyes in a way a homography cannot follow.
    The cue only speaks when the motion was more than a similarity (shift, scale, in-plane
    turn) could explain: a face that only slides or comes closer is as flat as a photo.
    """
    src = first[RIGID].astype(np.float64)
    dst = last[RIGID].astype(np.float64)
    # OpenCV returns None for degenerate point sets; its stubs do not say so.
    similarity: Any = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)[0]
    if similarity is None:
        return Cue.blind()
    sim_res = _rms(cv2.transform(src[None], similarity)[0] - dst) / face_width
    # Landmark noise is about 1% of the face width: below ~2.5% the view barely changed.
    change = sim_res - 0.025
    # Most pairs of looks end here, so the homography is only fitted for the others.
    if change <= 0:
        return Cue.blind()
    homography: Any = cv2.findHomography(src, dst, 0)[0]
    if homography is None:
        return Cue.blind()
    hom_res = _rms(cv2.perspectiveTransform(src[None], homography)[0] - dst) / face_width
    planar = 1.0 - min(1.0, hom_res / max(1e-6, 0.45 * sim_res))
    return Cue(float(np.clip(planar, 0.0, 1.0)), float(min(1.0, change / 0.03)))


def attached_surround(pair: MotionPair, motion: npt.NDArray[np.float64] | None = None) -> Cue:
    """Does what is beside the face move with it (a held picture) or stay put (a room)?

    Corners are tracked in the ring beside and above the face (not below: shoulders move
    with a live head). Each is compared with where it would be if it were glued to the face
    (the face's motion applied to it) and where it would be if it were the still background.
    A live head moves in front of a room that does not move; a photo, phone or tablet
    carries its own surround, or at least its border, with the face. ``motion``:
    ``pair.glued_motion()`` when the caller has it already.
    """
    if motion is None:
        motion = pair.glued_motion()
    if motion is None:
        return Cue.blind()
    before = pair.before
    ring = _ring_mask(before, pair.face_before, pair.face_width)
    start = masked_corners(before.image, ring)
    if len(start) < 6:
        return Cue.blind()
    glued = cv2.perspectiveTransform(start[None], motion)[0]
    # The room moves only when the camera does (a terminal's camera is fixed; a hand-held
    # test clip is not): the still hypothesis follows the whole frame's shift.
    still = start + pair.still_shift()
    tracked, ok = _track(before.image, pair.after.image, start)
    if ok.sum() < 6:
        return Cue.blind()
    found = tracked[ok]
    glued_votes, still_votes = _votes(
        np.linalg.norm(found - glued[ok], axis=1),
        np.linalg.norm(found - still[ok], axis=1),
        np.linalg.norm(glued[ok] - still[ok], axis=1),
    )
    if glued_votes + still_votes == 0:
        return Cue.blind()
    # One phantom vote each way, so that a single corner cannot read 0 or 1.
    share = (glued_votes + 0.5) / (glued_votes + still_votes + 1.0)
    return Cue(share, float(glued_votes + still_votes))


def frame_edges(pair: MotionPair, motion: npt.NDArray[np.float64] | None = None) -> Cue:
    """Do straight edges beside or above the face move with it (the border of a photo, a
    phone or a tablet) or stay put (a door frame, a shelf)?

    Rooms are full of straight lines, so a line near a face proves nothing; a line that
    follows the face's every move does. Only the motion across an edge can be seen (along
    it, one point of a straight edge looks like the next), so each edge is judged by the
    component of its motion along its normal. ``motion``: ``pair.glued_motion()`` when the
    caller has it already.
    """
    if motion is None:
        motion = pair.glued_motion()
    if motion is None:
        return Cue.blind()
    glued_votes, still_votes = _votes(*edge_readings(pair, motion, edge_segments(pair)))
    if glued_votes + still_votes == 0:
        return Cue.blind()
    # The room's own edges do not excuse a border: any straight edge that follows the face
    # counts, however many still ones the room has.
    return Cue(min(1.0, glued_votes / 2.0), 1.0)


EdgeReadings = tuple[
    npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]
]
"""Per edge that was tracked: its distance from the glued hypothesis, from the still one,
and the two hypotheses' distance apart (crop pixels across the edge)."""


def edge_readings(
    pair: MotionPair, motion: npt.NDArray[np.float64], segments: npt.NDArray[np.float32]
) -> EdgeReadings:
    """The straight edges among ``segments`` (x0, y0, x1, y1 rows, window pixels) that the
    cue reads, judged at once: one optical-flow call for all their points (Lucas-Kanade
    tracks each point on its own, so this reads what one call per edge did, without a
    Python loop and a call per edge)."""
    before = pair.before
    centre = _face_centre(pair)
    unit = pair.face_width * before.scale
    none = np.zeros(0), np.zeros(0), np.zeros(0)
    x0, y0, x1, y1 = segments.T
    dx, dy = x1 - x0, y1 - y0
    length = np.hypot(dx, dy)
    mid_x, mid_y = (x0 + x1) / 2 - centre[0], (y0 + y1) / 2 - centre[1]
    # Only edges close to the face: a picture's border is the first straight edge beside or
    # above the face, where a live person shows hair, ears or the room.
    beside = (0.55 * unit <= abs(mid_x)) & (abs(mid_x) <= 1.4 * unit)
    beside &= (-1.2 * unit <= mid_y) & (mid_y <= 0.9 * unit)
    above = (-1.5 * unit <= mid_y) & (mid_y <= -0.7 * unit)
    above &= abs(mid_x) <= 1.2 * unit
    keep = (length.astype(np.float64) >= 0.5 * unit) & (beside | above)
    if not keep.any():
        return none
    segments, length = segments[keep], length[keep]
    direction = segments[:, 2:] - segments[:, :2]
    normal = np.stack([-direction[:, 1], direction[:, 0]], axis=1) / length[:, None]
    ts = np.linspace(0.15, 0.85, EDGE_POINTS, dtype=np.float32)[:, None]
    # (edges, EDGE_POINTS, 2): points spread along each edge, away from its ends.
    points = (segments[:, None, :2] + ts[None] * direction[:, None, :]).astype(np.float32)
    flat = points.reshape(-1, 2)
    glued = (cv2.perspectiveTransform(flat[None], motion)[0] - flat).reshape(points.shape)
    tracked, found = _track(before.image, pair.after.image, flat)
    moved = (tracked - flat).reshape(points.shape)
    ok = found.reshape(points.shape[:2])
    seen_across = np.where(ok, np.einsum("epc,ec->ep", moved, normal), np.nan)
    glued_across = np.where(ok, np.einsum("epc,ec->ep", glued, normal), np.nan)
    enough = ok.sum(axis=1) >= 3
    if not enough.any():
        return none
    seen = _row_medians(seen_across[enough]).astype(np.float64)
    expect_glued = _row_medians(glued_across[enough]).astype(np.float64)
    expect_still = (normal[enough] @ pair.still_shift()).astype(np.float64)
    return (
        np.abs(seen - expect_glued),
        np.abs(seen - expect_still),
        np.abs(expect_glued - expect_still),
    )


def _row_medians(values: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The median of each row's numbers, NaN standing for a missing one: what np.median
    gives for each row's numbers alone (the middle one, or the mean of the middle two), at
    a fraction of np.nanmedian's cost on short rows."""
    ordered = np.sort(values, axis=1)  # NaN sorts last
    count = (~np.isnan(values)).sum(axis=1)
    rows = np.arange(len(values))
    low, high = ordered[rows, (count - 1) // 2], ordered[rows, count // 2]
    return np.asarray((low + high) / np.float32(2), dtype=np.float32)


def _votes(
    to_glued: npt.NDArray[np.floating[Any]],
    to_still: npt.NDArray[np.floating[Any]],
    apart: npt.NDArray[np.floating[Any]],
) -> tuple[int, int]:
    """How many features clearly fit "glued to the face" and how many "still": a feature
    votes only when its hypotheses are at least 1.5 crop pixels apart and it lies within a
    third of that distance of one of them."""
    decisive = apart >= 1.5
    glued = int(((to_glued < 0.35 * apart) & decisive).sum())
    still = int(((to_still < 0.35 * apart) & decisive).sum())
    return glued, still


def _track(before: Image, after: Image, points: Points) -> tuple[Points, npt.NDArray[np.bool_]]:
    """Pyramidal Lucas-Kanade: where ``points`` of ``before`` went in ``after``, and which
    of them were found."""
    lucas_kanade: Any = cv2.calcOpticalFlowPyrLK
    tracked, status, _ = lucas_kanade(
        before, after, points.reshape(-1, 1, 2), None, winSize=(9, 9), maxLevel=2
    )
    found = np.asarray(tracked, dtype=np.float32).reshape(-1, 2)
    return found, np.asarray(status).reshape(-1).astype(bool)


def edge_segments(pair: MotionPair) -> npt.NDArray[np.float32]:
    """Line segments (x0, y0, x1, y1 rows, window pixels) of ``pair.before``'s window.

    The whole window, though only edges beside and above the face are read: the line
    detector's thresholds follow the size of the image and its strongest gradient, so a
    smaller crop finds other segments (measured: searching only the part that is read,
    with a margin, changed three verdicts of the synthetic attacks)."""
    # OpenCV returns None when there is no segment; its stubs do not say so.
    found: Any = _LSD.detect(pair.before.image)[0]
    if found is None:
        return np.zeros((0, 4), dtype=np.float32)
    return np.asarray(found, dtype=np.float32).reshape(-1, 4)


def _face_centre(pair: MotionPair) -> npt.NDArray[np.float32]:
    """The centre of the face's rigid landmarks in the first frame, in window pixels."""
    centre = pair.before.to_window(pair.face_before[RIGID].mean(axis=0, keepdims=True))
    return np.asarray(centre[0], dtype=np.float32)


_LSD = cv2.createLineSegmentDetector()


def face_shift(before: Window, after: Window, face: Points) -> float:
    """How far the face moved between two frames, in face units, to a small fraction of a
    pixel (phase correlation of the face's own patch: sensor noise does not move it)."""
    centre = before.to_window(face[RIGID].mean(axis=0, keepdims=True))[0]
    half = WINDOW_FACE_PX // 2
    x0 = int(np.clip(centre[0] - half, 0, max(0, before.image.shape[1] - 2 * half)))
    y0 = int(np.clip(centre[1] - half, 0, max(0, before.image.shape[0] - 2 * half)))
    a = before.image[y0 : y0 + 2 * half, x0 : x0 + 2 * half].astype(np.float32)
    b = after.image[y0 : y0 + 2 * half, x0 : x0 + 2 * half].astype(np.float32)
    if a.shape != b.shape or min(a.shape) < 16:
        return 0.0
    (dx, dy), _ = cv2.phaseCorrelate(a, b, cv2.createHanningWindow(a.shape[::-1], cv2.CV_32F))
    return float(np.hypot(dx, dy)) / WINDOW_FACE_PX


def frame_shift(before: Image, after: Image) -> tuple[float, float]:
    """How the camera moved between two thumbnails, in their pixels: the median motion of
    corners in the frame's outer band, where a held picture rarely reaches. A fixed camera
    (a terminal's) gives (0, 0); a hand-held one moves the whole room."""
    height, width = before.shape[:2]
    band = np.full((height, width), 255, dtype=np.uint8)
    inset_y, inset_x = height // 6, width // 6
    band[inset_y : height - inset_y, inset_x : width - inset_x] = 0
    corners = cv2.goodFeaturesToTrack(before, 40, 0.02, 4, mask=band)
    if corners is None or len(corners) < 8:
        return (0.0, 0.0)
    start = corners.reshape(-1, 2).astype(np.float32)
    tracked, ok = _track(before, after, start)
    if ok.sum() < 8:
        return (0.0, 0.0)
    moves = (tracked - start)[ok]
    median = np.median(moves, axis=0)
    # Only a motion most of the band shares is the camera's.
    agree = np.linalg.norm(moves - median, axis=1) < 0.75
    if agree.mean() < 0.6 or float(np.hypot(*median)) < 0.3:
        return (0.0, 0.0)
    return (float(median[0]), float(median[1]))


def thumbnail(grey: Image, width: int = 160) -> Image:
    scale = width / grey.shape[1]
    size = (width, max(8, round(grey.shape[0] * scale)))
    return np.asarray(cv2.resize(grey, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def eye_openness(points: Points) -> float:
    """Eye aspect ratio (height over width, both eyes averaged): falls to ~0.1 in a blink."""
    return (_ear(points[LEFT_EYE]) + _ear(points[RIGHT_EYE])) / 2.0


def mouth_openness(points: Points, face_width: float) -> float:
    """Inner lip gap in face units: moves when a person talks or smiles."""
    top = points[[61, 62, 63]].mean(axis=0)
    bottom = points[[65, 66, 67]].mean(axis=0)
    return float(np.linalg.norm(bottom - top)) / max(1.0, face_width)


def _ear(eye: Points) -> float:
    vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
    horizontal = np.linalg.norm(eye[0] - eye[3])
    return float(vertical / (2.0 * horizontal)) if horizontal > 0 else 0.0


def masked_corners(image: Image, mask: Image) -> Points:
    """``cv2.goodFeaturesToTrack`` (60 corners, quality 0.02, 4 px apart) in ``mask``,
    computed on the part of the image around the mask only: the corner strength at a pixel
    depends on its neighbours 2 px away at most, and the quality threshold is taken in the
    mask, so the corners are the same, for the cost of a smaller image."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return np.zeros((0, 2), dtype=np.float32)
    margin = 4
    top, bottom = max(0, int(rows[0]) - margin), min(mask.shape[0], int(rows[-1]) + 1 + margin)
    left, right = max(0, int(cols[0]) - margin), min(mask.shape[1], int(cols[-1]) + 1 + margin)
    corners: Any = cv2.goodFeaturesToTrack(
        np.ascontiguousarray(image[top:bottom, left:right]),
        maxCorners=60,
        qualityLevel=0.02,
        minDistance=4,
        mask=np.ascontiguousarray(mask[top:bottom, left:right]),
    )
    if corners is None:
        return np.zeros((0, 2), dtype=np.float32)
    offset = np.array([left, top], dtype=np.float32)
    return np.asarray(corners, dtype=np.float32).reshape(-1, 2) + offset


def _ring_mask(window: Window, face: Points, face_width: float) -> Image:
    """Beside and above the head, in the window: where the room shows behind a live person."""
    height, width = window.image.shape[:2]
    mask = np.zeros((height, width), dtype=np.uint8)
    centre = window.to_window(face[RIGID].mean(axis=0, keepdims=True))[0]
    unit = face_width * window.scale
    cx, cy = float(centre[0]), float(centre[1])
    # Hair and ears reach ~0.75 face widths from the centre; the ring starts past them.
    inner, outer = 0.8 * unit, 2.1 * unit
    top, bottom = cy - 1.6 * unit, cy + 0.6 * unit
    for x0, x1 in ((cx - outer, cx - inner), (cx + inner, cx + outer)):
        cv2.rectangle(mask, (int(x0), int(top)), (int(x1), int(bottom)), 255, -1)
    cv2.rectangle(
        mask, (int(cx - outer), int(top)), (int(cx + outer), int(cy - 1.05 * unit)), 255, -1
    )
    return mask


def _rms(diff: npt.NDArray[np.float64]) -> float:
    return float(np.sqrt(np.mean(np.sum(diff**2, axis=1))))
