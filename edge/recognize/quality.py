"""Is this face good enough to decide anything? Each failed check is a named reason."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import cv2
import numpy as np

from edge.recognize.config import QualityConfig
from edge.recognize.embedder import Landmarks
from edge.recognize.types import Box, Image

_SHARPNESS_WIDTH = 112


class QualityIssue(enum.StrEnum):
    """Why a face may not be used. Values are stable: they appear in logs and API answers."""

    TOO_SMALL = "too_small"
    BLURRED = "blurred"
    TURNED_AWAY = "turned_away"
    TILTED = "tilted"
    TOO_DARK = "too_dark"
    TOO_BRIGHT = "too_bright"


@dataclass(frozen=True, slots=True)
class Quality:
    """Measured quality of one face and the checks it failed."""

    width_px: int
    sharpness: float
    yaw: float
    roll_deg: float
    brightness: float
    issues: tuple[QualityIssue, ...]

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def score(self) -> float:
        """One number to compare looks at the same face: bigger, sharper, more frontal is better."""
        return self.width_px * min(1.0, self.sharpness / 100.0) * max(0.0, 1.0 - self.yaw)

    def describe(self) -> str:
        return ", ".join(self.issues) if self.issues else "ok"


def pose(landmarks: Landmarks) -> tuple[float, float]:
    """(yaw, roll in degrees) from dlib's 5 landmarks.

    yaw is the nose's offset along the eye line from the eyes' midpoint, as a
    fraction of the eye distance: 0 when frontal, growing as the head turns.
    """
    eye_a = landmarks[0:2].mean(axis=0)
    eye_b = landmarks[2:4].mean(axis=0)
    nose = landmarks[4]
    if eye_a[0] > eye_b[0]:
        eye_a, eye_b = eye_b, eye_a
    axis = eye_b - eye_a
    distance = float(np.hypot(axis[0], axis[1]))
    if distance < 1e-6:
        return 1.0, 90.0
    unit = axis / distance
    offset = float(np.dot(nose - (eye_a + eye_b) / 2.0, unit))
    yaw = abs(offset) / distance
    roll = math.degrees(math.atan2(float(axis[1]), float(axis[0])))
    return yaw, roll


def assess(grey: Image, box: Box, landmarks: Landmarks, config: QualityConfig) -> Quality:
    """Measure a face in a grey frame and name every check it fails."""
    height, width = grey.shape[:2]
    clip = box.clipped(width, height)
    crop = grey[clip.top : clip.bottom, clip.left : clip.right]
    if crop.size == 0:
        return Quality(0, 0.0, 1.0, 0.0, 0.0, (QualityIssue.TOO_SMALL,))
    # Large faces are shrunk so sharpness is comparable across sizes; small ones are
    # measured as they are, because upsampling would smooth them and fake blur.
    if crop.shape[1] > _SHARPNESS_WIDTH:
        scale = _SHARPNESS_WIDTH / crop.shape[1]
        crop_for_sharpness = cv2.resize(
            crop,
            (_SHARPNESS_WIDTH, max(1, round(crop.shape[0] * scale))),
            interpolation=cv2.INTER_AREA,
        )
    else:
        crop_for_sharpness = crop
    sharpness = float(cv2.Laplacian(crop_for_sharpness, cv2.CV_64F).var())
    brightness = float(crop.mean())
    yaw, roll = pose(landmarks)
    issues: list[QualityIssue] = []
    if box.width < config.min_face_px:
        issues.append(QualityIssue.TOO_SMALL)
    if sharpness < config.min_sharpness:
        issues.append(QualityIssue.BLURRED)
    if yaw > config.max_yaw:
        issues.append(QualityIssue.TURNED_AWAY)
    if abs(roll) > config.max_roll_deg:
        issues.append(QualityIssue.TILTED)
    if brightness < config.min_brightness:
        issues.append(QualityIssue.TOO_DARK)
    if brightness > config.max_brightness:
        issues.append(QualityIssue.TOO_BRIGHT)
    return Quality(box.width, sharpness, yaw, roll, brightness, tuple(issues))
