"""Still-image identification: build a gallery from a folder, identify faces in images.

Used by ``hadir identify`` and by the tests on real faces.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.errors import ImageError
from edge.recognize.analyzer import FaceAnalyzer
from edge.recognize.matcher import Gallery, Match
from edge.recognize.quality import Quality
from edge.recognize.types import Box, Descriptor, Image


@dataclass(frozen=True, slots=True)
class Rejected:
    """A file that could not be used, and why."""

    path: Path
    reason: str
    message: str


@dataclass(slots=True)
class GalleryBuild:
    """The gallery built from a folder plus what was left out."""

    gallery: Gallery
    templates_per_person: dict[str, int] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class IdentifiedFace:
    """One face in a probe image and the decision about it."""

    box: Box
    quality: Quality
    match: Match | None
    accepted: bool

    @property
    def person_id(self) -> str | None:
        return self.match.person_id if self.accepted and self.match else None


def iter_images(path: Path) -> Iterator[Path]:
    """``path`` itself, or the files under a folder in name order (hidden files skipped)."""
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
            if child.is_file() and not hidden:
                yield child
    else:
        yield path


def build_gallery(
    analyzer: FaceAnalyzer, root: Path, *, max_pixels: int | None = None, jitters: int = 0
) -> GalleryBuild:
    """Enrol every ``root/<person>/*`` image that holds exactly one usable face.

    ``jitters``: how many jittered copies each template averages (``hadir identify``
    passes ``ENROLMENT_JITTERS``, as the server does when it enrols a photo).
    """
    if not root.is_dir():
        raise FileNotFoundError(f"gallery folder not found: {root}")
    limit = max_pixels or analyzer.config.max_image_pixels
    owners: list[str] = []
    rows: list[Descriptor] = []
    result = GalleryBuild(Gallery.empty())
    for person_dir in sorted(
        p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
    ):
        for image_path in iter_images(person_dir):
            try:
                descriptor = enrol_file(analyzer, image_path, max_pixels=limit, jitters=jitters)
            except ImageError as exc:
                result.rejected.append(Rejected(image_path, exc.reason, str(exc)))
                continue
            owners.append(person_dir.name)
            rows.append(descriptor)
            result.templates_per_person[person_dir.name] = (
                result.templates_per_person.get(person_dir.name, 0) + 1
            )
    if rows:
        result.gallery = Gallery.from_rows(owners, np.stack(rows))
    return result


def enrol_file(
    analyzer: FaceAnalyzer, path: Path, *, max_pixels: int, jitters: int = 0
) -> Descriptor:
    from edge.recognize.image import read_image

    return analyzer.enrolment_descriptor(
        read_image(path, max_pixels=max_pixels), name=str(path), jitters=jitters
    )


def identify(analyzer: FaceAnalyzer, gallery: Gallery, rgb: Image) -> list[IdentifiedFace]:
    """Every face in ``rgb`` with its match; faces failing quality are not matched."""
    rules = analyzer.config.matching
    results = []
    for face in analyzer.faces(rgb):
        if face.descriptor is None:
            results.append(IdentifiedFace(face.box, face.quality, None, False))
            continue
        match = gallery.match(face.descriptor)
        results.append(IdentifiedFace(face.box, face.quality, match, match.accepted(rules)))
    return results


__all__ = [
    "GalleryBuild",
    "IdentifiedFace",
    "Rejected",
    "build_gallery",
    "enrol_file",
    "identify",
    "iter_images",
]
