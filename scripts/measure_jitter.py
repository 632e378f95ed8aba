#!/usr/bin/env python3
"""Enrolment templates averaged over dlib's jittered copies: what they change, what they cost.

A template is made once, from a photo, and then compared with thousands of plain
descriptors of live frames (the terminal never jitters). So every measurement
here pairs templates made with N jitters against probes made without any:

- moved: how far the jittered template of a photo lies from its plain descriptor;
- genuine: each person enrolled from their first photo, every other photo probed
  (largest distance, smallest margin to the next person);
- leave-one-out: each photo probed against every other photo enrolled (its own
  person's other photos included): largest and mean distance to its own person,
  smallest margin, rank-1 errors;
- strangers: each identity left out and probed against all the others, and the
  impostor faces (detection/*.jpg, scenes/bald_guys.jpg) against everyone: the
  closest distance, how many fall under the threshold;
- templates against templates (the server's check of a new photo against the ones
  stored): widest spread of one person's, closest two people's;
- clip: video/short_hamilton_clip.mp4, Lin-Manuel Miranda enrolled from lmm1.png,
  every 3rd frame probed: his frames (82-210) and the stranger's (217-248);
- time per enrolment photo: detection, landmarks and quality once, plus the
  descriptor with N jitters; the ratio is against 0 jitters in the same run (the
  jitter counts take turns photo by photo, so a busy machine slows all alike).

Prints one markdown table (a column per jitter count) and the matching rules it
judged against (``edge.recognize.config.MatchingConfig``).

    .venv/bin/python scripts/measure_jitter.py [--faces ../shared/faces] [--jitters 0,5,10,20,50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.errors import ImageError
from edge.recognize.analyzer import FaceAnalyzer
from edge.recognize.config import HogDetectorConfig, MatchingConfig, RecognitionConfig
from edge.recognize.embedder import check_jitters
from edge.recognize.image import read_image
from edge.recognize.matcher import Gallery, Match
from edge.recognize.types import Descriptor, Image

ROOT = Path(__file__).resolve().parent.parent
CLIP = "video/short_hamilton_clip.mp4"
CLIP_PERSON = "lin_manuel_miranda"
CLIP_ENROLMENT = "people/lin_manuel_miranda/lmm1.png"
CLIP_HIM = range(82, 211)
CLIP_STRANGER = range(217, 249)
CLIP_STEP = 3


@dataclass
class Photo:
    person: str
    path: Path
    rgb: Image
    shape: object
    detect_ms: float
    templates: dict[int, Descriptor] = field(default_factory=dict)
    describe_ms: dict[int, float] = field(default_factory=dict)


def parse_jitters(text: str) -> list[int]:
    """``"0,5,10"`` as sorted distinct jitter counts, always with 0 (the baseline)."""
    try:
        values = {check_jitters(int(part)) for part in text.split(",") if part.strip()}
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--jitters {text!r}: {exc}") from None
    return sorted(values | {0})


def default_faces_dir() -> Path:
    return Path(os.environ.get("HADIR_FACES_DIR") or ROOT.parent / "shared" / "faces")


def load_photos(analyzer: FaceAnalyzer, faces: Path) -> list[Photo]:
    photos = []
    for person_dir in sorted(p for p in (faces / "people").iterdir() if p.is_dir()):
        for path in sorted(person_dir.iterdir()):
            rgb = read_image(path)
            start = time.perf_counter()
            found = analyzer.faces(rgb, describe=False)
            detect_ms = (time.perf_counter() - start) * 1000
            if len(found) != 1 or not found[0].quality.ok:
                print(f"skipped {path}: not one usable face", file=sys.stderr)
                continue
            photos.append(Photo(person_dir.name, path, rgb, found[0].shape, detect_ms))
    return photos


def describe_all(analyzer: FaceAnalyzer, photos: Sequence[Photo], jitters: Sequence[int]) -> None:
    for n, photo in enumerate(photos):
        turn = n % len(jitters)
        for count in [*jitters[turn:], *jitters[:turn]]:
            start = time.perf_counter()
            photo.templates[count] = analyzer.embedder.describe(
                photo.rgb, photo.shape, jitters=count
            )
            photo.describe_ms[count] = (time.perf_counter() - start) * 1000


def impostor_probes(analyzer: FaceAnalyzer, faces: Path) -> list[Descriptor]:
    """Plain descriptors of every face dlib finds in images of people not in people/."""
    images = [*sorted((faces / "detection").glob("*.jpg")), faces / "scenes/bald_guys.jpg"]
    probes: list[Descriptor] = []
    for image in images:
        rgb = read_image(image)
        probes.extend(analyzer.describe(rgb, face) for face in analyzer.faces(rgb, describe=False))
    return probes


def clip_probes(analyzer: FaceAnalyzer, faces: Path) -> tuple[list[Descriptor], list[Descriptor]]:
    """Plain descriptors of the largest usable face in every 3rd frame: his, the stranger's."""
    him: list[Descriptor] = []
    stranger: list[Descriptor] = []
    capture = cv2.VideoCapture(str(faces / CLIP))
    index = 0
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            wanted = him if index in CLIP_HIM else stranger if index in CLIP_STRANGER else None
            if wanted is not None and index % CLIP_STEP == 0:
                rgb: Image = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), np.uint8)
                usable = [f for f in analyzer.faces(rgb) if f.descriptor is not None]
                if usable:
                    wanted.append(max(usable, key=lambda f: f.box.width).descriptor)  # type: ignore[arg-type]
            index += 1
    finally:
        capture.release()
    return him, stranger


def gallery_of(photos: Sequence[Photo], jitters: int, skip: Photo | None = None) -> Gallery:
    kept = [p for p in photos if p is not skip]
    rows = np.stack([p.templates[jitters] for p in kept])
    return Gallery.from_rows([p.person for p in kept], rows)


def measure(
    photos: Sequence[Photo],
    impostors: Sequence[Descriptor],
    clip: tuple[Sequence[Descriptor], Sequence[Descriptor]],
    clip_template: dict[int, Descriptor],
    jitters: int,
    rules: MatchingConfig,
) -> dict[str, str]:
    by_person: dict[str, list[Photo]] = {}
    for photo in photos:
        by_person.setdefault(photo.person, []).append(photo)
    row: dict[str, str] = {}

    moved = [float(np.linalg.norm(p.templates[jitters] - p.templates[0])) for p in photos]
    row["moved from the plain descriptor, mean / max"] = (
        f"{statistics.mean(moved):.3f} / {max(moved):.3f}"
    )

    first = Gallery.from_mapping({n: rows[0].templates[jitters] for n, rows in by_person.items()})
    genuine = [
        (p.person, first.match(p.templates[0])) for rows in by_person.values() for p in rows[1:]
    ]
    largest = max(m.distance for _, m in genuine)
    row["genuine (first photo enrolled): largest distance"] = f"{largest:.3f}"
    row["genuine: mean distance"] = f"{statistics.mean(m.distance for _, m in genuine):.3f}"
    row["genuine: smallest margin"] = f"{min(m.margin for _, m in genuine):.3f}"
    row["genuine: not accepted"] = _count_refused(genuine, rules)

    loo: list[tuple[str, Match]] = []
    own: list[float] = []
    for photo in photos:
        if len(by_person[photo.person]) < 2:
            continue
        gallery = gallery_of(photos, jitters, skip=photo)
        match = gallery.match(photo.templates[0])
        loo.append((photo.person, match))
        distances = gallery.person_distances(photo.templates[0])
        own.append(float(distances[gallery.person_ids.index(photo.person)]))
    margins = [m.margin if m.person_id == person else -float("inf") for person, m in loo]
    row["leave-one-out: largest own-person distance"] = f"{max(own):.3f}"
    row["leave-one-out: mean own-person distance"] = f"{statistics.mean(own):.4f}"
    row["leave-one-out: smallest margin"] = f"{min(margins):.3f}"
    row["leave-one-out: rank-1 errors / not accepted"] = (
        f"{sum(1 for person, m in loo if m.person_id != person)} / {_count_refused(loo, rules)}"
    )

    strangers: list[Match] = []
    for name, rows in by_person.items():
        others = gallery_of([p for p in photos if p.person != name], jitters)
        strangers.extend(others.match(p.templates[0]) for p in rows)
    row["leave-one-identity-out: closest stranger"] = _closest(strangers, rules)

    everyone = gallery_of(photos, jitters)
    row[f"impostors ({len(impostors)}): closest"] = _closest(
        [everyone.match(q) for q in impostors], rules
    )

    # The server compares a new photo's template with the ones already stored: both sides
    # made from photos, so both jittered.
    within: list[float] = []
    across: list[float] = []
    for i, a in enumerate(photos):
        for b in photos[i + 1 :]:
            gap = float(np.linalg.norm(a.templates[jitters] - b.templates[jitters]))
            (within if a.person == b.person else across).append(gap)
    row["template to template, same person: widest"] = f"{max(within):.3f}"
    row["template to template, two people: closest"] = f"{min(across):.3f}"

    template = clip_template[jitters]
    him = [float(np.linalg.norm(q - template)) for q in clip[0]]
    them = [float(np.linalg.norm(q - template)) for q in clip[1]]
    row[f"clip, him ({len(him)} frames): median / largest"] = (
        f"{statistics.median(him):.3f} / {max(him):.3f}"
    )
    row[f"clip, stranger ({len(them)} frames): closest"] = f"{min(them):.3f}"

    total = [p.detect_ms + p.describe_ms[jitters] for p in photos]
    base = [p.detect_ms + p.describe_ms[0] for p in photos]
    row["time per enrolment photo, ms (mean)"] = f"{statistics.mean(total):.0f}"
    row["  of which the descriptor, ms"] = (
        f"{statistics.mean(p.describe_ms[jitters] for p in photos):.0f}"
    )
    row["time ratio to 0 jitters"] = f"{sum(total) / sum(base):.2f}x"
    return row


def _count_refused(matches: Sequence[tuple[str, Match]], rules: MatchingConfig) -> str:
    refused = sum(1 for person, m in matches if not (m.accepted(rules) and m.person_id == person))
    return f"{refused} of {len(matches)}"


def _closest(matches: Sequence[Match], rules: MatchingConfig) -> str:
    closest = min(m.distance for m in matches)
    under = sum(1 for m in matches if m.distance < rules.threshold)
    accepted = sum(1 for m in matches if m.accepted(rules))
    return f"{closest:.3f} ({under} under {rules.threshold}, {accepted} accepted)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--faces", type=Path, default=None, help="the shared faces folder")
    parser.add_argument(
        "--jitters",
        type=parse_jitters,
        default=parse_jitters("0,5,10,20,50"),
        help="comma-separated jitter counts to compare (0 is always included)",
    )
    args = parser.parse_args(argv)
    faces: Path = args.faces or default_faces_dir()
    if not (faces / "people").is_dir():
        parser.error(f"no people/ folder under {faces} (pass --faces or set HADIR_FACES_DIR)")
    jitters: list[int] = args.jitters

    import dlib

    rules = MatchingConfig()
    # Upsample 1 as the tests on real faces use for stills (the john_* crops are 150 px).
    analyzer = FaceAnalyzer(RecognitionConfig(detector=HogDetectorConfig(upsample=1)))
    print(
        f"dlib {dlib.__version__} (BLAS {'yes' if dlib.DLIB_USE_BLAS else 'no'}); "
        f"faces {faces}; jitters {jitters}; rules: threshold {rules.threshold}, "
        f"margin {rules.min_margin}",
        flush=True,
    )
    started = time.perf_counter()
    photos = load_photos(analyzer, faces)
    describe_all(analyzer, photos, jitters)
    impostors = impostor_probes(analyzer, faces)
    clip = clip_probes(analyzer, faces)
    try:
        enrol = read_image(faces / CLIP_ENROLMENT)
        face = analyzer.faces(enrol, describe=False)[0]
    except (ImageError, IndexError) as exc:
        parser.error(f"{faces / CLIP_ENROLMENT}: {exc or 'no face'}")
    clip_template = {j: analyzer.embedder.describe(enrol, face.shape, jitters=j) for j in jitters}

    rows = {j: measure(photos, impostors, clip, clip_template, j, rules) for j in jitters}
    print(
        f"{len(photos)} photos of {len({p.person for p in photos})} people, "
        f"{len(impostors)} impostor faces; {time.perf_counter() - started:.0f} s\n"
    )
    labels = list(rows[jitters[0]])
    width = max(len(label) for label in labels)
    cells = {j: [rows[j][label] for label in labels] for j in jitters}
    col = {j: max(len(f"{j} jitters"), *(len(c) for c in cells[j])) for j in jitters}
    heads = " | ".join(f"{f'{j} jitters':>{col[j]}}" for j in jitters)
    print(f"| {'measure':<{width}} | {heads} |")
    print(f"|{'-' * (width + 2)}|" + "|".join("-" * (col[j] + 1) + ":" for j in jitters) + "|")
    for i, label in enumerate(labels):
        values = " | ".join(f"{cells[j][i]:>{col[j]}}" for j in jitters)
        print(f"| {label:<{width}} | {values} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
