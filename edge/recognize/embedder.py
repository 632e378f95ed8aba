"""5-point landmarks and dlib's ResNet face descriptor."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.errors import ConfigError
from edge.recognize.models import ModelFiles, load_model, model_files
from edge.recognize.types import DESCRIPTOR_DIM, Box, Descriptor, Image

Landmarks = npt.NDArray[np.float32]
"""``(5, 2)`` float32 x, y: two corners of each eye, then the base of the nose."""

MAX_JITTERS = 100
"""Most jittered copies one descriptor may average: each costs a full pass of the network."""

ENROLMENT_JITTERS = 10
"""Jittered copies a template made from a photo averages (server enrolment, ``hadir
identify``'s gallery). Chosen from scripts/measure_jitter.py; see docs/recognition.md."""


def check_jitters(value: object) -> int:
    """``value`` as a jitter count, or a :class:`ConfigError` naming what is wrong."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"jitters must be a whole number 0-{MAX_JITTERS}, not {value!r}")
    if not 0 <= value <= MAX_JITTERS:
        raise ConfigError(f"jitters must be 0-{MAX_JITTERS}, not {value}")
    return value


class FaceEmbedder:
    """Computes landmarks and 128-D descriptors for face boxes.

    dlib's network object keeps scratch state between calls, so concurrent calls
    (the server's thread pool) are serialised by a lock.

    ``described`` counts the descriptors computed so far by jitter count, so a caller
    can show which path paid for jittering (the terminal's live loop never should).
    """

    def __init__(self, models: ModelFiles | None = None) -> None:
        import dlib

        self._dlib: Any = dlib
        files = models or model_files()
        self._predictor: Any = load_model(dlib.shape_predictor, files.landmarks_5)
        self._net: Any = load_model(dlib.face_recognition_model_v1, files.descriptor)
        self._lock = threading.Lock()
        self.described: Counter[int] = Counter()

    def shape(self, image: Image, box: Box) -> Any:
        """The dlib landmark object for ``box`` (input to :meth:`describe`)."""
        rect = self._dlib.rectangle(box.left, box.top, box.right, box.bottom)
        return self._predictor(image, rect)

    @staticmethod
    def landmarks(shape: Any) -> Landmarks:
        """The landmark object as a ``(5, 2)`` array."""
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)

    def describe(self, image: Image, shape: Any, *, jitters: int = 0) -> Descriptor:
        """The 128-D float32 descriptor of the face ``shape`` locates in the RGB ``image``.

        With ``jitters`` > 1, dlib averages the descriptors of that many randomly shifted,
        rotated, scaled and mirrored copies of the face: a steadier template for about
        ``jitters`` times the cost, meant for enrolment photos. 0 and 1 are the plain
        descriptor, the one the terminal computes from live frames.
        """
        jitters = check_jitters(jitters)
        with self._lock:
            raw = self._net.compute_face_descriptor(image, shape, jitters)
            self.described[jitters] += 1
        vec = np.asarray(raw, dtype=np.float32).reshape(DESCRIPTOR_DIM)
        return vec

    def chip(self, image: Image, shape: Any) -> Image:
        """The aligned 150x150 RGB face chip the descriptor network reads (about 67 KB): what
        :meth:`describe` cuts out of the frame, kept to describe later without the frame."""
        chip = self._dlib.get_face_chip(image, shape, size=150, padding=0.25)
        return np.asarray(chip, dtype=np.uint8)

    def describe_chip(self, chip: Image) -> Descriptor:
        """The descriptor of a :meth:`chip`: the same numbers :meth:`describe` gives."""
        with self._lock:
            raw = self._net.compute_face_descriptor(np.ascontiguousarray(chip))
        return np.asarray(raw, dtype=np.float32).reshape(DESCRIPTOR_DIM)

    def __repr__(self) -> str:
        return "<FaceEmbedder landmarks=5 descriptor=resnet128>"
