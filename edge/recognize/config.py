"""Recognition settings, shared by the edge loop, ``hadir identify`` and server enrolment.

The defaults come from measurements on real faces (``../shared/faces``); see
docs/recognition.md for the distance tables behind them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HogDetectorConfig(_Strict):
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


class CnnDetectorConfig(_Strict):
    """dlib's MMOD CNN detector (models package): more pose-tolerant, about 20x slower on a CPU."""

    type: Literal["cnn"] = Field("cnn", description="Detector backend.")
    max_side: int = Field(
        800, ge=64, le=8192, description="Longest side of the copy detection runs on, in pixels."
    )
    upsample: int = Field(0, ge=0, le=2, description="Upsampling steps before detection.")
    min_score: float = Field(0.0, description="Detections below this confidence are dropped.")


DetectorConfig = Annotated[HogDetectorConfig | CnnDetectorConfig, Field(discriminator="type")]


class QualityConfig(_Strict):
    """Checks a face must pass before it may decide anything."""

    min_face_px: int = Field(
        60, ge=16, le=2000, description="Smallest face width (detector box, full frame) accepted."
    )
    min_sharpness: float = Field(
        12.0,
        ge=0,
        description="Smallest variance of the Laplacian of the face, resampled to 112 px wide. "
        "Sharp faces measure in the hundreds, motion blur under 10.",
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
        40.0, ge=0, le=255, description="Darkest acceptable mean grey level of the face."
    )
    max_brightness: float = Field(
        220.0, ge=0, le=255, description="Brightest acceptable mean grey level of the face."
    )


class MatchingConfig(_Strict):
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


class RecognitionConfig(_Strict):
    """Detector, quality gates and matching rules."""

    detector: DetectorConfig = Field(
        default_factory=HogDetectorConfig, description="Face detector backend and its scale."
    )
    quality: QualityConfig = Field(default_factory=QualityConfig, description="Quality gates.")
    matching: MatchingConfig = Field(
        default_factory=MatchingConfig, description="Distance threshold and margin rules."
    )
    max_image_pixels: int = Field(
        40_000_000,
        ge=1,
        description="Images declaring more pixels than this are refused before decoding "
        "(decompression-bomb guard).",
    )
