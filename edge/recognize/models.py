"""Locate dlib's model files shipped by ``face_recognition_models``.

That package's ``__init__`` imports ``pkg_resources``, which setuptools >= 81
no longer ships, so importing it fails on a current environment. We only need
its data files, so we ask the import system where the package lives and never
execute its code.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from edge.errors import ModelLoadError, ModelNotFoundError

_PACKAGE = "face_recognition_models"
MODELS_ENV = "HADIR_MODELS_DIR"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ModelFiles:
    """Paths of the four dlib models hadir uses."""

    landmarks_5: Path
    landmarks_68: Path
    descriptor: Path
    cnn_detector: Path


_FILES = {
    "landmarks_5": "shape_predictor_5_face_landmarks.dat",
    "landmarks_68": "shape_predictor_68_face_landmarks.dat",
    "descriptor": "dlib_face_recognition_resnet_model_v1.dat",
    "cnn_detector": "mmod_human_face_detector.dat",
}


def models_dir() -> Path:
    """The folder holding the ``.dat`` files.

    ``HADIR_MODELS_DIR`` wins (for a terminal that keeps models elsewhere);
    otherwise the installed ``face_recognition_models`` package is located
    without importing it.
    """
    override = os.environ.get(MODELS_ENV)
    if override:
        return Path(override)
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"package {_PACKAGE!r} is not installed: pip install face_recognition_models "
            f"(or set {MODELS_ENV} to a folder holding the dlib .dat files)"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "models"
        if candidate.is_dir():
            return candidate
    raise ModelNotFoundError(f"package {_PACKAGE!r} has no models/ folder")


def model_files() -> ModelFiles:
    """All model paths, checked to exist."""
    base = models_dir()
    paths = {key: base / name for key, name in _FILES.items()}
    for path in paths.values():
        if not path.is_file():
            raise ModelNotFoundError(f"model file missing: {path}")
    return ModelFiles(**paths)


def load_model(loader: Callable[[str], T], path: Path) -> T:
    """``loader(path)`` (a dlib model constructor), or :class:`ModelLoadError` naming the file.

    dlib reports a truncated or foreign file as a multi-line ``RuntimeError``
    ("Error deserializing ..."); a garbage length field can also make it ask
    for absurd amounts of memory. Either way the file is what the admin must
    fix, so the message names it on one line.
    """
    try:
        return loader(str(path))
    except (RuntimeError, MemoryError, OSError) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ModelLoadError(
            f"model file {path} cannot be loaded, it is corrupt or truncated ({detail}); "
            f"reinstall {_PACKAGE} or replace the file"
        ) from exc
