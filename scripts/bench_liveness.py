"""How well the liveness check tells live faces from pictures, and what it costs.

    python scripts/bench_liveness.py [--faces DIR] [--split tune|holdout|both] [--quick]

For every synthetic attack of ``edge.capture.attacks.attack_catalogue`` (per kind), the
real attack stills and live stills of ``liveness/`` (replayed as a still camera would see
them), and stretches of every live clip in ``video/``, the face is followed frame by frame
exactly as the recognition loop does for an undecided track, and the verdict is taken when
the loop would take it: as soon as ``min_frames`` frames have been seen.

Printed per group: how many were refused, i.e. APCER (attacks accepted: lower is better)
and BPCER (live faces refused: must be 0), and the check's cost in ms per frame against the
face detector's own cost on the same frames (a ratio, so the machine's speed cancels out).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.capture.attacks import attack_catalogue, render_attack  # noqa: E402
from edge.recognize.config import RecognitionConfig  # noqa: E402
from edge.recognize.detector import create_detector, to_grey  # noqa: E402
from edge.recognize.image import read_image  # noqa: E402
from edge.recognize.liveness import LivenessVerdict  # noqa: E402
from edge.recognize.liveness.evidence import LivenessChecker  # noqa: E402
from edge.recognize.types import Image  # noqa: E402

LIVE_CLIPS = (
    "talking_head_1.mp4",
    "talking_head_2.mp4",
    "webcam_single_face.mp4",
    "webcam_face_leaves.mov",
    "webcam_face_arrives.mov",
    "expressions_hand_over_face.mp4",
    "short_hamilton_clip.mp4",
    "crowd_walkup.mp4",
)
STRETCH = 40  # frames of a live clip per trial: a person stepping up to the terminal
STILL_FRAMES = 20
STILL_NOISE = 3.0


@dataclass
class Tally:
    trials: int = 0
    refused: int = 0
    frames: int = 0
    check_s: float = 0.0
    detect_s: float = 0.0
    reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces")
    parser.add_argument("--split", choices=("tune", "holdout", "both"), default="both")
    parser.add_argument(
        "--quick", action="store_true", help="a third of the attacks and stretches (a smoke run)"
    )
    args = parser.parse_args(argv)
    faces: Path = args.faces
    if not (faces / "video").is_dir():
        parser.error(f"{faces}: no video/ folder; pass --faces DIR (the shared face data)")
    config = RecognitionConfig()
    detector = create_detector(config.detector)
    checker = LivenessChecker(config.liveness)
    step = 3 if args.quick else 1

    def trial(frames: Iterable[Image], tally: Tally) -> None:
        verdict = _verdict(frames, detector, checker, tally)
        if verdict is None:
            return
        tally.trials += 1
        if not verdict.live:
            tally.refused += 1
            for reason in verdict.reasons:
                tally.reasons[reason] += 1

    splits: tuple[Literal["tune", "holdout"], ...] = (
        ("tune", "holdout") if args.split == "both" else (args.split,)
    )
    print(f"liveness check: threshold {config.liveness.threshold}, verdict after "
          f"{config.liveness.min_frames} frames; faces from {faces}")
    print(f"{'group':34s} {'trials':>6s} {'refused':>7s} {'rate':>6s}  {'ms/frame':>8s} "
          f"{'x detect':>8s}  reasons")
    for split in splits:
        by_kind: dict[str, Tally] = defaultdict(Tally)
        for spec in attack_catalogue(faces, split)[::step]:
            trial(render_attack(spec), by_kind[spec.kind.value])
        total = Tally()
        for kind, tally in sorted(by_kind.items()):
            _row(f"attack {split}: {kind}", tally, "APCER", refused_is_good=True)
            _add(total, tally)
        _row(f"attack {split}: all kinds", total, "APCER", refused_is_good=True)
    stills = Tally()
    for path in sorted((faces / "liveness" / "attacks").iterdir()):
        trial(_still(path), stills)
    _row("attack stills (real, static)", stills, "APCER", refused_is_good=True)
    live_stills = Tally()
    for path in sorted((faces / "liveness" / "live").iterdir()):
        trial(_still(path), live_stills)
    _row("live stills (real, static)", live_stills, "BPCER", refused_is_good=False)
    live_total = Tally()
    for name in LIVE_CLIPS:
        path = faces / "video" / name
        if not path.is_file():
            continue
        tally = Tally()
        for start in range(0, _frame_count(path), STRETCH * step):
            trial(_clip(path, start, STRETCH), tally)
        _row(f"live clip: {name}", tally, "BPCER", refused_is_good=False)
        _add(live_total, tally)
    _row("live clips: all", live_total, "BPCER", refused_is_good=False)
    return 0


def _verdict(
    frames: Iterable[Image], detector: object, checker: LivenessChecker, tally: Tally
) -> LivenessVerdict | None:
    """The verdict the loop would record: the largest face, after min_frames frames."""
    from edge.recognize.detector import FaceDetector

    assert isinstance(detector, FaceDetector)
    evidence = checker.start()
    for index, rgb in enumerate(frames):
        grey = to_grey(rgb)
        started = time.perf_counter()
        found = detector.detect(grey)
        tally.detect_s += time.perf_counter() - started
        if not found:
            continue
        started = time.perf_counter()
        evidence.observe(grey, found[0].box, index / 15.0)
        tally.check_s += time.perf_counter() - started
        tally.frames += 1
        if evidence.ready:
            return evidence.verdict()
    return None


def _row(label: str, tally: Tally, measure: str, *, refused_is_good: bool) -> None:
    if tally.trials == 0:
        print(f"{label:34s} {0:6d}       -")
        return
    accepted = tally.trials - tally.refused
    wrong = accepted if refused_is_good else tally.refused
    rate = wrong / tally.trials
    per_frame = 1000.0 * tally.check_s / max(1, tally.frames)
    ratio = tally.check_s / tally.detect_s if tally.detect_s else 0.0
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(tally.reasons.items(), key=lambda i: -i[1]))
    print(
        f"{label:34s} {tally.trials:6d} {tally.refused:7d} {measure} {rate:5.0%}  "
        f"{per_frame:8.1f} {ratio:8.2f}  {reasons}"
    )


def _add(total: Tally, tally: Tally) -> None:
    total.trials += tally.trials
    total.refused += tally.refused
    total.frames += tally.frames
    total.check_s += tally.check_s
    total.detect_s += tally.detect_s
    for reason, count in tally.reasons.items():
        total.reasons[reason] += count


def _still(path: Path) -> Iterator[Image]:
    """A still photo as a fixed camera would deliver it: the same picture, fresh sensor noise."""
    image = read_image(path).astype(np.float32)
    rng = np.random.default_rng(0)
    for _ in range(STILL_FRAMES):
        noisy = image + rng.normal(0.0, STILL_NOISE, image.shape)
        yield np.clip(noisy, 0, 255).astype(np.uint8)


def _frame_count(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    try:
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()


def _clip(path: Path, start: int, count: int) -> Iterator[Image]:
    capture = cv2.VideoCapture(str(path))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, start)
        for _ in range(count):
            ok, frame = capture.read()
            if not ok:
                return
            height, width = frame.shape[:2]
            if max(height, width) > 1280:  # the terminal's camera: 720p at most
                scale = 1280 / max(height, width)
                frame = cv2.resize(frame, (round(width * scale), round(height * scale)))
            yield np.ascontiguousarray(frame[:, :, ::-1])
    finally:
        capture.release()


if __name__ == "__main__":
    raise SystemExit(main())
