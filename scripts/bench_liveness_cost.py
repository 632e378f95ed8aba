"""What the liveness check costs per ``TrackEvidence.observe``, against the version before
issue 13's work on it, in one process.

    python scripts/bench_liveness_cost.py [--faces DIR] [--frames N] [--rounds N] [--profile]

Real clips, the way the loop feeds the check: every face of every frame is an undecided
track (boxes from the HOG detector, followed from frame to frame by overlap), and each
track's ``observe`` is called once per frame with the whole grey frame. Two clips:
``video/crowd_walkup.mp4`` (1080p, several faces per frame: the per-frame work is shared
by the tracks of a frame) and ``video/short_hamilton_clip.mp4`` (640x360, one face).

Printed per clip: CPU ms per observe (``time.process_time``, the best of ``--rounds``
alternating runs, so a busy machine slows both sides alike) for the baseline (the
pre-change ``observe`` and cues, kept below) and the current code, their ratio, and
whether both gave every track the same verdict (live or not, the same reasons) and by how
much the scores moved.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.recognize.config import HogDetectorConfig  # noqa: E402
from edge.recognize.detector import create_detector, to_grey  # noqa: E402
from edge.recognize.liveness import LivenessConfig, LivenessVerdict, cues  # noqa: E402
from edge.recognize.liveness.cues import Cue, MotionPair, Window  # noqa: E402
from edge.recognize.liveness.evidence import (  # noqa: E402
    HISTORY,
    MIN_PAIR_SHIFT,
    PAIR_GAP,
    LivenessChecker,
    TrackEvidence,
    _landmarks,
)
from edge.recognize.types import Box, Image  # noqa: E402

CLIPS = {
    # (first frame, the loop's frame rate): the crowd's people walk up from the first frame,
    # Lin-Manuel Miranda is in view from frame 82 (../shared/faces/README.md).
    "video/crowd_walkup.mp4": (0, 25.0),
    "video/short_hamilton_clip.mp4": (82, 29.97),
}


@dataclass
class Clip:
    name: str
    greys: list[Image]
    # Per frame, (track number, box) of every face in it.
    faces: list[list[tuple[int, Box]]]
    rate: float

    @property
    def observes(self) -> int:
        return sum(len(f) for f in self.faces)


def load_clip(path: Path, start: int, count: int, rate: float) -> Clip:
    """``count`` frames from ``start``, with every face the detector finds (upsample 1, so
    the crowd's far faces are found too), each given the track of the previous frame's box
    it overlaps most."""
    detector = create_detector(HogDetectorConfig(upsample=1, max_side=1920, min_score=-0.5))
    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    greys: list[Image] = []
    faces: list[list[tuple[int, Box]]] = []
    previous: list[tuple[int, Box]] = []
    next_track = 0
    try:
        for _ in range(count):
            ok, bgr = capture.read()
            if not ok:
                break
            grey = to_grey(np.ascontiguousarray(bgr[:, :, ::-1]))
            current: list[tuple[int, Box]] = []
            for detection in detector.detect(grey):
                box = detection.box
                best = max(previous, key=lambda p: _overlap(p[1], box), default=None)
                if best is not None and _overlap(best[1], box) > 0.3:
                    current.append((best[0], box))
                    previous.remove(best)
                else:
                    current.append((next_track, box))
                    next_track += 1
            greys.append(grey)
            faces.append(current)
            previous = list(current)
    finally:
        capture.release()
    return Clip(path.name, greys, faces, rate)


def _overlap(a: Box, b: Box) -> float:
    width = min(a.right, b.right) - max(a.left, b.left)
    height = min(a.bottom, b.bottom) - max(a.top, b.top)
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / float(a.area + b.area - inter)


def replay(clip: Clip, start: Any) -> tuple[float, dict[int, LivenessVerdict]]:
    """Feed the clip to fresh evidence (``start()`` makes one per track): CPU seconds spent
    in observe, and each track's verdict at the end."""
    evidence: dict[int, Any] = {}
    spent = 0.0
    for index, (grey, faces) in enumerate(zip(clip.greys, clip.faces, strict=True)):
        monotonic = index / clip.rate
        for track, box in faces:
            if track not in evidence:
                evidence[track] = start()
            began = time.process_time()
            evidence[track].observe(grey, box, monotonic)
            spent += time.process_time() - began
    return spent, {track: e.verdict() for track, e in evidence.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces")
    parser.add_argument("--frames", type=int, default=40, help="frames of each clip")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each side")
    parser.add_argument(
        "--profile", action="store_true", help="print cProfile's top entries of the current code"
    )
    args = parser.parse_args(argv)
    if not (args.faces / "video").is_dir():
        parser.error(f"{args.faces}: no video/ folder; pass --faces DIR (the shared face data)")
    config = LivenessConfig()
    checker = LivenessChecker(config)
    predictor = checker._predictor
    print(f"liveness cost per observe (CPU ms), baseline = before issue 13; {args.rounds} rounds")
    print(f"{'clip':28s} {'frames':>6s} {'observes':>8s} {'baseline':>9s} {'current':>8s} "
          f"{'ratio':>6s}  verdicts")
    for name, (first, rate) in CLIPS.items():
        path = args.faces / name
        if not path.is_file():
            print(f"{name}: missing, skipped")
            continue
        clip = load_clip(path, first, args.frames, rate)
        best = {"baseline": float("inf"), "current": float("inf")}
        verdicts: dict[str, dict[int, LivenessVerdict]] = {}
        for _ in range(args.rounds):
            for side, start in (
                ("baseline", lambda: BaselineEvidence(config, predictor)),
                ("current", checker.start),
            ):
                spent, verdicts[side] = replay(clip, start)
                best[side] = min(best[side], spent)
        calls = max(1, clip.observes)
        before, after = 1000 * best["baseline"] / calls, 1000 * best["current"] / calls
        print(f"{clip.name:28s} {len(clip.greys):6d} {clip.observes:8d} {before:9.1f} "
              f"{after:8.1f} {before / max(after, 1e-9):5.2f}x  "
              f"{_compare(verdicts['baseline'], verdicts['current'])}")
        if args.profile:
            profile = cProfile.Profile()
            profile.runcall(replay, clip, checker.start)
            pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    return 0


def _compare(baseline: dict[int, LivenessVerdict], current: dict[int, LivenessVerdict]) -> str:
    """Whether every track got the same verdict: live or not, the same reasons, and by how
    much the scores moved."""
    flipped = [
        track
        for track, verdict in baseline.items()
        if (verdict.live, verdict.reasons) != (current[track].live, current[track].reasons)
    ]
    if flipped:
        return f"DIFFERENT verdicts for tracks {flipped}"
    moved = [abs(verdict.score - current[track].score) for track, verdict in baseline.items()]
    changed = sum(m > 0 for m in moved)
    if not changed:
        return f"same ({len(baseline)} tracks)"
    return f"same ({len(baseline)} tracks; {changed} scores moved, by {max(moved):.3f} at most)"


# -- the baseline: observe and frame_edges as they were before issue 13 ---------------------


@dataclass(slots=True)
class _OldLook:
    monotonic: float
    box: Box
    points: cues.Points
    window: Window
    thumb: Image


@dataclass(slots=True)
class BaselineEvidence(TrackEvidence):
    """:class:`TrackEvidence` with the pre-change ``observe``: everything per track (the
    thumbnail, the camera's shift), the travel measured on every frame, every look of the
    history compared for flatness, corners searched in the whole window, one optical-flow
    call per straight edge."""

    _old: deque[_OldLook] = field(default_factory=lambda: deque(maxlen=HISTORY))
    _old_first: _OldLook | None = None

    def observe(self, grey: Image, box: Box, monotonic: float) -> None:
        points = _landmarks(self.predictor, grey, box)
        width = float(max(1, box.width))
        window = Window.around(grey, box)
        thumb = cues.thumbnail(grey)
        look = _OldLook(monotonic, box, points, window, thumb)
        if self._old_first is None:
            self._old_first = look
        else:
            first = self._old_first
            moved = cues.face_shift(first.window, first.window.same_place(grey), first.points)
            self._travel = max(self._travel, moved)
        if len(self._old) >= PAIR_GAP:
            earlier = self._old[-PAIR_GAP]
            after = earlier.window.same_place(grey)
            if cues.face_shift(earlier.window, after, earlier.points) >= MIN_PAIR_SHIFT:
                shift = cues.frame_shift(earlier.thumb, thumb)
                scale = grey.shape[1] / thumb.shape[1]
                pair = MotionPair(
                    earlier.window,
                    after,
                    earlier.points,
                    points,
                    width,
                    (shift[0] * scale, shift[1] * scale),
                )
                self._surround.add(baseline_attached_surround(pair))
                self._edges.add(baseline_frame_edges(pair))
            self._flat.add(
                max(
                    (baseline_flatness(old.points, points, width) for old in self._old),
                    key=lambda cue: cue.weight,
                )
            )
        self._eyes.append(cues.eye_openness(points))
        self._mouth.append(cues.mouth_openness(points, width))
        self._old.append(look)
        self.frames += 1


def baseline_flatness(first: cues.Points, last: cues.Points, face_width: float) -> Cue:
    """``cues.flatness`` before issue 13: the homography fitted for every pair of looks."""
    src = first[cues.RIGID].astype(np.float64)
    dst = last[cues.RIGID].astype(np.float64)
    similarity: Any = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)[0]
    homography: Any = cv2.findHomography(src, dst, 0)[0]
    if similarity is None or homography is None:
        return Cue.blind()
    sim_res = cues._rms(cv2.transform(src[None], similarity)[0] - dst) / face_width
    hom_res = cues._rms(cv2.perspectiveTransform(src[None], homography)[0] - dst) / face_width
    change = sim_res - 0.025
    if change <= 0:
        return Cue.blind()
    planar = 1.0 - min(1.0, hom_res / max(1e-6, 0.45 * sim_res))
    return Cue(float(np.clip(planar, 0.0, 1.0)), float(min(1.0, change / 0.03)))


def baseline_attached_surround(pair: MotionPair) -> Cue:
    """``cues.attached_surround`` before issue 13: corners searched in the whole window."""
    motion = pair.glued_motion()
    if motion is None:
        return Cue.blind()
    before = pair.before
    ring = cues._ring_mask(before, pair.face_before, pair.face_width)
    corners = cv2.goodFeaturesToTrack(
        before.image, maxCorners=60, qualityLevel=0.02, minDistance=4, mask=ring
    )
    if corners is None or len(corners) < 6:
        return Cue.blind()
    start = corners.reshape(-1, 2).astype(np.float32)
    glued = cv2.perspectiveTransform(start[None], motion)[0]
    still = start + pair.still_shift()
    tracked, ok = cues._track(before.image, pair.after.image, start)
    if ok.sum() < 6:
        return Cue.blind()
    found = tracked[ok]
    glued_votes, still_votes = cues._votes(
        np.linalg.norm(found - glued[ok], axis=1),
        np.linalg.norm(found - still[ok], axis=1),
        np.linalg.norm(glued[ok] - still[ok], axis=1),
    )
    if glued_votes + still_votes == 0:
        return Cue.blind()
    share = (glued_votes + 0.5) / (glued_votes + still_votes + 1.0)
    return Cue(share, float(glued_votes + still_votes))


def baseline_frame_edges(pair: MotionPair) -> Cue:
    """``cues.frame_edges`` before issue 13: line segments of the whole window, one
    Lucas-Kanade call per segment."""
    motion = pair.glued_motion()
    if motion is None:
        return Cue.blind()
    before = pair.before
    found: Any = _BASELINE_LSD.detect(before.image)[0]
    if found is None:
        return Cue.blind()
    segments = found.reshape(-1, 4).astype(np.float32)
    centre = before.to_window(pair.face_before[cues.RIGID].mean(axis=0, keepdims=True))[0]
    unit = pair.face_width * before.scale
    still_shift = pair.still_shift()
    to_glued: list[float] = []
    to_still: list[float] = []
    apart: list[float] = []
    for x0, y0, x1, y1 in segments:
        length = float(np.hypot(x1 - x0, y1 - y0))
        mid_x, mid_y = (x0 + x1) / 2 - centre[0], (y0 + y1) / 2 - centre[1]
        beside = 0.55 * unit <= abs(mid_x) <= 1.4 * unit and -1.2 * unit <= mid_y <= 0.9 * unit
        above = -1.5 * unit <= mid_y <= -0.7 * unit and abs(mid_x) <= 1.2 * unit
        if length < 0.5 * unit or not (beside or above):
            continue
        normal = np.asarray([-(y1 - y0), x1 - x0], dtype=np.float32) / length
        ts = np.linspace(0.15, 0.85, 5, dtype=np.float32)[:, None]
        direction = np.asarray([x1 - x0, y1 - y0], dtype=np.float32)
        points = (np.asarray([x0, y0], dtype=np.float32) + ts * direction).astype(np.float32)
        glued = cv2.perspectiveTransform(points[None], motion)[0] - points
        tracked, ok = cues._track(before.image, pair.after.image, points)
        if ok.sum() < 3:
            continue
        seen = float(np.median((tracked[ok] - points[ok]) @ normal))
        expect_glued = float(np.median(glued[ok] @ normal))
        expect_still = float(still_shift @ normal)
        to_glued.append(abs(seen - expect_glued))
        to_still.append(abs(seen - expect_still))
        apart.append(abs(expect_glued - expect_still))
    glued_votes, still_votes = cues._votes(
        np.asarray(to_glued), np.asarray(to_still), np.asarray(apart)
    )
    if glued_votes + still_votes == 0:
        return Cue.blind()
    return Cue(min(1.0, glued_votes / 2.0), 1.0)


_BASELINE_LSD = cv2.createLineSegmentDetector()


if __name__ == "__main__":
    raise SystemExit(main())
