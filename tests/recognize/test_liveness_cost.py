"""The liveness check's cheaper computations read what the straightforward ones did.

Issue 13 made ``TrackEvidence.observe`` cheap enough for a crowd: the straight edges of
``frame_edges`` are tracked in one optical-flow call, and the work that depends only on the
frame (its thumbnail, the camera's shift between two frames) is done once per frame for all
tracks. These tests hold the cheaper code to the plain computation on real frames; what it
saves is measured by scripts/bench_liveness_cost.py, not here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge.capture.attacks import AttackKind, attack_catalogue, render_attack
from edge.recognize.config import RecognitionConfig
from edge.recognize.detector import create_detector, to_grey
from edge.recognize.image import read_image
from edge.recognize.liveness import LivenessConfig, cues
from edge.recognize.liveness.evidence import LivenessChecker, _landmarks
from edge.recognize.types import Box, Image

pytestmark = pytest.mark.faces


@pytest.fixture(scope="module")
def checker() -> LivenessChecker:
    return LivenessChecker(LivenessConfig())


def _frames(rgbs: Iterator[Any], count: int) -> list[tuple[Image, Box]]:
    """The first ``count`` frames with a face, grey, with the largest face's box."""
    detector = create_detector(RecognitionConfig().detector)
    found: list[tuple[Image, Box]] = []
    for rgb in rgbs:
        grey = to_grey(np.ascontiguousarray(rgb))
        faces = detector.detect(grey)
        if faces:
            found.append((grey, faces[0].box))
        if len(found) == count:
            break
    return found


def _clip(path: Path, start: int) -> Iterator[Any]:
    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                return
            yield bgr[:, :, ::-1]
    finally:
        capture.release()


def _pairs(checker: LivenessChecker, frames: list[tuple[Image, Box]]) -> list[cues.MotionPair]:
    """Each frame with the one four frames later, as observe pairs them."""
    pairs = []
    for (first, box), (last, later) in zip(frames, frames[4:], strict=False):
        before = cues.Window.around(first, box)
        pairs.append(
            cues.MotionPair(
                before,
                before.same_place(last),
                _landmarks(checker._predictor, first, box),
                _landmarks(checker._predictor, last, later),
                float(box.width),
            )
        )
    return pairs


def _whole_window_segments(pair: cues.MotionPair) -> Any:
    found = cv2.createLineSegmentDetector().detect(pair.before.image)[0]
    return np.zeros((0, 4), np.float32) if found is None else found.reshape(-1, 4)


def _one_edge_at_a_time(pair: cues.MotionPair, motion: Any, segments: Any) -> cues.EdgeReadings:
    """The straightforward frame_edges readings: each segment tracked by its own
    Lucas-Kanade call, in a Python loop (the code before issue 13)."""
    before = pair.before
    centre = before.to_window(pair.face_before[cues.RIGID].mean(axis=0, keepdims=True))[0]
    unit = pair.face_width * before.scale
    readings: list[tuple[float, float, float]] = []
    for x0, y0, x1, y1 in segments.astype(np.float32):
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
        expect_still = float(pair.still_shift() @ normal)
        readings.append(
            (abs(seen - expect_glued), abs(seen - expect_still), abs(expect_glued - expect_still))
        )
    table = np.asarray(readings, dtype=np.float64).reshape(-1, 3)
    return table[:, 0], table[:, 1], table[:, 2]


@pytest.mark.parametrize("source", ["live clip", "held tablet"])
def test_edges_tracked_in_one_call_read_as_one_call_per_edge(
    checker: LivenessChecker, faces_dir: Path, source: str
) -> None:
    if source == "live clip":
        rgbs = _clip(faces_dir / "video/short_hamilton_clip.mp4", 90)
    else:
        spec = next(s for s in attack_catalogue(faces_dir, "tune") if s.kind is AttackKind.TABLET)
        rgbs = render_attack(spec)
    pairs = _pairs(checker, _frames(rgbs, 12))
    assert len(pairs) == 8
    edges = 0
    for pair in pairs:
        motion = pair.glued_motion()
        assert motion is not None
        segments = _whole_window_segments(pair)
        expected = _one_edge_at_a_time(pair, motion, segments)
        got = cues.edge_readings(pair, motion, segments)
        for column, want in zip(got, expected, strict=True):
            np.testing.assert_array_equal(column, want)
        edges += len(expected[0])
        assert cues.frame_edges(pair) == cues.frame_edges(pair, motion)
    # Enough edges to compare: the readings are not empty on both sides.
    assert edges >= 8


# -- per-frame work shared by the tracks of a frame -----------------------------------------


def _two_faces_moving(faces_dir: Path, count: int = 8) -> list[tuple[Image, list[Box]]]:
    """Two people in one scene, the camera panning a few pixels a frame: both faces move,
    so every frame from the fifth on makes a motion pair for each track."""
    grey = to_grey(read_image(faces_dir / "scenes/two_people.jpg"))
    detector = create_detector(RecognitionConfig().detector)
    frames = []
    for step in range(count):
        shift = np.array([[1, 0, 3 * step], [0, 1, step]], dtype=np.float32)
        size = (grey.shape[1], grey.shape[0])
        moved = np.asarray(cv2.warpAffine(grey, shift, size), dtype=np.uint8)
        found = [d.box for d in detector.detect(moved)]
        assert len(found) == 2, "the scene must show both faces"
        frames.append((moved, sorted(found, key=lambda b: b.left)))
    return frames


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(cues, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(cues, name, counted)
    return calls


def test_the_tracks_of_one_frame_share_its_thumbnail_and_camera_shift(
    checker: LivenessChecker, faces_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = _two_faces_moving(faces_dir)
    thumbnails = _counting(monkeypatch, "thumbnail")
    shifts = _counting(monkeypatch, "frame_shift")
    surrounds = _counting(monkeypatch, "attached_surround")
    tracks = [checker.start(), checker.start()]
    for index, (grey, boxes) in enumerate(frames):
        for evidence, box in zip(tracks, boxes, strict=True):
            evidence.observe(grey, box, index / 15.0)
    assert len(thumbnails) == len(frames)
    # Both tracks made a motion pair in every frame from the fifth on, with one camera
    # shift between the two frames for both.
    assert len(surrounds) == 2 * (len(frames) - 4)
    assert len(shifts) == len(frames) - 4


def test_a_track_reads_the_same_with_others_in_its_frames(faces_dir: Path) -> None:
    """Sharing the frame's work changes no track's evidence: each track of a two-face
    scene gets the verdict it gets when it is the only one observed."""
    frames = _two_faces_moving(faces_dir, count=14)
    shared = LivenessChecker(LivenessConfig())
    together = [shared.start(), shared.start()]
    for index, (grey, boxes) in enumerate(frames):
        for evidence, box in zip(together, boxes, strict=True):
            evidence.observe(grey, box, index / 15.0)
    for face, evidence in enumerate(together):
        alone = LivenessChecker(LivenessConfig(), predictor=shared._predictor).start()
        for index, (grey, boxes) in enumerate(frames):
            alone.observe(grey, boxes[face], index / 15.0)
        assert alone.verdict() == evidence.verdict()
        assert (alone._surround, alone._edges, alone._flat) == (
            evidence._surround,
            evidence._edges,
            evidence._flat,
        )


def test_a_frame_is_the_same_object_for_its_tracks_and_a_new_one_for_the_next(
    checker: LivenessChecker, faces_dir: Path
) -> None:
    frames = _two_faces_moving(faces_dir, count=6)
    (grey, _), (later, _) = frames[:2]
    frame = checker.frame(grey, 1.0)
    assert checker.frame(grey, 1.0) is frame
    assert checker.frame(grey.copy(), 1.0) is not frame
    assert checker.frame(later, 1.1) is not frame
    # Handing observe_frame the frame is what observe does with the checker's.
    given, found = checker.start(), checker.start()
    for index, (image, boxes) in enumerate(frames):
        given.observe_frame(checker.frame(image, index / 15.0), boxes[0])
        found.observe(image, boxes[0], index / 15.0)
    assert given.frames == found.frames == len(frames)
    assert given.verdict() == found.verdict()
    assert (given._eyes, given._surround, given._edges) == (
        found._eyes,
        found._surround,
        found._edges,
    )


def test_corners_found_around_the_ring_are_those_of_the_whole_window(
    checker: LivenessChecker, faces_dir: Path
) -> None:
    rgbs = _clip(faces_dir / "video/short_hamilton_clip.mp4", 90)
    corners = 0
    for pair in _pairs(checker, _frames(rgbs, 12)):
        ring = cues._ring_mask(pair.before, pair.face_before, pair.face_width)
        whole: Any = cv2.goodFeaturesToTrack(
            pair.before.image, maxCorners=60, qualityLevel=0.02, minDistance=4, mask=ring
        )
        assert whole is not None
        np.testing.assert_array_equal(
            cues.masked_corners(pair.before.image, ring), whole.reshape(-1, 2)
        )
        corners += len(whole)
    assert corners >= 48


def test_the_widest_view_is_the_first_look_with_the_greatest_weight() -> None:
    """The flatness reading stops at the first look of full weight; it is the reading a
    search of the whole history picks (the first of the greatest weight)."""
    from edge.recognize.liveness.evidence import _widest_view

    rng = np.random.default_rng(5)
    face = rng.uniform(0, 100, (68, 2)).astype(np.float32) + 200
    saturated = partial = 0
    for _ in range(40):
        # Looks that turn by different amounts: landmark noise plus a nose swinging against
        # the eyes, from nothing to several times what saturates the cue's weight.
        history = []
        largest = rng.uniform(2, 14)
        for _ in range(12):
            look = face + rng.normal(0, 0.8, face.shape).astype(np.float32)
            look[27:36, 0] += rng.uniform(0, largest)
            history.append(look)
        readings = [cues.flatness(points, face, 100.0) for points in history]
        widest = max(readings, key=lambda c: c.weight)
        assert _widest_view(history, face, 100.0) == widest
        saturated += widest.weight >= 1.0
        partial += 0 < widest.weight < 1.0
    assert saturated > 0
    assert partial > 0


def test_flatness_compares_with_three_earlier_looks(
    checker: LivenessChecker, faces_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The two oldest looks of the history and the motion pair's (four frames back), not
    every look: the widest change of view is nearly always among them."""
    frames = _two_faces_moving(faces_dir, count=16)
    compared: list[tuple[int, int]] = []
    real = cues.flatness

    def flatness(first: cues.Points, last: cues.Points, face_width: float) -> cues.Cue:
        compared.append((id(first), id(last)))
        return real(first, last, face_width)

    monkeypatch.setattr(cues, "flatness", flatness)
    evidence = checker.start()
    seen: list[int] = []
    for index, (grey, boxes) in enumerate(frames):
        compared.clear()
        earlier = [id(look.points) for look in evidence._history]
        evidence.observe(grey, boxes[0], index / 15.0)
        seen.append(len(compared))
        if len(earlier) >= 4:
            assert {first for first, _ in compared} <= {earlier[0], earlier[1], earlier[-4]}
    assert max(seen) <= 3
    assert seen[-1] >= 1
