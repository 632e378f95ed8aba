"""5-point landmarks and dlib's ResNet face descriptor."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.recognize.models import ModelFiles, load_model, model_files
from edge.recognize.types import DESCRIPTOR_DIM, Box, Descriptor, Image

Landmarks = npt.NDArray[np.float32]
"""``(5, 2)`` float32 x, y: two corners of each eye, then the base of the nose."""


class FaceEmbedder:
    """Computes landmarks and 128-D descriptors for face boxes.

    dlib's network object keeps scratch state between calls, so concurrent calls
    (the server's thread pool) are serialised by a lock.
    """

    def __init__(self, models: ModelFiles | None = None) -> None:
        import dlib

        self._dlib: Any = dlib
        files = models or model_files()
        self._predictor: Any = load_model(dlib.shape_predictor, files.landmarks_5)
        self._net: Any = load_model(dlib.face_recognition_model_v1, files.descriptor)
        self._lock = threading.Lock()

    def shape(self, image: Image, box: Box) -> Any:
        """The dlib landmark object for ``box`` (input to :meth:`describe`)."""
        rect = self._dlib.rectangle(box.left, box.top, box.right, box.bottom)
        return self._predictor(image, rect)

    @staticmethod
    def landmarks(shape: Any) -> Landmarks:
        """The landmark object as a ``(5, 2)`` array."""
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)

    def describe(self, image: Image, shape: Any) -> Descriptor:
        """The 128-D float32 descriptor of the face ``shape`` locates in the RGB ``image``."""
        with self._lock:
            raw = self._net.compute_face_descriptor(image, shape)
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
