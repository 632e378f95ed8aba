"""Descriptors of the real faces, computed once per session (dlib is slow on a CPU)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from edge.recognize.analyzer import FaceAnalyzer
from edge.recognize.image import read_image
from edge.recognize.types import Descriptor


@dataclass(frozen=True)
class PeopleSet:
    """people/<identity>/* descriptors, images sorted by name."""

    by_person: dict[str, list[tuple[Path, Descriptor]]]


@pytest.fixture(scope="session")
def people(faces_dir: Path, analyzer: FaceAnalyzer) -> PeopleSet:
    by_person: dict[str, list[tuple[Path, Descriptor]]] = {}
    for person_dir in sorted(p for p in (faces_dir / "people").iterdir() if p.is_dir()):
        for image in sorted(person_dir.iterdir()):
            descriptor = analyzer.enrolment_descriptor(read_image(image), name=str(image))
            by_person.setdefault(person_dir.name, []).append((image, descriptor))
    return PeopleSet(by_person)


@pytest.fixture(scope="session")
def impostor_descriptors(faces_dir: Path, analyzer: FaceAnalyzer) -> list[tuple[str, Descriptor]]:
    """Every face dlib finds in detection/*.jpg and scenes/bald_guys.jpg (none in people/).

    Quality gates are deliberately not applied: the matching rules alone must
    keep strangers out, even for faces a terminal would never use.
    """
    images = [*sorted((faces_dir / "detection").glob("*.jpg")), faces_dir / "scenes/bald_guys.jpg"]
    found: list[tuple[str, Descriptor]] = []
    for image in images:
        rgb = read_image(image)
        for face in analyzer.faces(rgb, describe=False):
            found.append((image.name, analyzer.describe(rgb, face)))
    return found


def stack(rows: list[Descriptor]) -> np.ndarray:
    return np.stack(rows).astype(np.float32)
