"""Synthetic walk-by clips: several people, one after another, for replay tests and demos.

The one real clip in the face data holds one enrolled person. Tests of the
daemon (several attendance events in one run, cooldowns, "unknown" between
known people) need more, with ground truth. :func:`make_walkby_clip` makes such
a clip from still photos: each person's face drifts a few pixels per frame and
grows from 0.9x to 1.1x (someone stepping up to the terminal) over a noisy
background, with empty frames between people. It returns which frames show whom.

Every photo is scaled so its face is about ``face_width`` pixels wide: the LFW
crops in the face data have 125 px faces, the large photos 130-470 px ones, and
dlib's HOG detector at upsample 0 needs about 80 px. The face is found with
that same detector, so a photo it cannot see is refused up front rather than
producing a clip whose ground truth is wrong.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from edge.capture.errors import CaptureError
from edge.capture.frame import RGBImage
from edge.errors import NoFaceError
from edge.recognize.image import read_image

__all__ = ["FRAME_NAME", "Segment", "make_walkby_clip"]

FRAME_NAME = "frame_{:06d}.png"
DEFAULT_FACE_WIDTH = 130.0
# How far from the face the photo is kept: enough head and shoulders to look like
# a person in front of a camera, little enough that a group photo's neighbours
# are cut off.
CONTEXT = 1.1
ZOOM = (0.9, 1.1)
DRIFT_PX = (1.0, 3.0)  # per frame, random direction per person
NOISE_SIGMA = 3.0  # sensor-like noise on every frame, so no two frames are identical
FEATHER = 0.06  # soft photo edges, as a fraction of the pasted photo's size
DETECT_MAX_SIDE = 800

FloatImage = npt.NDArray[np.float32]
Box = tuple[int, int, int, int]  # left, top, right, bottom


@dataclass(frozen=True, slots=True)
class Segment:
    """Frames ``first_frame..last_frame`` (inclusive, from 0) show ``person`` from ``photo``."""

    person: str
    first_frame: int
    last_frame: int
    photo: Path

    @property
    def frames(self) -> range:
        return range(self.first_frame, self.last_frame + 1)

    @property
    def middle(self) -> int:
        return (self.first_frame + self.last_frame) // 2

    def __contains__(self, frame: object) -> bool:
        return isinstance(frame, int) and self.first_frame <= frame <= self.last_frame


def make_walkby_clip(
    photos: Sequence[tuple[str, Path]],
    out: Path,
    *,
    size: tuple[int, int] = (640, 480),
    fps: float = 15.0,
    seconds_per_person: float = 1.0,
    gap_seconds: float = 0.4,
    seed: int = 0,
    face_width: float = DEFAULT_FACE_WIDTH,
) -> list[Segment]:
    """Write a clip of ``photos`` (``(person, photo path)``) walking by; return the ground truth.

    ``out`` ending in ``.mp4`` (or ``.avi``) becomes an MPEG-4 video (fourcc
    ``mp4v``), read back once to prove OpenCV can decode it; any other ``out``
    (an existing folder, or a path without suffix) becomes a folder of
    ``frame_000000.png`` ... files, lossless, for :class:`ReplaySource` folder
    replay. Empty frames come before, between and after the people. ``size`` is
    ``(width, height)``. The same arguments give the same frames.

    Raises ``ValueError`` for impossible arguments, :class:`NoFaceError` for a
    photo without a detectable face, :class:`UnreadableImageError` for a photo
    that cannot be decoded, :class:`CaptureError` when the clip cannot be written.
    """
    width, height = size
    if not photos:
        raise ValueError("photos is empty")
    if width < 64 or height < 64:
        raise ValueError(f"size {size} is too small for a face (at least 64x64)")
    if not (fps > 0 and seconds_per_person > 0 and gap_seconds >= 0 and face_width > 0):
        raise ValueError("fps, seconds_per_person and face_width must be > 0, gap_seconds >= 0")
    if face_width * ZOOM[1] > min(width, height):
        raise ValueError(f"a {face_width:.0f} px face does not fit a {width}x{height} frame")
    per_person = max(1, round(seconds_per_person * fps))
    per_gap = round(gap_seconds * fps)

    rng = np.random.default_rng(seed)
    background = _background(width, height, rng)
    detector = _HogFaceFinder()
    people = [
        _Walker.from_photo(person, Path(photo), detector, face_width, per_person, size, rng)
        for person, photo in photos
    ]

    segments: list[Segment] = []
    frame_count = per_gap
    for walker in people:
        segments.append(
            Segment(walker.person, frame_count, frame_count + per_person - 1, walker.photo)
        )
        frame_count += per_person + per_gap

    def frames() -> Iterator[RGBImage]:
        for _ in range(per_gap):
            yield _noisy(background, rng)
        for walker in people:
            for step in range(per_person):
                yield _noisy(walker.render(background, step), rng)
            for _ in range(per_gap):
                yield _noisy(background, rng)

    if out.suffix.lower() in {".mp4", ".avi"}:
        _write_video(frames(), out, size, fps, frame_count)
    else:
        _write_folder(frames(), out)
    return segments


# -- faces -------------------------------------------------------------------------


class _HogFaceFinder:
    """The largest face dlib's HOG detector sees in a photo, in photo coordinates."""

    def __init__(self) -> None:
        import dlib  # lazily: importing edge.capture must stay cheap

        self._detector: Any = dlib.get_frontal_face_detector()

    def __call__(self, image: RGBImage, name: str) -> Box:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        scale = min(1.0, DETECT_MAX_SIDE / max(grey.shape))
        if scale < 1.0:
            size = (round(grey.shape[1] * scale), round(grey.shape[0] * scale))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        for upsample in (0, 1):
            rects = list(self._detector(grey, upsample))
            if rects:
                best = max(rects, key=lambda r: r.width() * r.height())
                return (
                    round(best.left() / scale),
                    round(best.top() / scale),
                    round(best.right() / scale),
                    round(best.bottom() / scale),
                )
        raise NoFaceError(f"{name}: no face found by the HOG detector")


@dataclass(slots=True)
class _Walker:
    """One person's photo, cut and pre-scaled, and the path it takes across the frame."""

    person: str
    photo: Path
    patch: FloatImage  # the photo around the face, RGB float
    alpha: FloatImage  # feathered edges, same size, (H, W, 1)
    face_centre: tuple[float, float]  # in patch coordinates
    zoom: tuple[float, float]  # patch -> frame scale on the first and the last frame
    steps: int
    start: tuple[float, float]  # where the face centre is on the first frame
    velocity: tuple[float, float]  # pixels per frame

    @classmethod
    def from_photo(
        cls,
        person: str,
        photo: Path,
        find_face: Callable[[RGBImage, str], Box],
        face_width: float,
        steps: int,
        size: tuple[int, int],
        rng: np.random.Generator,
    ) -> _Walker:
        image = read_image(photo)
        left, top, right, bottom = find_face(image, str(photo))
        face = float(max(right - left, bottom - top))
        cx, cy = (left + right) / 2, (top + bottom) / 2
        # Cut around the face (clamped to the photo). A large photo is shrunk once
        # with INTER_AREA to the largest size it will be shown at, so per-frame
        # warps only shrink a little, where linear interpolation does not alias; a
        # small one is left alone, since resampling it twice blurs away HOG's edges.
        reach = face * (0.5 + CONTEXT)
        x0, y0 = max(0, math.floor(cx - reach)), max(0, math.floor(cy - reach))
        x1 = min(image.shape[1], math.ceil(cx + reach))
        y1 = min(image.shape[0], math.ceil(cy + reach * 1.3))  # shoulders below
        crop = image[y0:y1, x0:x1]
        scale = face_width / face  # photo -> frame at zoom 1
        pre = min(1.0, scale * ZOOM[1])
        if pre < 1.0:
            patch_size = (max(1, round(crop.shape[1] * pre)), max(1, round(crop.shape[0] * pre)))
            crop = np.asarray(
                cv2.resize(crop, patch_size, interpolation=cv2.INTER_AREA), dtype=np.uint8
            )
        patch = crop.astype(np.float32)
        centre = ((cx - x0) * pre, (cy - y0) * pre)
        # Fading the photo into the wall must not reach the face: in a tight crop
        # (LFW: the face box is 10 px from the edge) that costs HOG most of its score.
        face_margin = pre * min(left - x0, top - y0, x1 - right, y1 - bottom)

        width, height = size
        angle = rng.uniform(0, 2 * math.pi)
        speed = rng.uniform(*DRIFT_PX)
        velocity = (speed * math.cos(angle), speed * math.sin(angle) * 0.5)
        travel = (velocity[0] * (steps - 1), velocity[1] * (steps - 1))
        # Start so the whole walk keeps the largest face inside the frame.
        half = face_width * ZOOM[1] / 2 + 2
        start = (
            _centred_start(width, half, travel[0], rng),
            _centred_start(height, half, travel[1], rng),
        )
        return cls(
            person=person,
            photo=photo,
            patch=patch,
            alpha=_feather(patch.shape[1], patch.shape[0], face_margin),
            face_centre=centre,
            zoom=(scale * ZOOM[0] / pre, scale * ZOOM[1] / pre),
            steps=steps,
            start=start,
            velocity=velocity,
        )

    def render(self, background: FloatImage, step: int) -> FloatImage:
        t = step / (self.steps - 1) if self.steps > 1 else 0.5
        zoom = self.zoom[0] + (self.zoom[1] - self.zoom[0]) * t
        x = self.start[0] + self.velocity[0] * step
        y = self.start[1] + self.velocity[1] * step
        # Patch -> frame: scale about the face centre, then move it to (x, y).
        matrix = np.array(
            [
                [zoom, 0.0, x - zoom * self.face_centre[0]],
                [0.0, zoom, y - zoom * self.face_centre[1]],
            ],
            dtype=np.float64,
        )
        height, width = background.shape[:2]
        warped = cv2.warpAffine(
            self.patch, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=0
        )
        alpha = cv2.warpAffine(
            self.alpha, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=0
        )[:, :, np.newaxis]
        result: FloatImage = background * (1.0 - alpha) + warped * alpha
        return result


def _centred_start(extent: int, half: float, travel: float, rng: np.random.Generator) -> float:
    low, high = half, extent - half
    lo_start, hi_start = low - min(0.0, travel), high - max(0.0, travel)
    if lo_start > hi_start:
        # The walk is longer than the room it has: centre it and let it clip.
        return extent / 2 - travel / 2
    middle = (lo_start + hi_start) / 2
    spread = (hi_start - lo_start) / 4
    return float(rng.uniform(middle - spread, middle + spread))


def _feather(width: int, height: int, face_margin: float) -> FloatImage:
    ramp = max(1.0, min(FEATHER * min(width, height), face_margin / 2))

    def axis(n: int) -> npt.NDArray[np.float32]:
        distance = np.minimum(np.arange(n), np.arange(n)[::-1]).astype(np.float32)
        return np.asarray(np.clip((distance + 0.5) / ramp, 0.0, 1.0), dtype=np.float32)

    alpha: FloatImage = np.outer(axis(height), axis(width)).astype(np.float32)
    return alpha


# -- frames ------------------------------------------------------------------------


def _background(width: int, height: int, rng: np.random.Generator) -> FloatImage:
    """A plain wall: a soft two-colour gradient, with faint texture but nothing face-like."""
    top = rng.uniform(90, 170, size=3)
    bottom = top + rng.uniform(-40, 40, size=3)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    wall = top * (1 - ramp) + bottom * ramp
    coarse = rng.normal(0.0, 6.0, size=(height // 8 + 1, width // 8 + 1)).astype(np.float32)
    texture = np.asarray(
        cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC), dtype=np.float32
    )
    image = wall + texture[:, :, None]
    return np.asarray(np.broadcast_to(image, (height, width, 3)), dtype=np.float32)


def _noisy(image: FloatImage, rng: np.random.Generator) -> RGBImage:
    noise = rng.normal(0.0, NOISE_SIGMA, size=image.shape).astype(np.float32)
    return np.ascontiguousarray(np.clip(image + noise, 0, 255).astype(np.uint8))


def _write_folder(frames: Iterator[RGBImage], out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CaptureError(f"{out}: cannot create the frame folder ({exc})") from exc
    for index, frame in enumerate(frames):
        path = out / FRAME_NAME.format(index)
        if not cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)):
            raise CaptureError(f"{path}: OpenCV could not write the frame")


def _write_video(
    frames: Iterator[RGBImage], out: Path, size: tuple[int, int], fps: float, expected: int
) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter.fourcc(*"mp4v")
    writer = cv2.VideoWriter(str(out), fourcc, fps, size)
    if not writer.isOpened():
        raise CaptureError(f"{out}: OpenCV cannot write an mp4v video here")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    # A writer that silently produced nothing playable (missing codec support)
    # would otherwise surface much later as a confusing replay error.
    capture = cv2.VideoCapture(str(out))
    try:
        decoded = 0
        while capture.isOpened():
            ok, _ = capture.read()
            if not ok:
                break
            decoded += 1
    finally:
        capture.release()
    if decoded != expected:
        raise CaptureError(f"{out}: wrote {expected} frames but OpenCV reads back {decoded}")
