"""Recognition settings, shared by the edge loop, ``hadir identify`` and server enrolment.

The defaults come from measurements on real faces (``../shared/faces``); see
docs/recognition.md for the distance tables behind them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from edge.config_base import StrictModel
from edge.recognize.liveness.config import LivenessConfig


class HogDetectorConfig(StrictModel):
    """dlib's HOG + linear SVM detector: fast on a CPU, finds faces of ~80 px and up."""

    type: Literal["hog"] = Field("hog", description="Detector backend.")
    max_side: int = Field(
        1280,
        ge=64,
        le=8192,
        description="Longest side, in pixels, of the downscaled copy detection runs on. "
        "Faces smaller than about 80 px in that copy are missed, so size it from the "
        "expected face size: a face that is 10% of the frame width needs max_side >= 800.",
    )
    upsample: int = Field(
        0,
        ge=0,
        le=2,
        description="How often dlib doubles the image before detecting; each step finds faces "
        "half as large at about 4x the cost.",
    )
    min_score: float = Field(
        0.0,
        description="Detections scoring below this are dropped; dlib's own cut-off is 0, and "
        "negative values trade false detections for recall.",
    )


class CnnDetectorConfig(StrictModel):
    """dlib's MMOD CNN detector (models package): more pose-tolerant, about 20x slower on a CPU."""

    type: Literal["cnn"] = Field("cnn", description="Detector backend.")
    max_side: int = Field(
        800, ge=64, le=8192, description="Longest side of the copy detection runs on, in pixels."
    )
    upsample: int = Field(0, ge=0, le=2, description="Upsampling steps before detection.")
    min_score: float = Field(0.0, description="Detections below this confidence are dropped.")


DetectorConfig = Annotated[HogDetectorConfig | CnnDetectorConfig, Field(discriminator="type")]


class QualityConfig(StrictModel):
    """Checks a face must pass before it may decide anything."""

    min_face_px: int = Field(
        60, ge=16, le=2000, description="Smallest face width (detector box, full frame) accepted."
    )
    min_sharpness: float = Field(
        8.0,
        ge=0,
        description="Smallest variance of the Laplacian of the face (faces wider than 112 px "
        "are shrunk to 112 first). Sharp faces measure in the hundreds, a dim low-contrast "
        "face about 15, heavy motion blur under 8.",
    )
    max_yaw: float = Field(
        0.35,
        gt=0,
        le=1,
        description="Largest sideways offset of the nose from the eyes' midpoint, as a fraction "
        "of the eye distance (0 = frontal, ~0.5 = strong profile).",
    )
    max_roll_deg: float = Field(
        30.0, gt=0, le=90, description="Largest head tilt (eye line against horizontal), degrees."
    )
    min_brightness: float = Field(
        25.0, ge=0, le=255, description="Darkest acceptable mean grey level of the face."
    )
    max_brightness: float = Field(
        220.0, ge=0, le=255, description="Brightest acceptable mean grey level of the face."
    )


class MatchingConfig(StrictModel):
    """How a descriptor becomes a decision. See docs/recognition.md for the measurements."""

    threshold: float = Field(
        0.55,
        gt=0,
        lt=2,
        description="Largest Euclidean descriptor distance accepted as the same person. "
        "dlib's textbook 0.6 lets strangers in when searching many people (1:N).",
    )
    min_margin: float = Field(
        0.08,
        ge=0,
        lt=2,
        description="The best person must beat the second-best person's distance by at least "
        "this much.",
    )


class DecisionConfig(StrictModel):
    """How many looks at a tracked face it takes to decide."""

    looks_to_accept: int = Field(
        2,
        ge=1,
        le=10,
        description="Consecutive looks that must each accept the same person (threshold and "
        "margin) before attendance is recorded.",
    )
    looks_to_reject: int = Field(
        3,
        ge=1,
        le=20,
        description="Good-quality looks that accept nobody before the face is reported unknown.",
    )
    reject_after_s: float = Field(
        0.6,
        ge=0,
        le=30,
        description="A face is reported unknown only after this long since its first usable "
        "frame: people walking up are first seen at an angle, and a red light for a colleague "
        "is worse than a short wait.",
    )
    relook_interval_s: float = Field(
        0.12,
        ge=0,
        le=10,
        description="While a face is undecided, at most one new descriptor per this many "
        "seconds, unless its quality clearly improved.",
    )
    improve_ratio: float = Field(
        0.25,
        ge=0,
        le=10,
        description="A look is taken at once when the face's quality score beats its best "
        "described look by this fraction.",
    )
    descriptors_per_frame: int = Field(
        2,
        ge=1,
        le=64,
        description="Most descriptors (the expensive step) computed in one frame. With more "
        "faces waiting, the best-quality ones go first and the others wait for a later frame; "
        "a face that leaves while waiting is still described once from its best view.",
    )


class TrackingConfig(StrictModel):
    """Following faces across frames so descriptors are computed rarely."""

    full_scan_every: int = Field(
        3,
        ge=1,
        le=30,
        description="Scan the whole (downscaled) frame for new faces every N frames; in between "
        "only the regions around known faces are searched.",
    )
    roi_margin: float = Field(
        0.6,
        ge=0.1,
        le=3,
        description="Region searched around a tracked face, as a fraction of its size per side.",
    )
    roi_face_px: int = Field(
        88,
        ge=80,
        le=400,
        description="Region searches rescale so the tracked face is about this wide: dlib's "
        "HOG window is 80 px, so a face a little wider is found at the first or second step "
        "of its image pyramid, and every step beyond costs time and finds nothing.",
    )
    confirm_every: int = Field(
        3,
        ge=1,
        le=30,
        description="A decided face is searched by the detector every N frames; in between "
        "it glides: its picture from the last search is matched around where it should be "
        "(a fraction of a millisecond instead of 5-12). Undecided faces, and a decided face "
        "due for a check, are searched every frame. 1: every face, every frame.",
    )
    min_iou: float = Field(
        0.2, gt=0, le=1, description="Overlap needed to continue a track with a new detection."
    )
    max_missed_s: float = Field(
        1.0,
        gt=0,
        le=30,
        description="A track not seen for this long is closed (the person left).",
    )
    reacquire_gap_s: float = Field(
        0.25,
        gt=0,
        le=10,
        description="A decided face that was not seen for this long is checked again when it "
        "reappears: in a queue, the next person steps into the same spot.",
    )
    reverify_interval_s: float = Field(
        2.0,
        gt=0,
        le=600,
        description="A decided face still in view is checked again this often, for a hand-over "
        "without any gap.",
    )
    split_distance: float = Field(
        0.6,
        gt=0,
        lt=2,
        description="A check farther than this from the track's previous look means another "
        "person: the track is split and the newcomer decided on its own.",
    )
    max_tracks: int = Field(8, ge=1, le=64, description="Faces followed at once, largest first.")
    scan_worker: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Run the whole-frame scans in a second process, so following and "
        "recognising the faces already in view never waits for them (dlib holds Python's "
        "lock while it detects: a thread would not help). New faces are then found a scan's "
        "duration later. on: always (a 1080p crowd camera on two cores); auto: with four or "
        "more usable cores (a Pi 4 or 5, a Jetson); off: scans in the loop's process. Never "
        "for a fast replay.",
    )


class IdleConfig(StrictModel):
    """The idle gate (edge/recognize/idle.py): no face detection while nothing changes."""

    enabled: bool = Field(
        True,
        description="Skip face detection on frames where nothing changed and nobody is "
        "tracked; off runs the detector on every frame's schedule, as before.",
    )
    thumb_width: int = Field(
        160,
        ge=32,
        le=640,
        description="Width of the grey, blurred thumbnail changes are looked for in (the "
        "height follows the frame's aspect).",
    )
    pixel_threshold: float = Field(
        10.0,
        gt=0,
        le=255,
        description="A thumbnail pixel has changed when it differs from the background by more "
        "than this many grey levels (after the whole picture's brightness change is taken "
        "out); blurred sensor noise stays under 3.",
    )
    min_changed: float = Field(
        0.002,
        gt=0,
        le=1,
        description="Fraction of thumbnail pixels that must change to wake the detector "
        "(0.002 of 160x90 = 29 pixels; a 60 px face at 720p changes about 60).",
    )
    background_s: float = Field(
        0.5,
        gt=0,
        le=600,
        description="Time constant of the background the thumbnail is compared with: changes "
        "slower than this (daylight, a cloud) are learnt instead of waking the detector.",
    )
    hold_s: float = Field(
        1.0,
        ge=0,
        le=60,
        description="After the last change or tracked face, detection keeps its usual "
        "schedule this long (someone who walked in and stopped).",
    )
    scan_interval_s: float = Field(
        1.0,
        gt=0,
        le=600,
        description="While resting, a full scan at most this often when the picture differs "
        "from the last one a scan found empty (someone who came in too slowly to wake it).",
    )
    max_rest_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="While resting, a full scan at least this often, whatever the picture: a "
        "net for a face the change checks cannot see. Each scan of an empty 720p frame costs "
        "~85 ms here, so 10 s would take 0.009 of a core.",
    )


class RecognitionConfig(StrictModel):
    """Detector, quality gates and matching rules."""

    detector: DetectorConfig = Field(
        default_factory=HogDetectorConfig, description="Face detector backend and its scale."
    )
    quality: QualityConfig = Field(default_factory=QualityConfig, description="Quality gates.")
    matching: MatchingConfig = Field(
        default_factory=MatchingConfig, description="Distance threshold and margin rules."
    )
    decision: DecisionConfig = Field(
        default_factory=DecisionConfig, description="Looks needed to accept or reject a face."
    )
    tracking: TrackingConfig = Field(
        default_factory=TrackingConfig, description="Face tracking between frames."
    )
    idle: IdleConfig = Field(
        default_factory=IdleConfig,
        description="Resting while nothing moves: change detection gates the face detector.",
    )
    liveness: LivenessConfig = Field(
        default_factory=LivenessConfig,
        description="Presentation-attack check: is the face a live person, not a photo or screen.",
    )
    max_image_pixels: int = Field(
        40_000_000,
        ge=1,
        description="Images declaring more pixels than this are refused before decoding "
        "(decompression-bomb guard).",
    )
