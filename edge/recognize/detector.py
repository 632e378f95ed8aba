"""Face detectors. dlib is imported here, at construction, never at package import."""

from __future__ import annotations

import abc
import threading
from typing import Any

import cv2
import numpy as np

from edge.recognize.config import CnnDetectorConfig, DetectorConfig, HogDetectorConfig
from edge.recognize.models import load_model, model_files
from edge.recognize.types import Box, Detection, Image


def to_grey(image: Image) -> Image:
    """RGB -> grey (a grey image is returned as is)."""
    if image.ndim == 2:
        return image
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), dtype=np.uint8)


def downscale(image: Image, max_side: int) -> tuple[Image, float]:
    """Shrink so the longer side is at most ``max_side``; returns the copy and its scale (<= 1)."""
    height, width = image.shape[:2]
    longest = max(height, width)
    if longest <= max_side:
        return image, 1.0
    scale = max_side / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return np.asarray(small, dtype=np.uint8), scale


class FaceDetector(abc.ABC):
    """Finds face boxes in a frame. Boxes are returned in full-frame coordinates."""

    def __init__(self, max_side: int, upsample: int, min_score: float) -> None:
        self.max_side = max_side
        self.upsample = upsample
        self.min_score = min_score

    def detect(self, image: Image) -> list[Detection]:
        """Detect faces in an RGB or grey frame, largest first."""
        height, width = image.shape[:2]
        small, scale = downscale(image, self.max_side)
        raw = self._detect(small)
        found: list[Detection] = []
        for (left, top, right, bottom), score in raw:
            if score < self.min_score:
                continue
            box = Box(
                round(left / scale), round(top / scale), round(right / scale), round(bottom / scale)
            ).clipped(width, height)
            if box.width > 0 and box.height > 0:
                found.append(Detection(box, float(score)))
        found.sort(key=lambda d: d.box.area, reverse=True)
        return found

    def detect_region(self, image: Image, region: Box, scale: float) -> list[Detection]:
        """Detect inside ``region`` of a full frame, resampled by ``scale`` first.

        Used around a tracked face: the region is small, and ``scale`` brings the
        face to the size the detector works best at, up or down.
        """
        height, width = image.shape[:2]
        region = region.clipped(width, height)
        if region.width < 8 or region.height < 8:
            return []
        crop = image[region.top : region.bottom, region.left : region.right]
        if abs(scale - 1.0) > 0.05:
            size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
            interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            crop = np.asarray(cv2.resize(crop, size, interpolation=interpolation), dtype=np.uint8)
        else:
            scale = 1.0
        found = []
        for (left, top, right, bottom), score in self._detect(np.ascontiguousarray(crop)):
            if score < self.min_score:
                continue
            box = Box(
                region.left + round(left / scale),
                region.top + round(top / scale),
                region.left + round(right / scale),
                region.top + round(bottom / scale),
            ).clipped(width, height)
            if box.width > 0 and box.height > 0:
                found.append(Detection(box, float(score)))
        return found

    @abc.abstractmethod
    def _detect(self, image: Image) -> list[tuple[tuple[int, int, int, int], float]]:
        """Detect on the already downscaled image; boxes in its own coordinates."""

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} max_side={self.max_side} upsample={self.upsample} "
            f"min_score={self.min_score}>"
        )


class HogDetector(FaceDetector):
    """dlib HOG detector, run on a grey copy."""

    def __init__(self, config: HogDetectorConfig) -> None:
        super().__init__(config.max_side, config.upsample, config.min_score)
        import dlib

        self._detector: Any = dlib.get_frontal_face_detector()

    def _detect(self, image: Image) -> list[tuple[tuple[int, int, int, int], float]]:
        grey = to_grey(image)
        rects, scores, _ = self._detector.run(grey, self.upsample, min(0.0, self.min_score))
        return [
            ((r.left(), r.top(), r.right(), r.bottom()), float(s))
            for r, s in zip(rects, scores, strict=True)
        ]


class CnnDetector(FaceDetector):
    """dlib MMOD CNN detector. Not thread-safe in dlib, hence the lock."""

    def __init__(self, config: CnnDetectorConfig) -> None:
        super().__init__(config.max_side, config.upsample, config.min_score)
        import dlib

        self._detector: Any = load_model(
            dlib.cnn_face_detection_model_v1, model_files().cnn_detector
        )
        self._lock = threading.Lock()

    def _detect(self, image: Image) -> list[tuple[tuple[int, int, int, int], float]]:
        rgb = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        with self._lock:
            hits = self._detector(rgb, self.upsample)
        return [
            ((h.rect.left(), h.rect.top(), h.rect.right(), h.rect.bottom()), float(h.confidence))
            for h in hits
        ]


def create_detector(config: DetectorConfig) -> FaceDetector:
    """The detector backend the config's ``type`` names."""
    if isinstance(config, HogDetectorConfig):
        return HogDetector(config)
    return CnnDetector(config)
