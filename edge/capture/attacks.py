"""Presentation-attack footage: photos and screens held up to a terminal's camera.

Six real attack stills are far too few to build or measure a liveness detector,
and real attacks are videos anyway: a print or a phone moved by a hand. This
module renders such videos from the live material in the face data
(docs/capture.md, "Attack footage"). The medium is a textured plane in 3D,
posed per frame by a hand model (approach, tilt, in-plane rotation, drift,
tremor, shakes) and projected through a pinhole camera with a real homography,
over a room that has straight lines of its own. Paper has white margins, a
matte or glossy finish and a slight curl; screens have bezels, rounded corners,
their own gamma and tint, and a sub-pixel grid drawn at the screen's pixel
pitch, so that resampling it to camera pixels beats into moire the way a real
recapture does. One camera model (exposure, white balance, vignetting, optics,
noise, tone curve, JPEG) is applied to the whole frame, medium and room alike,
so a detector cannot tell an attack by a rendering artefact of one layer.

Everything is drawn from ``AttackSpec.seed``: the same spec gives the same frames.
"""

from __future__ import annotations

import enum
import functools
import math
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from edge.capture.errors import CaptureError, InvalidSourceError, SourceNotFoundError
from edge.capture.frame import RGBImage
from edge.capture.synth import Box, _HogFaceFinder, _write_folder, _write_video
from edge.errors import NoFaceError
from edge.recognize.image import read_image

__all__ = [
    "CLIP_SOURCES",
    "HOLDOUT_IDENTITIES",
    "AttackKind",
    "AttackSpec",
    "attack_catalogue",
    "render_attack",
    "source_identity",
    "write_attack_clip",
]

FloatImage = npt.NDArray[np.float32]


class AttackKind(enum.StrEnum):
    PRINT_STILL = "print_still"  # paper photo held nearly still (hand tremor only)
    PRINT_MOVING = "print_moving"  # paper photo moved by a hand: approach, tilt, rotation, shake
    PHONE_PHOTO = "phone_photo"  # phone screen showing a face photo, hand-held
    PHONE_VIDEO = "phone_video"  # phone screen replaying a live clip (talking head, webcam)
    TABLET = "tablet"  # tablet screen showing a photo, larger, hand-held


@dataclass(frozen=True, slots=True)
class AttackSpec:
    """One attack clip: what is held up (``kind``), showing what (``source``), drawn how (``seed``).

    ``source`` is a face photo, or a video clip for :attr:`AttackKind.PHONE_VIDEO`.
    ``size`` is the camera frame's ``(width, height)``.
    """

    kind: AttackKind
    source: Path
    seed: int
    size: tuple[int, int] = (960, 540)
    fps: float = 15.0
    seconds: float = 3.0

    def __post_init__(self) -> None:
        width, height = self.size
        if width < 320 or height < 240:
            raise ValueError(f"size {self.size} is too small for an attack clip (at least 320x240)")
        if not (self.fps > 0 and self.seconds > 0):
            raise ValueError(f"fps ({self.fps}) and seconds ({self.seconds}) must be > 0")
        if not isinstance(self.kind, AttackKind):
            raise ValueError(f"kind {self.kind!r} is not an AttackKind")
        is_clip = self.source.suffix.lower() in CLIP_SUFFIXES
        if is_clip != (self.kind is AttackKind.PHONE_VIDEO):
            wanted = "a video clip" if self.kind is AttackKind.PHONE_VIDEO else "a photo"
            raise ValueError(f"{self.kind.value} needs {wanted} as its source, not {self.source}")

    @property
    def name(self) -> str:
        """A file-name-safe label, e.g. ``phone_video-talking_head_1-s3``."""
        return f"{self.kind.value}-{_source_label(self.source)}-s{self.seed}"

    @property
    def frame_count(self) -> int:
        return max(1, round(self.seconds * self.fps))


# -- sources and the split --------------------------------------------------------------

CLIP_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm"})

# Clips a phone replays; all show live people who are in no photo of the data.
CLIP_SOURCES = (
    "video/talking_head_1.mp4",
    "video/talking_head_2.mp4",
    "video/webcam_single_face.mp4",
    "video/expressions_hand_over_face.mp4",
)
PHOTO_FOLDERS = ("people", "liveness/live")
# Held out for measuring. By identity, never by seed: attacks rendered from the same
# face (or the same clip) share the face, the photo's own background and lighting, so
# a detector tuned on one seed of a face and measured on another would be graded on
# material it has already seen. Each source family is represented: an LFW crop
# (john_simm), large press photos (rose_leslie, lin_manuel_miranda), live camera
# shots from the liveness data (vietmoney_live_3 and silentface_live, the people of
# the real attack stills, which are measured too) and one talking-head clip.
HOLDOUT_IDENTITIES = frozenset(
    {
        "john_simm",
        "rose_leslie",
        "lin_manuel_miranda",
        "vietmoney_live_3",
        "silentface_live",
        "talking_head_2",
    }
)
SPECS_PER_KIND = {"tune": 12, "holdout": 8}
_PHOTO_KINDS = (
    AttackKind.PRINT_STILL,
    AttackKind.PRINT_MOVING,
    AttackKind.PHONE_PHOTO,
    AttackKind.TABLET,
)


def source_identity(source: Path) -> str:
    """Whose face ``source`` shows: the person folder in ``people/``, else the file's stem.

    The webcam clips all show one man in one room, so they share an identity.
    """
    if source.parent.parent.name == "people":
        return source.parent.name
    if source.stem.startswith("webcam_"):
        return "webcam_man"
    return source.stem


def _source_label(source: Path) -> str:
    if source.parent.parent.name == "people":
        return f"{source.parent.name}_{source.stem}"
    return source.stem


def attack_catalogue(faces_dir: Path, split: Literal["tune", "holdout"]) -> list[AttackSpec]:
    """The standard attack specs of one split: every kind, each source identity in one split only.

    ``split`` is ``"tune"`` (about 2/3 of the identities) or ``"holdout"`` (the
    rest, :data:`HOLDOUT_IDENTITIES`). Kinds take turns over the split's
    identities and their photos, so every identity appears under several kinds.
    """
    if split not in SPECS_PER_KIND:
        raise ValueError(f"split must be 'tune' or 'holdout', not {split!r}")
    photos: dict[str, list[Path]] = {}
    for folder in PHOTO_FOLDERS:
        base = faces_dir / folder
        if not base.is_dir():
            raise SourceNotFoundError(f"{base}: no such folder in the faces data")
        for path in sorted(base.rglob("*")):
            if path.suffix.lower() in {".jpg", ".jpeg", ".png"}:
                photos.setdefault(source_identity(path), []).append(path)
    clips = [faces_dir / clip for clip in CLIP_SOURCES]
    for clip in clips:
        if not clip.is_file():
            raise SourceNotFoundError(f"{clip}: no such clip in the faces data")

    def mine(identity: str) -> bool:
        return (identity in HOLDOUT_IDENTITIES) == (split == "holdout")

    people = sorted(identity for identity in photos if mine(identity))
    videos = [clip for clip in clips if mine(source_identity(clip))]
    per_kind = SPECS_PER_KIND[split]
    specs: list[AttackSpec] = []
    for kind_index, kind in enumerate(_PHOTO_KINDS):
        for n in range(per_kind):
            # Offset by kind so each kind starts with another identity and photo.
            turn = n + kind_index * 3
            identity = people[turn % len(people)]
            own = photos[identity]
            source = own[(turn // len(people) + kind_index) % len(own)]
            specs.append(AttackSpec(kind, source, seed=n))
    for n in range(per_kind):
        specs.append(AttackSpec(AttackKind.PHONE_VIDEO, videos[n % len(videos)], seed=n))
    return specs


# -- rendering ---------------------------------------------------------------------------

SUPERSAMPLE = 2  # screens are warped at 2x and area-averaged, as a sensor pixel integrates
FACE_WIDTH = (80.0, 260.0)  # in the camera frame, where HOG at upsample 0 finds faces
SCREEN_SUBPIXELS = 3  # texture pixels per screen pixel (R, G, B stripes)
MAX_SCREEN_TEXTURE = 1800  # texture px along a screen's long side
MIN_MOTION_BLUR = 2.0  # px of travel during the exposure before a frame is smeared
CONTENT_FACE = 200  # px: clip frames are cached at about this face size
CLIP_CACHE_SECONDS = 12.0  # only the start of a long clip is cached and replayed
_SKIN = np.array(
    [[233, 190, 160], [224, 172, 140], [198, 140, 105], [160, 105, 75], [120, 80, 58]],
    dtype=np.float32,
)
_PAINT = np.array(
    [[232, 228, 218], [214, 210, 200], [200, 205, 210], [222, 214, 190], [190, 200, 185],
     [205, 190, 175], [170, 175, 185], [235, 235, 235]],
    dtype=np.float32,
)


def render_attack(spec: AttackSpec) -> Iterator[RGBImage]:
    """The frames of ``spec``: ``spec.frame_count`` RGB uint8 arrays of ``spec.size``.

    The source is read and checked before this returns, so a missing or
    unreadable source raises here (:class:`SourceNotFoundError`,
    :class:`InvalidSourceError` for a clip OpenCV cannot decode,
    :class:`UnreadableImageError`, :class:`NoFaceError`), not in the middle of a loop.
    """
    scene = _Scene(spec)
    return scene.frames()


def write_attack_clip(spec: AttackSpec, path: Path) -> int:
    """Write ``spec`` to ``path`` (``.mp4``/``.avi``: mp4v video, else a PNG folder); frame count.

    The video is read back once, as :func:`edge.capture.synth.make_walkby_clip` does.
    """
    frames = render_attack(spec)
    if path.suffix.lower() in {".mp4", ".avi"}:
        _write_video(frames, path, spec.size, spec.fps, spec.frame_count)
    else:
        _write_folder(frames, path)
    return spec.frame_count


# -- cached sources ------------------------------------------------------------------------

_CACHE_LOCK = threading.Lock()
_PHOTOS: OrderedDict[Path, tuple[RGBImage, Box]] = OrderedDict()
_CLIPS: OrderedDict[Path, _Clip] = OrderedDict()
_PHOTO_CACHE = 48
_CLIP_CACHE = 2  # about 50-100 MB each


_DETECT_LOCK = threading.Lock()  # one dlib detector for the process, one caller at a time


@functools.cache
def _hog() -> _HogFaceFinder:
    return _HogFaceFinder()


def _find_face(image: RGBImage, name: str) -> Box:
    with _DETECT_LOCK:
        return _hog()(image, name)


def _photo(path: Path) -> tuple[RGBImage, Box]:
    """The photo shrunk so its face is at most 400 px wide, and that face's box."""
    key = path.resolve() if path.exists() else path
    with _CACHE_LOCK:
        if key in _PHOTOS:
            _PHOTOS.move_to_end(key)
            return _PHOTOS[key]
    if not path.is_file():
        raise SourceNotFoundError(f"{path}: attack source photo not found")
    image = read_image(path)
    left, top, right, bottom = _find_face(image, str(path))
    scale = min(1.0, 400.0 / max(right - left, bottom - top))
    if scale < 1.0:
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        left, top, right, bottom = (round(v * scale) for v in (left, top, right, bottom))
    entry = (image, (left, top, right, bottom))
    with _CACHE_LOCK:
        _PHOTOS[key] = entry
        while len(_PHOTOS) > _PHOTO_CACHE:
            _PHOTOS.popitem(last=False)
    return entry


@dataclass(slots=True)
class _Clip:
    frames: list[RGBImage]
    fps: float
    boxes: dict[int, Box]  # face boxes on every few frames (in cached-frame pixels)


def _clip(path: Path) -> _Clip:
    key = path.resolve() if path.exists() else path
    with _CACHE_LOCK:
        if key in _CLIPS:
            _CLIPS.move_to_end(key)
            return _CLIPS[key]
    if not path.is_file():
        raise SourceNotFoundError(f"{path}: attack source clip not found")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise InvalidSourceError(f"{path}: OpenCV cannot open it as a video")
        fps = float(capture.get(cv2.CAP_PROP_FPS)) or 25.0
        raw: list[RGBImage] = []
        while len(raw) < CLIP_CACHE_SECONDS * fps:
            ok, frame = capture.read()
            if not ok:
                break
            raw.append(np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), dtype=np.uint8))
    finally:
        capture.release()
    if not raw:
        raise InvalidSourceError(f"{path}: no decodable frames")
    # Find the face on every 4th frame on a small copy, then cache every frame at a
    # size where the face is about CONTENT_FACE px: enough for any phone in the frame.
    step = 4
    small_scale = min(1.0, 400.0 / max(raw[0].shape[:2]))
    found: dict[int, Box] = {}
    for index in range(0, len(raw), step):
        small = raw[index]
        if small_scale < 1.0:
            size = (round(small.shape[1] * small_scale), round(small.shape[0] * small_scale))
            small = np.asarray(cv2.resize(small, size, interpolation=cv2.INTER_AREA), np.uint8)
        try:
            box = _find_face(small, str(path))
        except NoFaceError:
            continue
        found[index] = (
            round(box[0] / small_scale),
            round(box[1] / small_scale),
            round(box[2] / small_scale),
            round(box[3] / small_scale),
        )
    if not found:
        raise NoFaceError(f"{path}: no face found by the HOG detector in the clip")
    widths = sorted(b[2] - b[0] for b in found.values())
    scale = min(1.0, CONTENT_FACE / widths[len(widths) // 2])
    if scale < 1.0:
        size = (round(raw[0].shape[1] * scale), round(raw[0].shape[0] * scale))
        raw = [
            np.asarray(cv2.resize(f, size, interpolation=cv2.INTER_AREA), np.uint8) for f in raw
        ]
        found = {
            i: (round(b[0] * scale), round(b[1] * scale), round(b[2] * scale), round(b[3] * scale))
            for i, b in found.items()
        }
    entry = _Clip(raw, fps, found)
    with _CACHE_LOCK:
        _CLIPS[key] = entry
        while len(_CLIPS) > _CLIP_CACHE:
            _CLIPS.popitem(last=False)
    return entry


# -- the scene -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Medium:
    """The held object in its own plane: texture, coverage, and where the face is on it."""

    texture: FloatImage  # (H, W, 4): RGB premultiplied by coverage, coverage
    face_centre: tuple[float, float]
    face_width: float  # texture px
    emissive: bool
    glossy: bool
    glare_mask: FloatImage  # (H/8, W/8): where a reflection can show (screen glass, gloss)
    screen: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 in texture px
    # Video replay: the screen is redrawn per frame from these, under the fingers
    # in front of it (premultiplied colour, coverage).
    video: _VideoContent | None = None
    overlay: tuple[int, int, FloatImage, FloatImage] | None = None  # screen x0, y0, ...


@dataclass(slots=True)
class _VideoContent:
    clip: _Clip
    start: int
    crop: tuple[int, int, int, int]  # region of the clip frame shown, clip px
    place: tuple[int, int, int, int]  # where it lands on the screen, screen px
    screen_px: tuple[int, int]  # screen resolution (w, h)
    fill: npt.NDArray[np.uint8]  # letterbox colour
    tone: FloatImage  # _ScreenTone.table()
    grid: FloatImage  # the sub-pixel pattern, tiled over the whole screen


@dataclass(frozen=True, slots=True)
class _ScreenTone:
    gamma: float
    gain: float
    tint: tuple[float, float, float]
    black: float

    def table(self) -> FloatImage:
        """A (256, 1, 3) lookup table: 8-bit picture values to the light the screen emits."""
        x = np.arange(256, dtype=np.float32)[:, None, None] / 255.0
        out = (255.0 * self.gain) * np.power(x, self.gamma) * np.array(self.tint, np.float32)
        return np.asarray(out + self.black, dtype=np.float32)


@dataclass(slots=True)
class _Motion:
    """Where the face is, how big, and how the plane is turned, at time t (seconds)."""

    centre: tuple[float, float]
    drift: tuple[float, float]  # px over the clip
    zoom: tuple[float, float]  # face-size factor at start and end
    base_angles: tuple[float, float, float]  # yaw, pitch, roll (degrees)
    waves: list[tuple[int, float, float, float]]  # (axis 0-2, amplitude deg, Hz, phase)
    tremor: list[tuple[int, float, float, float]]  # (axis 0-1 px / 2 deg roll, amp, Hz, phase)
    shake: tuple[float, float, float, float] | None  # start s, length s, amplitude px, Hz
    jitter_px: float

    def at(self, t: float, duration: float, rng: np.random.Generator) -> tuple[float, ...]:
        u = min(1.0, t / duration) if duration > 0 else 0.0
        ease = u * u * (3 - 2 * u)  # a hand accelerates and stops, it does not move linearly
        zoom = self.zoom[0] + (self.zoom[1] - self.zoom[0]) * ease
        x = self.centre[0] + self.drift[0] * ease
        y = self.centre[1] + self.drift[1] * ease
        angles = list(self.base_angles)
        for axis, amp, hz, phase in self.waves:
            angles[axis] += amp * math.sin(2 * math.pi * hz * t + phase)
        for axis, amp, hz, phase in self.tremor:
            value = amp * math.sin(2 * math.pi * hz * t + phase)
            if axis == 0:
                x += value
            elif axis == 1:
                y += value
            else:
                angles[2] += value
        if self.shake is not None:
            start, length, amp, hz = self.shake
            if start <= t <= start + length:
                envelope = math.sin(math.pi * (t - start) / length)
                x += amp * envelope * math.sin(2 * math.pi * hz * (t - start))
                y += 0.4 * amp * envelope * math.sin(2 * math.pi * hz * (t - start) + 1.3)
                angles[2] += 0.15 * amp * envelope * math.sin(2 * math.pi * hz * (t - start))
        x += float(rng.normal(0, self.jitter_px))
        y += float(rng.normal(0, self.jitter_px))
        return (x, y, zoom, *angles)


@dataclass(slots=True)
class _Camera:
    gain: FloatImage  # exposure x white balance x vignetting, (H, W, 3)
    blur: float
    noise: float
    tone: npt.NDArray[np.uint8]  # 256-entry LUT
    quality: int


class _Scene:
    def __init__(self, spec: AttackSpec) -> None:
        self.spec = spec
        # The seed alone must not decide everything: two kinds with one seed differ.
        salt = zlib.crc32(f"{spec.kind.value}/{_source_label(spec.source)}".encode())
        self.rng = np.random.default_rng([spec.seed, salt])
        rng = self.rng
        width, height = spec.size
        self.focal = float(width) * rng.uniform(0.85, 1.15)  # 53-65 degree lens
        self.target_face = self._face_size()
        self.camera = _camera(width, height, rng)
        self.medium = self._medium()
        self.motion = self._motion()
        # The room never moves: expose it once (gain, white balance, vignetting).
        room = None
        if rng.random() < REAL_ROOM_SHARE:
            room = _real_room(spec.source, width, height, rng)
        if room is None:
            room = _room(width, height, rng)
        self.background = np.asarray(cv2.multiply(room, self.camera.gain), np.float32)
        self.exposure_fraction = rng.uniform(0.2, 0.55)  # of the frame interval
        light = rng.normal(size=3)
        light[2] = -abs(light[2]) - 1.0  # the room light is in front of the medium
        self.light = light / np.linalg.norm(light)
        self.paper_ambient = rng.uniform(0.55, 0.75)
        self.glare = self._glare()

    # -- setup -----------------------------------------------------------------------

    def _face_size(self) -> float:
        low, high = FACE_WIDTH
        kind = self.spec.kind
        if kind is AttackKind.TABLET:
            base = self.rng.uniform(100, 190)
        elif kind is AttackKind.PHONE_VIDEO or kind is AttackKind.PHONE_PHOTO:
            base = self.rng.uniform(95, 180)
        else:
            base = self.rng.uniform(100, 200)
        # Never so small that the far end of an approach loses the face, nor so large
        # that a frame cannot hold it.
        limit = min(high, 0.75 * self.spec.size[1])
        return float(np.clip(base, low / 0.8 + 4, limit / 1.25 - 4))

    def _medium(self) -> _Medium:
        kind = self.spec.kind
        if kind is AttackKind.PHONE_VIDEO:
            return _screen_medium(self, video=_clip(self.spec.source))
        image, box = _photo(self.spec.source)
        if kind in (AttackKind.PRINT_STILL, AttackKind.PRINT_MOVING):
            return _paper_medium(self, image, box)
        return _screen_medium(self, photo=(image, box))

    def _motion(self) -> _Motion:
        rng = self.rng
        width, height = self.spec.size
        kind = self.spec.kind
        seconds = self.spec.seconds
        # The attacker centres the face on the terminal's screen, roughly.
        centre = (
            width / 2 + rng.uniform(-0.12, 0.12) * width,
            height / 2 + rng.uniform(-0.12, 0.06) * height,
        )
        tremor = [
            (axis, rng.uniform(0.6, 2.5), rng.uniform(5.0, 10.0), rng.uniform(0, 2 * math.pi))
            for axis in (0, 1)
        ]
        tremor.append((2, rng.uniform(0.1, 0.4), rng.uniform(5.0, 10.0), rng.uniform(0, 7)))
        base = (rng.uniform(-8, 8), rng.uniform(-8, 8), rng.uniform(-6, 6))
        if kind is AttackKind.PRINT_STILL:
            return _Motion(centre, (0.0, 0.0), (1.0, 1.0), base, [], tremor, None, 0.15)
        if kind is AttackKind.PRINT_MOVING:
            amplitude, roll, spread = rng.uniform(8, 20), rng.uniform(3, 12), (0.78, 1.22)
            shake_p = 0.6
        elif kind is AttackKind.TABLET:
            amplitude, roll, spread = rng.uniform(4, 12), rng.uniform(2, 6), (0.88, 1.12)
            shake_p = 0.2
        else:
            amplitude, roll, spread = rng.uniform(5, 16), rng.uniform(2, 9), (0.85, 1.15)
            shake_p = 0.35
        zoom = (rng.uniform(spread[0], 1.0), rng.uniform(1.0, spread[1]))
        if rng.random() < 0.3:
            zoom = (zoom[1], zoom[0])  # stepping back instead of closer
        waves = [
            (0, amplitude * rng.uniform(0.5, 1.0), rng.uniform(0.2, 0.9), rng.uniform(0, 7)),
            (1, amplitude * rng.uniform(0.4, 1.0), rng.uniform(0.2, 0.9), rng.uniform(0, 7)),
            (2, roll, rng.uniform(0.15, 0.6), rng.uniform(0, 7)),
        ]
        drift_len = rng.uniform(10, 60) * seconds / 3.0
        angle = rng.uniform(0, 2 * math.pi)
        drift = (drift_len * math.cos(angle), 0.6 * drift_len * math.sin(angle))
        shake = None
        if rng.random() < shake_p and seconds > 0.6:
            # A jerk of the hand: a few frames smeared past what HOG can find, as in
            # real footage, but not so many that the clip is mostly blur.
            length = rng.uniform(0.25, 0.5)
            shake = (
                rng.uniform(0, seconds - length),
                length,
                rng.uniform(6, 14),
                rng.uniform(2.5, 4.0),
            )
        return _Motion(centre, drift, zoom, base, waves, tremor, shake, 0.2)

    def _glare(self) -> tuple[float, float, float, float, float] | None:
        """A reflection: (u, v) on the medium as a fraction, size, elongation, strength."""
        medium = self.medium
        chance = 0.55 if medium.emissive else (0.5 if medium.glossy else 0.1)
        if self.rng.random() >= chance:
            return None
        return (
            self.rng.uniform(0.15, 0.85),
            self.rng.uniform(0.1, 0.9),
            self.rng.uniform(0.08, 0.25),
            1.0 if self.rng.random() < 0.5 else 4.0,  # a blob or a stripe
            self.rng.uniform(30, 110),
        )

    # -- per frame ---------------------------------------------------------------------

    def frames(self) -> Iterator[RGBImage]:
        spec = self.spec
        width, height = spec.size
        previous: tuple[float, float] | None = None
        noise = np.empty((height, width * 3), np.float32)
        for index in range(spec.frame_count):
            t = index / spec.fps
            x, y, zoom, yaw, pitch, roll = self.motion.at(t, spec.seconds, self.rng)
            if self.medium.video is not None:
                _draw_video_frame(self.medium, t)
            homography, normal = self._homography(x, y, zoom, yaw, pitch, roll)
            velocity = (0.0, 0.0) if previous is None else (x - previous[0], y - previous[1])
            previous = (x, y)
            # Sensor noise, fresh per frame (OpenCV's generator: numpy's is 3x slower).
            cv2.setRNGSeed(int(self.rng.integers(0, 2**31 - 1)))
            cv2.randn(noise, 0.0, self.camera.noise)  # type: ignore[call-overload]
            grain = noise.reshape(height, width, 3)
            # cv2.add with an 8-bit dtype rounds and saturates in one pass.
            frame = np.asarray(cv2.add(self.background, grain, dtype=cv2.CV_8U), np.uint8)
            held = self._composite(homography, normal, velocity, yaw, pitch)
            if held is not None:
                x0, y0, roi = held
                y1, x1 = y0 + roi.shape[0], x0 + roi.shape[1]
                frame[y0:y1, x0:x1] = cv2.add(roi, grain[y0:y1, x0:x1], dtype=cv2.CV_8U)
            yield self._finish(frame)

    def _homography(
        self, x: float, y: float, zoom: float, yaw: float, pitch: float, roll: float
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        width, height = self.spec.size
        f = self.focal
        cu, cv = self.medium.face_centre
        # Texture px -> plane units so that at depth f the face is target_face px wide;
        # the plane then sits at depth f / zoom.
        s = self.target_face / self.medium.face_width
        depth = f / zoom
        rotation = _rotation(yaw, pitch, roll)
        translation = np.array(
            [(x - width / 2) * depth / f, (y - height / 2) * depth / f, depth], np.float64
        )
        k = np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], np.float64)
        plane = np.column_stack([rotation[:, 0], rotation[:, 1], translation])
        to_plane = np.array([[s, 0, -s * cu], [0, s, -s * cv], [0, 0, 1]], np.float64)
        homography = k @ plane @ to_plane
        return homography / homography[2, 2], rotation[:, 2]

    def _composite(
        self,
        homography: npt.NDArray[np.float64],
        normal: npt.NDArray[np.float64],
        velocity: tuple[float, float],
        yaw: float,
        pitch: float,
    ) -> tuple[int, int, FloatImage] | None:
        """The exposed, optically blurred region the medium covers: (x0, y0, pixels)."""
        medium = self.medium
        height, width = self.background.shape[:2]
        th, tw = medium.texture.shape[:2]
        corners = np.array([[0, 0, 1], [tw, 0, 1], [tw, th, 1], [0, th, 1]], np.float64).T
        projected = homography @ corners
        if np.any(projected[2] <= 0):
            return None
        xs, ys = projected[0] / projected[2], projected[1] / projected[2]
        pad = 2 + int(math.hypot(*velocity) * self.exposure_fraction + 3 * self.camera.blur)
        x0 = max(0, math.floor(xs.min()) - pad)
        y0 = max(0, math.floor(ys.min()) - pad)
        x1 = min(width, math.ceil(xs.max()) + pad)
        y1 = min(height, math.ceil(ys.max()) + pad)
        if x1 <= x0 or y1 <= y0:
            return None
        roi_w, roi_h = x1 - x0, y1 - y0
        # Screens are warped at twice the resolution and area-averaged, as a sensor's
        # pixels integrate light: point-sampling a pixel grid would exaggerate its
        # moire. Paper has no grid; its texture is already at about camera resolution.
        ss = SUPERSAMPLE if medium.emissive else 1
        shift = np.array([[ss, 0, -ss * x0], [0, ss, -ss * y0], [0, 0, 1]], np.float64)
        h_roi = shift @ homography
        sampled = cv2.warpPerspective(
            medium.texture, h_roi, (roi_w * ss, roi_h * ss), flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
        )
        if ss > 1:
            sampled = cv2.resize(sampled, (roi_w, roi_h), interpolation=cv2.INTER_AREA)
        warped: FloatImage = np.asarray(sampled, np.float32)
        # Lighting: paper reflects the room light (Lambert), a screen glows and only
        # dims a little when seen at an angle.
        facing = abs(float(normal[2]))
        if medium.emissive:
            shade = 0.8 + 0.2 * facing
        else:
            lambert = max(0.0, float(-np.dot(normal, self.light)))
            shade = 1.15 * (self.paper_ambient + (1.0 - self.paper_ambient) * lambert)
        if self.glare is not None:
            glare = self._glare_layer(h_roi, ss, (roi_w, roi_h), yaw, pitch)
            warped[:, :, :3] += glare[:, :, None]
        blur = math.hypot(*velocity) * self.exposure_fraction
        if blur >= MIN_MOTION_BLUR:
            kernel = _motion_kernel(velocity, blur)
            warped = np.asarray(
                cv2.filter2D(warped, -1, kernel, borderType=cv2.BORDER_CONSTANT), np.float32
            )
        colour, alpha = warped[:, :, :3], warped[:, :, 3]
        lit = cv2.multiply(
            np.ascontiguousarray(colour), self.camera.gain[y0:y1, x0:x1], scale=shade
        )
        clear = np.asarray(1.0 - alpha, np.float32)
        behind = cv2.multiply(self.background[y0:y1, x0:x1], cv2.merge([clear, clear, clear]))
        roi = cv2.add(behind, lit)
        if medium.emissive:
            # The lens blurs the medium as it does the room (the room is already soft).
            # Paper got the same blur once, on its texture; a screen's grid has to be
            # sampled first, or the blur would erase the moire a camera shows.
            roi = cv2.GaussianBlur(roi, (0, 0), self.camera.blur)
        return x0, y0, np.asarray(roi, np.float32)

    def _glare_layer(
        self,
        h_roi: npt.NDArray[np.float64],
        ss: int,
        size: tuple[int, int],
        yaw: float,
        pitch: float,
    ) -> FloatImage:
        assert self.glare is not None
        u, v, radius, stretch, strength = self.glare
        mask = self.medium.glare_mask
        gh, gw = mask.shape
        # The reflection of a fixed lamp slides across a turning surface.
        cu = (u + yaw / 40.0) * gw
        cv = (v - pitch / 40.0) * gh
        yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)
        r = radius * max(gw, gh)
        if stretch > 1.0:
            # A stripe: long along a diagonal, narrow across it.
            along = (xx - cu) * 0.6 + (yy - cv) * 0.8
            across = (xx - cu) * 0.8 - (yy - cv) * 0.6
            d2 = (along / (r * stretch)) ** 2 + (across / (r * 0.5)) ** 2
        else:
            d2 = ((xx - cu) / r) ** 2 + ((yy - cv) / r) ** 2
        layer = (strength * np.exp(-d2) * mask).astype(np.float32)
        scale = np.array(
            [[gw / self.medium.texture.shape[1], 0, 0], [0, gh / self.medium.texture.shape[0], 0],
             [0, 0, 1]],
            np.float64,
        )
        to_roi = np.array([[1 / ss, 0, 0], [0, 1 / ss, 0], [0, 0, 1]])
        h = to_roi @ h_roi @ np.linalg.inv(scale)
        warped = cv2.warpPerspective(layer, h, size, flags=cv2.INTER_LINEAR)
        return np.asarray(warped, dtype=np.float32)

    def _finish(self, raw: RGBImage) -> RGBImage:
        """The camera's tone curve and JPEG compression, as a USB/IP camera delivers it."""
        toned = cv2.LUT(raw, self.camera.tone)
        ok, data = cv2.imencode(
            ".jpg",
            cv2.cvtColor(toned, cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, self.camera.quality],
        )
        if not ok:
            raise CaptureError("OpenCV could not JPEG-encode an attack frame")
        decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
        if decoded is None:
            raise CaptureError("OpenCV could not decode an attack frame it encoded")
        return np.ascontiguousarray(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def _rotation(yaw: float, pitch: float, roll: float) -> npt.NDArray[np.float64]:
    a, b, c = (math.radians(v) for v in (yaw, pitch, roll))
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return np.asarray(ry @ rx @ rz, dtype=np.float64)


def _motion_kernel(velocity: tuple[float, float], length: float) -> FloatImage:
    size = math.ceil(length) | 1
    kernel = np.zeros((size, size), np.float32)
    dx, dy = velocity
    norm = math.hypot(dx, dy) or 1.0
    half = (size - 1) / 2
    cv2.line(
        kernel,
        (round(half - dx / norm * half), round(half - dy / norm * half)),
        (round(half + dx / norm * half), round(half + dy / norm * half)),
        1.0,
        1,
        cv2.LINE_AA,
    )
    total = float(kernel.sum())
    if total <= 0:
        kernel[size // 2, size // 2] = 1.0
        total = 1.0
    return np.asarray(kernel / total, dtype=np.float32)


# -- media -------------------------------------------------------------------------------------


def _crop_photo(
    image: RGBImage, box: Box, context: float, aspect: float | None
) -> tuple[RGBImage, tuple[float, float], float]:
    """Cut the photo around the face (``context`` face widths each side, the shoulders below).

    With ``aspect`` (width / height) the cut is widened or heightened to that shape
    where the photo allows. Returns the cut, the face centre in it, and the face width.
    """
    left, top, right, bottom = box
    face = float(max(right - left, bottom - top))
    cx, cy = (left + right) / 2, (top + bottom) / 2
    half_w = face * (0.5 + context)
    up, down = face * (0.5 + context * 0.8), face * (0.5 + context * 1.3)
    if aspect is not None:
        half_h = (up + down) / 2
        if 2 * half_w / (2 * half_h) < aspect:
            half_w = aspect * half_h
        else:
            grow = (2 * half_w / aspect - 2 * half_h) / 2
            up, down = up + grow, down + grow
    x0, y0 = max(0, math.floor(cx - half_w)), max(0, math.floor(cy - up))
    x1 = min(image.shape[1], math.ceil(cx + half_w))
    y1 = min(image.shape[0], math.ceil(cy + down))
    return image[y0:y1, x0:x1], (cx - x0, cy - y0), face


def _resize_u8(image: RGBImage, size: tuple[int, int]) -> RGBImage:
    interpolation = cv2.INTER_AREA if size[0] < image.shape[1] else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(image, size, interpolation=interpolation), dtype=np.uint8)


def _resize(image: npt.NDArray[np.uint8] | FloatImage, size: tuple[int, int]) -> FloatImage:
    shrink = size[0] < image.shape[1]
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    return np.asarray(cv2.resize(image, size, interpolation=interpolation), dtype=np.float32)


def _paper_medium(scene: _Scene, image: RGBImage, box: Box) -> _Medium:
    rng = scene.rng
    crop, (fx, fy), face = _crop_photo(image, box, rng.uniform(0.4, 1.6), None)
    # Printed at a resolution a little above what the camera will resolve.
    tex_face = scene.target_face * 1.3
    k = tex_face / face
    pw, ph = max(8, round(crop.shape[1] * k)), max(8, round(crop.shape[0] * k))
    photo = _resize(crop, (pw, ph))
    glossy = bool(rng.random() < 0.4)
    if glossy:
        photo = photo * rng.uniform(0.92, 1.0) + rng.uniform(4, 12)
    else:
        # Matte ink: lifted blacks, dimmer whites, a little less colour.
        grey = photo.mean(axis=2, keepdims=True)
        photo = grey + (photo - grey) * rng.uniform(0.75, 0.95)
        photo = photo * rng.uniform(0.8, 0.9) + rng.uniform(14, 32)
    paper = np.array([245, 244, 238], np.float32) - rng.uniform(0, 22) * np.array(
        [0.6, 0.7, 1.0], np.float32
    )
    margins = [int(v * max(pw, ph)) for v in rng.uniform(0.03, 0.14, size=4)]
    if rng.random() < 0.3:
        margins[3] = int(rng.uniform(0.3, 0.6) * ph)  # the top of a printed page
    ml, mt, mr, mb = margins
    sheet = np.empty((ph + mt + mb, pw + ml + mr, 3), np.float32)
    sheet[:] = paper
    sheet[mt : mt + ph, ml : ml + pw] = photo
    grain = rng.normal(0, 2.0, size=sheet.shape[:2]).astype(np.float32)
    sheet += cv2.GaussianBlur(grain, (0, 0), 1.0)[:, :, None]
    face_centre = (fx * k + ml, fy * k + mt)
    sheet = _curl(sheet, rng)
    glare_mask = np.ones(sheet.shape[:2], np.float32) * (1.0 if glossy else 0.4)
    return _holding(
        scene, sheet, face_centre, tex_face, None, emissive=False, glossy=glossy,
        glare_mask=glare_mask, bezel=None, finger=rng.uniform(0.09, 0.16),
    )


def _curl(sheet: FloatImage, rng: np.random.Generator) -> FloatImage:
    """Bend the sheet a little about a vertical or horizontal axis, with the shading it gets."""
    if rng.random() < 0.35:
        return sheet
    h, w = sheet.shape[:2]
    vertical = bool(rng.random() < 0.6)
    length = w if vertical else h
    bend = rng.uniform(0.15, 0.5)  # radians over the half length
    radius = (length / 2) / bend
    centre = length / 2
    # Orthographic view of a cylinder: the far parts of the sheet are squeezed.
    out_pos = np.arange(length, dtype=np.float32) - centre
    src = radius * np.arcsin(np.clip(out_pos / radius, -1, 1)) + centre
    shade = (0.9 + 0.1 * np.cos(out_pos / radius)).astype(np.float32)
    if vertical:
        map_x = np.tile(src[None, :], (h, 1)).astype(np.float32)
        map_y = np.tile(np.arange(h, dtype=np.float32)[:, None], (1, w))
        shading = np.tile(shade[None, :], (h, 1))
    else:
        map_y = np.tile(src[:, None], (1, w)).astype(np.float32)
        map_x = np.tile(np.arange(w, dtype=np.float32)[None, :], (h, 1))
        shading = np.tile(shade[:, None], (1, w))
    bent = cv2.remap(sheet, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(bent * shading[:, :, None], dtype=np.float32)


def _screen_geometry(
    rng: np.random.Generator, tablet: bool, landscape: bool
) -> tuple[float, float, float, float]:
    """Screen aspect (w/h), bezel sides and ends as a fraction of the width, corner radius."""
    if tablet:
        aspect = 4 / 3 if landscape else 3 / 4
        return aspect, rng.uniform(0.05, 0.09), rng.uniform(0.07, 0.11), rng.uniform(0.03, 0.06)
    aspect = 19.5 / 9 if landscape else 9 / 19.5
    return aspect, rng.uniform(0.025, 0.05), rng.uniform(0.04, 0.09), rng.uniform(0.09, 0.14)


def _screen_medium(
    scene: _Scene,
    *,
    photo: tuple[RGBImage, Box] | None = None,
    video: _Clip | None = None,
) -> _Medium:
    rng = scene.rng
    tablet = scene.spec.kind is AttackKind.TABLET
    # Screen pixel pitch in camera pixels (at the reference distance): near one, so
    # the grid beats with the camera's own sampling.
    pitch = rng.uniform(0.55, 1.6)
    face_screen = scene.target_face / pitch  # the face's width in screen pixels
    fill = bool(rng.random() < 0.5)  # crop the picture to fill the screen, else letterbox
    if video is not None:
        frame_h, frame_w = video.frames[0].shape[:2]
        landscape = frame_w > frame_h * 1.2
        face_src = float(np.median([b[2] - b[0] for b in video.boxes.values()]))
    else:
        assert photo is not None
        image, box = photo
        landscape = tablet and bool(rng.random() < 0.3)
        face_src = float(max(box[2] - box[0], box[3] - box[1]))
    aspect, side, end, corner = _screen_geometry(rng, tablet, landscape)
    # The picture's scale on screen, from how much of the screen the face takes.
    if video is not None:
        if fill:
            screen_w_px = face_screen / rng.uniform(0.35, 0.6)
        else:
            # Letterboxed: the whole clip frame fits the screen.
            scale = face_screen / face_src
            content_w = frame_w * scale
            screen_w_px = max(content_w, frame_h * scale * aspect)
    elif tablet:
        screen_w_px = face_screen / rng.uniform(0.3, 0.55)
    else:
        screen_w_px = face_screen / rng.uniform(0.45, 0.8)
    # Whatever the layout, the whole face (and some hair and chin) is on the screen:
    # a landscape phone filled with a clip would otherwise cut it at the brow.
    screen_w_px = max(screen_w_px, 1.3 * face_screen, 1.6 * face_screen * aspect)
    # A coarser pitch rather than a texture every frame's warp would crawl through.
    longest = SCREEN_SUBPIXELS * max(screen_w_px, screen_w_px / aspect)
    limit = min(1.0, MAX_SCREEN_TEXTURE / longest)
    face_screen *= limit
    screen_w = max(16, round(screen_w_px * limit))
    screen_h = max(16, round(screen_w / aspect))
    tone = _ScreenTone(
        gamma=float(rng.uniform(0.8, 1.25)),
        gain=float(rng.uniform(0.85, 1.2)),
        tint=(float(rng.uniform(0.88, 0.98)), 1.0, float(rng.uniform(1.03, 1.15))),
        black=float(rng.uniform(6, 26)),
    )
    grid = np.tile(_subpixel_cell(rng), (screen_h, screen_w, 1))
    background = np.array([0, 0, 0] if rng.random() < 0.7 else [242, 242, 242], np.uint8)
    content = np.empty((screen_h, screen_w, 3), np.uint8)
    content[:] = background
    video_content: _VideoContent | None = None
    if video is not None:
        start, box = _video_window(video, scene.spec, rng)
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        scale = face_screen / (box[2] - box[0])
        if fill:
            cw = min(frame_w, screen_w / scale)
            ch = min(frame_h, screen_h / scale)
            cx0 = int(np.clip(cx - cw / 2, 0, frame_w - cw))
            cy0 = int(np.clip(cy - ch * 0.45, 0, frame_h - ch))
            crop = (cx0, cy0, cx0 + round(cw), cy0 + round(ch))
        else:
            crop = (0, 0, frame_w, frame_h)
        pw = max(1, round((crop[2] - crop[0]) * scale))
        ph = max(1, round((crop[3] - crop[1]) * scale))
        px0 = (screen_w - pw) // 2
        py0 = (screen_h - ph) // 2
        place = (px0, py0, px0 + pw, py0 + ph)
        face_centre = ((cx - crop[0]) * scale + px0, (cy - crop[1]) * scale + py0)
        video_content = _VideoContent(
            video, start, crop, place, (screen_w, screen_h), background, tone.table(), grid
        )
    else:
        crop_img, (fx, fy), face = _crop_photo(
            image, box, rng.uniform(0.4, 2.0), screen_w / screen_h if fill else None
        )
        scale = face_screen / face
        pw = max(1, round(crop_img.shape[1] * scale))
        ph = max(1, round(crop_img.shape[0] * scale))
        if not fill and (pw > screen_w or ph > screen_h):
            shrink = min(screen_w / pw, screen_h / ph)
            scale *= shrink
            pw, ph = max(1, round(pw * shrink)), max(1, round(ph * shrink))
            face_screen *= shrink
        picture = _resize_u8(crop_img, (pw, ph))
        # Centre the face horizontally on a filled screen, keep it in the upper part.
        px0 = round(screen_w / 2 - fx * scale) if fill else (screen_w - pw) // 2
        py0 = round(screen_h * 0.42 - fy * scale) if fill else (screen_h - ph) // 2
        _paste(content, picture, px0, py0)
        face_centre = (fx * scale + px0, fy * scale + py0)
    sub = SCREEN_SUBPIXELS
    body_colour = (
        np.array([232, 232, 228], np.float32)
        if tablet and rng.random() < 0.35
        else np.array([14, 14, 16], np.float32) + rng.uniform(0, 14)
    )
    tex_w, tex_h = screen_w * sub, screen_h * sub
    # Bezels: "side" runs along the long edges, "end" across the short ones.
    if landscape:
        side_px, end_px = round(end * tex_h), round(side * tex_h)
    else:
        side_px, end_px = round(side * tex_w), round(end * tex_w)
    body = np.empty((tex_h + 2 * end_px, tex_w + 2 * side_px, 3), np.float32)
    body[:] = body_colour
    screen_box = (side_px, end_px, side_px + tex_w, end_px + tex_h)
    medium_face = (face_centre[0] * sub + side_px, face_centre[1] * sub + end_px)
    # A replayed clip only redraws its picture per frame; the bars around it stay.
    body[end_px : end_px + tex_h, side_px : side_px + tex_w] = _pixel_grid(
        np.asarray(cv2.LUT(content, tone.table()), np.float32), grid
    )
    bh, bw = body.shape[:2]
    # A thin lighter rim: the phone's frame catching the light.
    rim = np.zeros((bh, bw), np.uint8)
    radius = max(2, round(corner * bw))
    _rounded_rect(rim, (0, 0, bw - 1, bh - 1), radius, 255, -1)
    inner = np.zeros_like(rim)
    _rounded_rect(inner, (3, 3, bw - 4, bh - 4), max(1, radius - 3), 255, -1)
    body[(rim > 0) & (inner == 0)] = body_colour + 45
    if not tablet:
        # The front camera: a dot above the screen.
        cam = (bw // 2, max(2, end_px // 2)) if not landscape else (max(2, side_px // 2), bh // 2)
        cv2.circle(body, cam, max(2, round(0.012 * bw)), (5.0, 5.0, 8.0), -1, cv2.LINE_AA)
    shape = rim.astype(np.float32) / 255.0
    glare_mask = np.zeros((bh, bw), np.float32)
    glare_mask[end_px : end_px + tex_h, side_px : side_px + tex_w] = 1.0
    return _holding(
        scene, body, medium_face, face_screen * sub, shape, emissive=True, glossy=True,
        glare_mask=glare_mask, bezel=screen_box, video=video_content,
        finger=rng.uniform(0.08, 0.11) if tablet else rng.uniform(0.2, 0.27),
    )


def _subpixel_cell(rng: np.random.Generator) -> FloatImage:
    """One screen pixel as 3x3 texture pixels: R, G, B stripes over a dark row."""
    leak = rng.uniform(0.15, 0.35)
    gap = rng.uniform(0.25, 0.6)
    cell = np.full((SCREEN_SUBPIXELS, SCREEN_SUBPIXELS, 3), leak, np.float32)
    for channel in range(3):
        cell[:, channel, channel] = 1.0
    cell[-1] *= 1.0 - gap
    # Keep the average brightness: the grid changes texture, not exposure.
    cell /= cell.mean(axis=(0, 1), keepdims=True)
    return cell


def _pixel_grid(content: FloatImage, grid: FloatImage) -> FloatImage:
    """Screen pixels drawn as sub-pixels: ``grid`` is the cell tiled over the whole screen."""
    h, w = content.shape[:2]
    sub = SCREEN_SUBPIXELS
    big = cv2.resize(content, (w * sub, h * sub), interpolation=cv2.INTER_NEAREST)
    return np.asarray(cv2.multiply(big, grid), dtype=np.float32)


def _paste(canvas: npt.NDArray[np.uint8], picture: npt.NDArray[np.uint8], x: int, y: int) -> None:
    h, w = canvas.shape[:2]
    ph, pw = picture.shape[:2]
    cx0, cy0 = max(0, x), max(0, y)
    cx1, cy1 = min(w, x + pw), min(h, y + ph)
    if cx1 > cx0 and cy1 > cy0:
        canvas[cy0:cy1, cx0:cx1] = picture[cy0 - y : cy1 - y, cx0 - x : cx1 - x]


def _rounded_rect(
    image: npt.NDArray[np.uint8], box: tuple[int, int, int, int], radius: int, value: int,
    thickness: int,
) -> None:
    x0, y0, x1, y1 = box
    r = max(0, min(radius, (x1 - x0) // 2, (y1 - y0) // 2))
    cv2.rectangle(image, (x0 + r, y0), (x1 - r, y1), value, thickness)
    cv2.rectangle(image, (x0, y0 + r), (x1, y1 - r), value, thickness)
    for cx, cy in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x0 + r, y1 - r), (x1 - r, y1 - r)):
        cv2.circle(image, (cx, cy), r, value, thickness, cv2.LINE_AA)


def _video_window(
    clip: _Clip, spec: AttackSpec, rng: np.random.Generator
) -> tuple[int, Box]:
    """A start frame whose replay shows a face most of the time, and the face's median box."""
    needed = max(1, round(spec.seconds * clip.fps))
    total = len(clip.frames)
    sampled = sorted(clip.boxes)
    candidates: list[tuple[int, float]] = []
    for start in range(0, max(1, total - needed + 1), 4):
        inside = range(start, min(total, start + needed), 4)
        seen = sum(1 for i in inside if i in clip.boxes)
        candidates.append((start, seen / max(1, len(inside))))
    best = max(share for _, share in candidates)
    good = [start for start, share in candidates if share >= min(0.85, best)]
    start = int(good[int(rng.integers(0, len(good)))])
    window = [clip.boxes[i] for i in sampled if start <= i < start + needed] or [
        clip.boxes[sampled[0]]
    ]
    median = np.median(np.array(window, np.float64), axis=0)
    return start, (int(median[0]), int(median[1]), int(median[2]), int(median[3]))


def _draw_video_frame(medium: _Medium, t: float) -> None:
    video = medium.video
    assert video is not None
    assert medium.screen is not None
    clip = video.clip
    index = video.start + int(t * clip.fps)
    frame = clip.frames[index % len(clip.frames)]
    x0, y0, x1, y1 = video.crop
    px0, py0, px1, py1 = video.place
    screen_w, screen_h = video.screen_px
    picture = _resize_u8(np.ascontiguousarray(frame[y0:y1, x0:x1]), (px1 - px0, py1 - py0))
    # Only the part of the picture on the screen (a filled screen crops it).
    cx0, cy0 = max(0, px0), max(0, py0)
    cx1, cy1 = min(screen_w, px1), min(screen_h, py1)
    visible = np.ascontiguousarray(picture[cy0 - py0 : cy1 - py0, cx0 - px0 : cx1 - px0])
    light = np.asarray(cv2.LUT(visible, video.tone), np.float32)
    sub = SCREEN_SUBPIXELS
    big = cv2.resize(light, ((cx1 - cx0) * sub, (cy1 - cy0) * sub), interpolation=cv2.INTER_NEAREST)
    sx0, sy0, _, _ = medium.screen
    rows = slice(cy0 * sub, cy1 * sub)
    cols = slice(cx0 * sub, cx1 * sub)
    # Straight into the texture: this is the largest array touched per frame.
    ty, tx = sy0 + rows.start, sx0 + cols.start
    target = medium.texture[ty : ty + big.shape[0], tx : tx + big.shape[1], :3]
    np.multiply(big, video.grid[rows, cols], out=target)
    if medium.overlay is not None:
        ox, oy, front_colour, front_alpha = medium.overlay
        # Where the thumb's box and the redrawn picture overlap, in screen texture px.
        ax0, ax1 = max(ox, cols.start), min(ox + front_alpha.shape[1], cols.stop)
        ay0, ay1 = max(oy, rows.start), min(oy + front_alpha.shape[0], rows.stop)
        if ax1 > ax0 and ay1 > ay0:
            under = medium.texture[sy0 + ay0 : sy0 + ay1, sx0 + ax0 : sx0 + ax1, :3]
            under *= 1.0 - front_alpha[ay0 - oy : ay1 - oy, ax0 - ox : ax1 - ox]
            under += front_colour[ay0 - oy : ay1 - oy, ax0 - ox : ax1 - ox]


def _holding(
    scene: _Scene,
    body: FloatImage,
    face_centre: tuple[float, float],
    face_width: float,
    shape: FloatImage | None,
    *,
    emissive: bool,
    glossy: bool,
    glare_mask: FloatImage,
    bezel: tuple[int, int, int, int] | None,
    finger: float,
    video: _VideoContent | None = None,
) -> _Medium:
    """Put the medium on a canvas with the fingers that hold it (RGBA, premultiplied).

    ``finger`` is a finger's width as a share of the medium's short side: about
    1.8 cm against a 7 cm phone, a 17 cm tablet or a 10-20 cm print.
    """
    rng = scene.rng
    bh, bw = body.shape[:2]
    finger *= min(bh, bw)
    pad = math.ceil(FINGER_REACH * finger + finger)
    h, w = bh + 2 * pad, bw + 2 * pad
    if shape is None:
        shape = np.ones((bh, bw), np.float32)
    texture = np.zeros((h, w, 4), np.float32)
    texture[pad : pad + bh, pad : pad + bw, :3] = body * shape[:, :, None]
    texture[pad : pad + bh, pad : pad + bw, 3] = shape
    skin = np.asarray(_SKIN[int(rng.integers(0, len(_SKIN)))] * rng.uniform(0.9, 1.05), np.float32)
    fx, fy = face_centre[0] + pad, face_centre[1] + pad
    face_box = (
        fx - face_width * 0.6, fy - face_width * 0.7, fx + face_width * 0.6, fy + face_width * 0.8
    )
    behind, front = _finger_paths(
        rng, (pad, pad, pad + bw, pad + bh), finger, face_box, screen=bezel is not None
    )
    _draw_fingers(texture, (0, 0), behind, finger, skin, under=True)
    _draw_fingers(texture, (0, 0), front, finger * 1.2, skin, under=False)
    screen = None
    overlay = None
    if bezel is not None:
        sx0, sy0, sx1, sy1 = bezel
        screen = (sx0 + pad, sy0 + pad, sx1 + pad, sy1 + pad)
        if video is not None and front:
            # A thumb on a replaying screen stays in front of every new picture.
            layer = np.zeros((sy1 - sy0, sx1 - sx0, 4), np.float32)
            _draw_fingers(layer, (screen[0], screen[1]), front, finger * 1.2, skin, under=False)
            covered = layer[:, :, 3] > 0
            if covered.any():
                # Only the thumb's own box: it is composited again on every frame.
                ys = np.flatnonzero(covered.any(axis=1))
                xs = np.flatnonzero(covered.any(axis=0))
                part = layer[ys[0] : ys[-1] + 1, xs[0] : xs[-1] + 1]
                overlay = (
                    int(xs[0]), int(ys[0]), np.ascontiguousarray(part[:, :, :3]),
                    part[:, :, 3:].copy(),
                )
    if not emissive:
        # The camera's lens blur, once, in texture pixels: edges and fingers included.
        sigma = scene.camera.blur * face_width / scene.target_face
        texture = np.asarray(cv2.GaussianBlur(texture, (0, 0), sigma), np.float32)
    # Keep only what is drawn: every frame's warp pays for the canvas it covers.
    drawn = texture[:, :, 3] > 1e-3
    rows, cols = np.flatnonzero(drawn.any(axis=1)), np.flatnonzero(drawn.any(axis=0))
    top, left = int(rows[0]), int(cols[0])
    texture = texture[top : int(rows[-1]) + 1, left : int(cols[-1]) + 1].copy()
    h, w = texture.shape[:2]
    if screen is not None:
        screen = (screen[0] - left, screen[1] - top, screen[2] - left, screen[3] - top)
    glare = np.zeros((max(1, h // 8), max(1, w // 8)), np.float32)
    small = (max(1, bw // 8), max(1, bh // 8))
    glare_body = cv2.resize(glare_mask * shape, small, interpolation=cv2.INTER_AREA)
    gx, gy = (pad - left) // 8, (pad - top) // 8
    glare[gy : gy + small[1], gx : gx + small[0]] = glare_body[
        : glare.shape[0] - gy, : glare.shape[1] - gx
    ]
    return _Medium(
        texture=texture,
        face_centre=(fx - left, fy - top),
        face_width=face_width,
        emissive=emissive,
        glossy=glossy,
        glare_mask=glare,
        screen=screen,
        video=video,
        overlay=overlay,
    )


FINGER_REACH = 1.8  # finger widths a finger shows beyond the medium's edge
Path2 = tuple[tuple[float, float], tuple[float, float]]  # base (toward the hand), tip


def _finger_paths(
    rng: np.random.Generator,
    box: tuple[int, int, int, int],
    width: float,
    face: tuple[float, float, float, float],
    *,
    screen: bool,
) -> tuple[list[Path2], list[Path2]]:
    """Fingers behind the medium (showing past its edges) and a thumb in front of it."""
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    reach = FINGER_REACH * width
    behind: list[Path2] = []
    front: list[Path2] = []
    style = rng.integers(0, 3)
    if style == 0:
        # Gripped in one hand: fingertips side by side round one long edge.
        side = 1 if rng.random() < 0.5 else -1
        edge = x1 if side > 0 else x0
        first = y0 + bh * rng.uniform(0.45, 0.7)
        for i in range(int(rng.integers(2, 5))):
            y = first + i * width * 1.05
            if y > y1 - width * 0.5:
                break
            tip = (edge - side * width * rng.uniform(0.2, 0.6), y)
            behind.append(((edge + side * reach, y + width * 0.6), tip))
    elif style == 1:
        # Held at the bottom: fingertips past the bottom edge near the corners.
        for sx in (x0 + bw * rng.uniform(0.05, 0.25), x1 - bw * rng.uniform(0.05, 0.25)):
            if rng.random() < 0.75:
                tip = (sx + rng.normal(0, width * 0.3), y1 - width * 0.4)
                behind.append(((sx + rng.normal(0, width), y1 + reach), tip))
    else:
        # Pinched at both sides, halfway down.
        for edge, side in ((x0, -1), (x1, 1)):
            if rng.random() < 0.7:
                y = y0 + bh * rng.uniform(0.4, 0.75)
                tip = (edge - side * width * 0.3, y)
                behind.append(((edge + side * reach, y + width * 0.8), tip))
    # A thumb in front, on the border or, sometimes, on the screen below the face.
    if rng.random() < 0.6:
        on_screen = screen and rng.random() < 0.4
        inside = width * (rng.uniform(2.0, 3.0) if on_screen else rng.uniform(0.5, 1.0))
        side = 1 if rng.random() < 0.5 else -1
        tip_y = y0 + bh * rng.uniform(0.7, 0.95)
        tip_x = (x1 - inside) if side > 0 else (x0 + inside)
        base = ((x1 if side > 0 else x0) + side * reach, tip_y + width * rng.uniform(0.5, 1.5))
        # Never over the face: a thumb there would hide what the attack shows.
        near_face = face[0] - width < tip_x < face[2] + width and face[1] < tip_y < face[3] + width
        if not near_face:
            front.append((base, (tip_x, tip_y)))
    return behind, front


def _draw_fingers(
    target: FloatImage,
    origin: tuple[int, int],
    paths: Sequence[Path2],
    width: float,
    skin: npt.NDArray[np.float32],
    *,
    under: bool,
) -> None:
    """Draw shaded, round-tipped fingers into an RGBA (premultiplied) ``target``.

    Paths are in canvas coordinates; ``origin`` is where ``target`` starts on the
    canvas. ``under`` puts them behind what is drawn already (fingers behind the
    medium), else in front (a thumb). A finger fades in from its base, where the
    rest of the hand would be.
    """
    h, w = target.shape[:2]
    thick = max(2, round(width))
    for (ax, ay), (bx, by) in paths:
        ax, ay, bx, by = ax - origin[0], ay - origin[1], bx - origin[0], by - origin[1]
        margin = thick + 4
        x0 = max(0, math.floor(min(ax, bx)) - margin)
        y0 = max(0, math.floor(min(ay, by)) - margin)
        x1 = min(w, math.ceil(max(ax, bx)) + margin)
        y1 = min(h, math.ceil(max(ay, by)) + margin)
        if x1 <= x0 or y1 <= y0:
            continue
        a = (round(ax) - x0, round(ay) - y0)
        b = (round(bx) - x0, round(by) - y0)
        mask = np.zeros((y1 - y0, x1 - x0), np.float32)
        ridge = np.zeros_like(mask)
        cv2.line(mask, a, b, 1.0, thick, cv2.LINE_AA)
        # A lighter ridge along the finger gives it a round look.
        cv2.line(ridge, a, b, 1.0, max(1, thick // 3), cv2.LINE_AA)
        nail = np.zeros_like(mask)
        if not under:
            length = math.hypot(b[0] - a[0], b[1] - a[1]) or 1.0
            ux, uy = (b[0] - a[0]) / length, (b[1] - a[1]) / length
            back = (round(b[0] - ux * width * 0.45), round(b[1] - uy * width * 0.45))
            cv2.line(nail, back, b, 1.0, max(1, round(thick * 0.55)), cv2.LINE_AA)
        soft = cv2.GaussianBlur(mask, (0, 0), max(0.8, width * 0.06))
        ridge = cv2.GaussianBlur(ridge, (0, 0), max(1.0, width * 0.2))
        nail = cv2.GaussianBlur(nail, (0, 0), max(0.8, width * 0.08))
        # Fade in along the finger: from nothing at the base to solid halfway to the tip.
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        dx, dy = bx - ax, by - ay
        along = ((xx - ax) * dx + (yy - ay) * dy) / max(1.0, dx * dx + dy * dy)
        cover = soft * np.clip(along * 2.0, 0.0, 1.0) * (soft > 0.02)
        tone = (0.72 + 0.35 * ridge)[:, :, None] * skin
        tone = tone * (1 - 0.6 * nail[:, :, None]) + nail[:, :, None] * (skin * 0.6 + 70)
        region = target[y0:y1, x0:x1]
        if under:
            room = (1.0 - region[:, :, 3]) * cover
            region[:, :, :3] += tone * room[:, :, None]
            region[:, :, 3] += room
        else:
            keep = 1.0 - cover
            region[:, :, :3] = region[:, :, :3] * keep[:, :, None] + tone * cover[:, :, None]
            region[:, :, 3] = region[:, :, 3] * keep + cover


# -- room and camera -------------------------------------------------------------------------


# Real rooms from the face data's live clips, far from the person in them: the
# webcam man's door and hallway, the wooden wall behind the woman. (clip, frame).
REAL_ROOMS = (
    ("video/webcam_face_leaves.mov", 10),
    ("video/webcam_face_leaves.mov", 60),
    ("video/webcam_face_arrives.mov", 160),
    ("video/expressions_hand_over_face.mp4", 5),
)
REAL_ROOM_SHARE = 0.4
_ROOM_CROPS: dict[tuple[Path, int], tuple[RGBImage, Box] | None] = {}


def _faces_root(source: Path) -> Path | None:
    for folder in source.parents:
        if (folder / "video").is_dir() and (folder / "people").is_dir():
            return folder
    return None


def _real_room(
    source: Path, width: int, height: int, rng: np.random.Generator
) -> FloatImage | None:
    """A 16:9 crop of a live clip's frame away from its person, or None if there is none."""
    root = _faces_root(source)
    if root is None:
        return None
    clip, index = REAL_ROOMS[int(rng.integers(0, len(REAL_ROOMS)))]
    found = _room_frame(root / clip, index)
    if found is None:
        return None
    frame, (left, top, right, bottom) = found
    fh, fw = frame.shape[:2]
    face = right - left
    # Beside the head (hair included) and above the shoulders, or above the head.
    gap = face // 4
    shoulders = min(fh, bottom)
    candidates = [
        (0, 0, max(0, left - gap), shoulders),
        (min(fw, right + gap), 0, fw, shoulders),
        (0, 0, fw, max(0, top - face // 2)),
    ]
    aspect = width / height
    best: tuple[int, int, int, int] | None = None
    for x0, y0, x1, y1 in candidates:
        cw = min(x1 - x0, (y1 - y0) * aspect)
        # Narrower than 0.3 of the clip, the crop would be blown up into mush.
        if cw >= fw * 0.3 and (best is None or cw > best[2]):
            ch = cw / aspect
            cx = x0 + rng.uniform(0, (x1 - x0) - cw)
            cy = y0 + rng.uniform(0, (y1 - y0) - ch)
            best = (round(cx), round(cy), round(cw), round(ch))
    if best is None:
        return None
    x, y, cw, ch = best
    crop = frame[y : y + ch, x : x + cw]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]  # a mirrored room is as plausible and doubles the variety
    room = cv2.resize(np.ascontiguousarray(crop), (width, height), interpolation=cv2.INTER_CUBIC)
    room = cv2.GaussianBlur(room.astype(np.float32), (0, 0), rng.uniform(0.8, 1.6))
    return np.asarray(np.clip(room, 0, 255), np.float32)


def _room_frame(path: Path, index: int) -> tuple[RGBImage, Box] | None:
    """Frame ``index`` of a clip and its person's face box (cached), None if unusable."""
    key = (path, index)
    with _CACHE_LOCK:
        if key in _ROOM_CROPS:
            return _ROOM_CROPS[key]
    result: tuple[RGBImage, Box] | None = None
    capture = cv2.VideoCapture(str(path))
    try:
        if capture.isOpened():
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = capture.read()
            if ok:
                rgb = np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), np.uint8)
                try:
                    result = (rgb, _find_face(rgb, str(path)))
                except NoFaceError:
                    result = None  # a frame without its person: no way to know where to avoid
    finally:
        capture.release()
    with _CACHE_LOCK:
        _ROOM_CROPS[key] = result
    return result


def _room(width: int, height: int, rng: np.random.Generator) -> FloatImage:
    """A room behind the medium: walls, a corner, doors, windows, shelves, frames.

    Real rooms are full of straight edges and regular patterns (blinds, shelves,
    door panels), so a detector must not be able to learn "straight lines = attack".
    """
    paint = _PAINT[int(rng.integers(0, len(_PAINT)))] + rng.normal(0, 6, 3)
    draw = np.empty((height, width, 3), np.float32)
    draw[:] = paint
    ramp_x = np.linspace(rng.uniform(0.75, 1.0), rng.uniform(0.85, 1.1), width, dtype=np.float32)
    ramp_y = np.linspace(rng.uniform(0.85, 1.1), rng.uniform(0.7, 0.95), height, dtype=np.float32)
    draw *= (ramp_y[:, None] * ramp_x[None, :])[:, :, None]
    if rng.random() < 0.5:  # a corner: the other wall in another light
        x = int(rng.uniform(0.1, 0.9) * width)
        side = draw[:, :x] if rng.random() < 0.5 else draw[:, x:]
        side *= rng.uniform(0.7, 0.9)
    if rng.random() < 0.5:  # the ceiling with a light panel
        y = int(rng.uniform(0.05, 0.18) * height)
        draw[:y] = draw[:y] * 0.8 + 40
        px = int(rng.uniform(0.1, 0.7) * width)
        _box(draw, (px, 0, px + width // 5, max(2, y // 2)), _jitter(rng, (250, 250, 245), 4))
    for _ in range(int(rng.integers(2, 5))):
        x = int(rng.uniform(-0.1, 0.9) * width)
        w = int(rng.uniform(0.12, 0.35) * width)
        y = int(rng.uniform(0.0, 0.5) * height)
        h = int(rng.uniform(0.3, 0.9) * height)
        _FURNITURE[int(rng.integers(0, len(_FURNITURE)))](draw, (x, y, w, h), rng)
    coarse = rng.normal(0.0, 3.0, size=(height // 8 + 1, width // 8 + 1)).astype(np.float32)
    texture = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    draw += texture[:, :, None]
    # The camera focuses on what is held up, so the room is a little soft.
    room = cv2.GaussianBlur(draw, (0, 0), rng.uniform(0.8, 2.2))
    return np.asarray(np.clip(room, 0, 255), dtype=np.float32)


Colour = tuple[float, float, float]


def _jitter(
    rng: np.random.Generator, base: Sequence[float] | npt.NDArray[np.float64], spread: float = 12.0
) -> Colour:
    c = np.clip(np.asarray(base, np.float64) + rng.normal(0, spread, 3), 0, 255)
    return (float(c[0]), float(c[1]), float(c[2]))


def _muted(rng: np.random.Generator, low: float, high: float) -> Colour:
    """A furnishing colour: any hue, saturation between ``low`` and ``high``, mid brightness."""
    hue = np.array([[[rng.uniform(0, 180), rng.uniform(low, high) * 255, rng.uniform(70, 220)]]])
    rgb = cv2.cvtColor(hue.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0]
    return (float(rgb[0]), float(rgb[1]), float(rgb[2]))


def _scaled(colour: Colour, factor: float) -> Colour:
    return (colour[0] * factor, colour[1] * factor, colour[2] * factor)


def _box(
    draw: FloatImage, box: tuple[int, int, int, int], colour: Colour, thickness: int = -1
) -> None:
    x0, y0, x1, y1 = box
    cv2.rectangle(draw, (x0, y0), (x1, y1), colour, thickness)


def _bevel(draw: FloatImage, box: tuple[int, int, int, int], colour: Colour, depth: int) -> None:
    """A raised panel: light from the top left, shadow on the bottom right."""
    x0, y0, x1, y1 = box
    _box(draw, box, colour)
    cv2.line(draw, (x0, y0), (x1, y0), _scaled(colour, 1.12), depth)
    cv2.line(draw, (x0, y0), (x0, y1), _scaled(colour, 1.08), depth)
    cv2.line(draw, (x0, y1), (x1, y1), _scaled(colour, 0.8), depth)
    cv2.line(draw, (x1, y0), (x1, y1), _scaled(colour, 0.85), depth)


Place = tuple[int, int, int, int]  # x, y, width, height


def _door(draw: FloatImage, place: Place, rng: np.random.Generator) -> None:
    x, y, w, _ = place
    height = draw.shape[0]
    wood = rng.random() < 0.5
    frame = _jitter(rng, (120, 85, 60) if wood else (235, 232, 225))
    door = _jitter(rng, (140, 100, 70) if wood else (225, 220, 210))
    t = max(3, w // 14)
    _bevel(draw, (x, y, x + w, height), frame, max(1, t // 3))
    _box(draw, (x + t, y + t, x + w - t, height), door)
    panel_h = (height - y) // 2 - 3 * t
    for py in (y + 2 * t, y + (height - y) // 2 + t):
        panel = (x + 2 * t, py, x + w - 2 * t, py + panel_h)
        _bevel(draw, panel, _scaled(door, 0.95), max(1, t // 3))
    handle = (x + w - 2 * t, y + (height - y) // 2)
    cv2.circle(draw, handle, max(2, t // 2), _jitter(rng, (180, 170, 120)), -1, cv2.LINE_AA)


def _window(draw: FloatImage, place: Place, rng: np.random.Generator) -> None:
    x, y, w, h = place
    sky = _jitter(rng, (235, 240, 250), 10)
    bottom = y + h // 2
    _box(draw, (x, y, x + w, bottom), sky)
    if rng.random() < 0.5:  # blinds: a stripe pattern as regular as any pixel grid
        period = int(rng.integers(5, 12))
        for yy in range(y, bottom, period):
            cv2.line(draw, (x, yy), (x + w, yy), _scaled(sky, 0.85), max(1, period // 3))
    frame = _jitter(rng, (240, 240, 240), 8)
    t = max(3, w // 25)
    _box(draw, (x, y, x + w, bottom), frame, t)
    cv2.line(draw, (x + w // 2, y), (x + w // 2, bottom), frame, t)
    if rng.random() < 0.5:
        cv2.line(draw, (x, (y + bottom) // 2), (x + w, (y + bottom) // 2), frame, t)


def _shelf(draw: FloatImage, place: Place, rng: np.random.Generator) -> None:
    x, y, w, _ = place
    height = draw.shape[0]
    board = _jitter(rng, (150, 120, 90) if rng.random() < 0.5 else (225, 225, 220))
    for level in range(int(rng.integers(1, 4))):
        by = y + level * int(rng.uniform(0.12, 0.2) * height)
        bx = x
        while bx < x + w:
            book_w = int(rng.integers(4, 16))
            book_h = int(rng.uniform(0.05, 0.12) * height)
            _box(draw, (bx, by - book_h, bx + book_w, by), _muted(rng, 0.15, 0.6))
            bx += book_w + int(rng.integers(0, 3))
        _bevel(draw, (x - 4, by, x + w + 4, by + max(3, height // 80)), board, 1)


def _picture(draw: FloatImage, place: Place, rng: np.random.Generator) -> None:
    x, y, w, h = place
    box = (x, y, x + w // 2, y + h // 3)
    _box(draw, box, _muted(rng, 0.05, 0.5))
    if rng.random() < 0.5:  # a poster's text lines or a whiteboard's scribbles
        ink = _jitter(rng, (50, 50, 60), 20)
        for line in range(3, 8):
            ly = y + line * (h // 3) // 9
            cv2.line(draw, (x + w // 12, ly), (x + int(w * rng.uniform(0.2, 0.42)), ly), ink, 1)
    _box(draw, box, _jitter(rng, (40, 40, 40), 10), max(2, w // 40))


def _partition(draw: FloatImage, place: Place, rng: np.random.Generator) -> None:
    x, _, w, _ = place
    height = draw.shape[0]
    top = int(rng.uniform(0.6, 0.85) * height)
    _box(draw, (x, top, x + w * 2, height), _muted(rng, 0.1, 0.45))
    rim = _jitter(rng, (200, 200, 200), 10)
    cv2.line(draw, (x, top), (x + w * 2, top), rim, max(2, height // 120))


_FURNITURE = (_door, _window, _shelf, _picture, _partition)


def _camera(width: int, height: int, rng: np.random.Generator) -> _Camera:
    exposure = rng.uniform(0.85, 1.15)
    balance = np.array([rng.uniform(0.9, 1.1), 1.0, rng.uniform(0.9, 1.1)], np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r2 = ((xx - width / 2) ** 2 + (yy - height / 2) ** 2) / ((width / 2) ** 2 + (height / 2) ** 2)
    vignette = 1.0 - rng.uniform(0.0, 0.3) * r2
    gain = (vignette[:, :, None] * balance * exposure).astype(np.float32)
    gamma = rng.uniform(0.85, 1.15)
    contrast = rng.uniform(0.0, 0.25)
    x = np.arange(256, dtype=np.float64) / 255.0
    curve = np.power(x, gamma)
    s_curve = curve + contrast * (curve - 0.5) * (1 - np.abs(2 * curve - 1))
    tone = np.clip(np.round(255 * s_curve), 0, 255).astype(np.uint8)
    return _Camera(
        gain=gain,
        blur=float(rng.uniform(0.4, 0.9)),
        noise=float(rng.uniform(1.5, 4.5)),
        tone=tone,
        quality=int(rng.integers(60, 91)),
    )

