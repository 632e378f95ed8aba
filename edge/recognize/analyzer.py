"""Detector + landmarks + quality + descriptor, composed for still images and frames."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.errors import NoFaceError, PoorQualityError, SeveralFacesError
from edge.recognize.config import RecognitionConfig
from edge.recognize.detector import FaceDetector, create_detector, to_grey
from edge.recognize.embedder import FaceEmbedder, Landmarks
from edge.recognize.models import ModelFiles
from edge.recognize.quality import Quality, assess
from edge.recognize.types import Box, Descriptor, Image


@dataclass(frozen=True, slots=True)
class Face:
    """One face in one image: where, how good, and (if computed) its descriptor."""

    box: Box
    score: float
    landmarks: Landmarks
    quality: Quality
    descriptor: Descriptor | None
    shape: Any = None  # dlib landmark object, reused to describe later


class FaceAnalyzer:
    """The recognition stages wired together, for code that works on whole images."""

    def __init__(
        self,
        config: RecognitionConfig | None = None,
        *,
        detector: FaceDetector | None = None,
        embedder: FaceEmbedder | None = None,
        models: ModelFiles | None = None,
    ) -> None:
        self.config = config or RecognitionConfig()
        self.detector = detector or create_detector(self.config.detector)
        self.embedder = embedder or FaceEmbedder(models)

    def faces(self, rgb: Image, *, describe: bool = True) -> list[Face]:
        """Every face in an RGB image, largest first; descriptors only for usable faces."""
        grey = to_grey(rgb)
        found: list[Face] = []
        for det in self.detector.detect(grey):
            shape = self.embedder.shape(grey, det.box)
            landmarks = self.embedder.landmarks(shape)
            quality = assess(grey, det.box, landmarks, self.config.quality)
            descriptor = self.embedder.describe(rgb, shape) if describe and quality.ok else None
            found.append(Face(det.box, det.score, landmarks, quality, descriptor, shape))
        return found

    def describe(self, rgb: Image, face: Face) -> Descriptor:
        """The descriptor of a face found earlier (for faces that failed quality)."""
        if face.descriptor is not None:
            return face.descriptor
        return self.embedder.describe(rgb, face.shape)

    def enrolment_descriptor(
        self, rgb: Image, *, name: str = "image", jitters: int = 0
    ) -> Descriptor:
        """The descriptor of the one good face an enrolment photo must hold.

        ``jitters`` goes to :meth:`FaceEmbedder.describe` (0: the plain descriptor).
        Raises :class:`NoFaceError`, :class:`SeveralFacesError` or
        :class:`PoorQualityError` naming what is wrong.
        """
        faces = self.faces(rgb, describe=False)
        if not faces:
            raise NoFaceError(f"{name}: no face found")
        if len(faces) > 1:
            raise SeveralFacesError(
                f"{name}: {len(faces)} faces found; an enrolment photo must show one person"
            )
        face = faces[0]
        if not face.quality.ok:
            error = PoorQualityError(f"{name}: face unusable ({face.quality.describe()})")
            error.reason = face.quality.issues[0].value
            raise error
        return self.embedder.describe(rgb, face.shape, jitters=jitters)

    def __repr__(self) -> str:
        return f"<FaceAnalyzer {self.detector!r} {self.embedder!r}>"
