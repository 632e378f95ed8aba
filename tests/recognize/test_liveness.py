"""The liveness check: each cue on controlled input, then the fused verdict on real footage.

The cue tests build scenes whose physics is known (a picture glued to a moving face, a room
that stays put) so that each cue is checked for the reason it exists. The real-footage
tests use ../shared/faces: every attack still refused, every live clip accepted, and the
recognition loop deciding identity and liveness together on the real clip.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge.recognize.analyzer import FaceAnalyzer
from edge.recognize.config import RecognitionConfig
from edge.recognize.detector import create_detector, to_grey
from edge.recognize.image import read_image
from edge.recognize.liveness import LivenessConfig, LivenessMode, LivenessVerdict, cues
from edge.recognize.liveness.evidence import LivenessChecker, TrackEvidence
from edge.recognize.loop import RecognitionLoop, Verdict
from edge.recognize.matcher import Gallery, Matcher
from edge.recognize.types import Box, Image

pytestmark = pytest.mark.faces

LIVE_CLIPS = (
    "talking_head_1.mp4",
    "talking_head_2.mp4",
    "webcam_single_face.mp4",
    "expressions_hand_over_face.mp4",
    "short_hamilton_clip.mp4",
)


@pytest.fixture(scope="module")
def checker() -> LivenessChecker:
    return LivenessChecker(LivenessConfig())


@pytest.fixture(scope="module")
def face_photo(faces_dir: Path) -> Image:
    return read_image(faces_dir / "people/john_salley/000179_02159509.jpg")


# -- cues on controlled scenes -------------------------------------------------------------


def _room(height: int = 360, width: int = 480) -> Image:
    """A still room: a textured wall with door frames and shelves (straight edges)."""
    rng = np.random.default_rng(7)
    noise = (rng.normal(120, 18, (height, width))).clip(0, 255).astype(np.uint8)
    room: Any = cv2.GaussianBlur(noise, (3, 3), 0)
    for x in (40, 70, 400, 430):
        cv2.line(room, (x, 0), (x, height), 30, 3)
    for y in (60, 90, 300):
        cv2.line(room, (0, y), (width, y), 220, 2)
    return np.asarray(room, dtype=np.uint8)


def _paste(room: Image, picture: Any, left: int, top: int, mask: Any = None) -> Image:
    frame = room.copy()
    h, w = picture.shape[:2]
    region = frame[top : top + h, left : left + w].astype(np.float32)
    alpha = np.ones((h, w), np.float32) if mask is None else mask
    frame[top : top + h, left : left + w] = (alpha * picture + (1 - alpha) * region).astype(
        np.uint8
    )
    return frame


@dataclass
class Scene:
    frames: list[Image]
    boxes: list[Box]


def _scene(face_photo: Image, *, held: bool) -> Scene:
    """A face moving right by 4 px per frame in front of a still room. ``held``: the face is
    a printed photo (white paper with straight edges moves with it); otherwise the face
    alone moves (an oval, no border), and the room's straight edges stay put."""
    face: Any = cv2.resize(to_grey(face_photo), (120, 120), interpolation=cv2.INTER_AREA)
    mask: Any = None
    if held:
        picture: Any = np.full((170, 150), 235, dtype=np.uint8)  # white paper around the photo
        picture[25:145, 15:135] = face
    else:
        picture = face
        oval = np.zeros((120, 120), np.float32)
        cv2.ellipse(oval, (60, 62), (44, 56), 0, 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(oval, (9, 9), 0)
    room = _room()
    detector = create_detector(RecognitionConfig().detector)
    frames, boxes = [], []
    for step in range(6):
        frame = _paste(room, picture, 150 + 4 * step, 90 + step, mask)
        found = detector.detect(frame)
        assert found, "the scene must show a face the detector finds"
        frames.append(frame)
        boxes.append(found[0].box)
    return Scene(frames, boxes)


def _landmarks(checker: LivenessChecker, grey: Image, box: Box) -> cues.Points:
    from edge.recognize.liveness.evidence import _landmarks as landmarks

    return landmarks(checker._predictor, grey, box)


def test_frame_edges_tell_a_held_picture_from_a_face_before_a_room(
    checker: LivenessChecker, face_photo: Image
) -> None:
    readings = {}
    for glued in (True, False):
        scene = _scene(face_photo, held=glued)
        first, last = scene.frames[0], scene.frames[4]
        before = cues.Window.around(first, scene.boxes[0])
        after = before.same_place(last)
        points = [
            _landmarks(checker, frame, box)
            for frame, box in ((first, scene.boxes[0]), (last, scene.boxes[4]))
        ]
        readings[glued] = cues.frame_edges(
            cues.MotionPair(before, after, points[0], points[1], float(scene.boxes[0].width))
        )
    assert readings[True].weight > 0
    assert readings[True].attack >= 0.5
    assert readings[False].weight > 0
    assert readings[False].attack < 0.5


def test_flatness_sees_a_plane_and_a_head() -> None:
    rng = np.random.default_rng(3)
    face = rng.uniform(0, 100, (68, 2)).astype(np.float32) + 200
    # A picture tilting: every point moves by one homography.
    tilt = np.array([[1.0, 0.05, -5.0], [0.02, 0.95, 3.0], [2e-3, 1e-3, 1.0]])
    pictured = cv2.perspectiveTransform(face[None].astype(np.float64), tilt)[0].astype(np.float32)
    plane = cues.flatness(face, pictured, 100.0)
    # A head turning: the nose (27-35) swings against the eyes and brows.
    turned = pictured.copy()
    turned[27:36, 0] += 6.0
    head = cues.flatness(face, turned, 100.0)
    assert plane.weight > 0
    assert plane.attack > 0.8
    assert head.weight > 0
    assert head.attack < 0.3


def test_a_still_picture_shows_no_motion_and_sensor_noise_does_not_move_it(
    checker: LivenessChecker, faces_dir: Path
) -> None:
    verdict = _verdict(checker, _still(faces_dir / "liveness/attacks/vietmoney_fake_3.jpg"))
    assert verdict is not None
    assert not verdict.live
    assert "no_motion" in verdict.reasons


def test_a_blink_counts_as_life(checker: LivenessChecker) -> None:
    evidence = TrackEvidence(LivenessConfig(), checker._predictor)
    evidence._eyes = [0.3, 0.31, 0.29, 0.08, 0.12, 0.3, 0.3]
    evidence._mouth = [0.02] * 7
    assert evidence._life() == 1.0
    evidence._eyes = [0.3, 0.31, 0.29, 0.3, 0.3, 0.3, 0.3]
    assert evidence._life() == 0.0


# -- the fused verdict on real footage ------------------------------------------------------


def _still(path: Path, frames: int = 20) -> Iterator[Image]:
    image = read_image(path).astype(np.float32)
    rng = np.random.default_rng(0)
    for _ in range(frames):
        yield np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)


def _clip(path: Path, start: int, count: int) -> Iterator[Image]:
    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    try:
        for _ in range(count):
            ok, frame = capture.read()
            if not ok:
                return
            yield np.ascontiguousarray(frame[:, :, ::-1])
    finally:
        capture.release()


def _verdict(checker: LivenessChecker, frames: Iterator[Image]) -> LivenessVerdict | None:
    """The verdict the loop would record: the largest face, once min_frames are in."""
    detector = create_detector(RecognitionConfig().detector)
    evidence = checker.start()
    for index, rgb in enumerate(frames):
        grey = to_grey(rgb)
        found = detector.detect(grey)
        if found:
            evidence.observe(grey, found[0].box, index / 15.0)
            if evidence.ready:
                return evidence.verdict()
    return None


@pytest.mark.parametrize(
    "still",
    [
        "hyperfas_tablet.png",
        "silentface_print.jpg",
        "silentface_screen.jpg",
        "vietmoney_fake_1.jpg",
        "vietmoney_fake_2.jpg",
        "vietmoney_fake_3.jpg",
    ],
)
def test_every_real_attack_still_is_refused(
    checker: LivenessChecker, faces_dir: Path, still: str
) -> None:
    verdict = _verdict(checker, _still(faces_dir / "liveness/attacks" / still))
    assert verdict is not None
    assert not verdict.live, verdict
    assert verdict.score < LivenessConfig().threshold


@pytest.mark.parametrize("clip", LIVE_CLIPS)
def test_every_live_clip_is_accepted(checker: LivenessChecker, faces_dir: Path, clip: str) -> None:
    path = faces_dir / "video" / clip
    total = int(cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FRAME_COUNT))
    # Where the face is: the real clip shows him from frame 82.
    starts = [82, 150] if clip == "short_hamilton_clip.mp4" else [0, total // 2]
    verdicts = [_verdict(checker, _clip(path, start, 40)) for start in starts]
    assert all(v is not None for v in verdicts)
    assert all(v.live for v in verdicts if v is not None), verdicts


def test_the_loop_decides_identity_and_liveness_together(
    faces_dir: Path, analyzer: FaceAnalyzer
) -> None:
    template = analyzer.enrolment_descriptor(
        read_image(faces_dir / "people/lin_manuel_miranda/lmm1.png")
    )
    matcher = Matcher(Gallery.from_mapping({"lin_manuel_miranda": template[None]}))
    decisions = {}
    for mode in (LivenessMode.OFF, LivenessMode.REFUSE):
        config = RecognitionConfig.model_validate({"liveness": {"mode": mode.value}})
        loop = RecognitionLoop(config, matcher)
        capture = cv2.VideoCapture(str(faces_dir / "video/short_hamilton_clip.mp4"))
        found = []
        index = 0
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            found += loop.process(_Frame(np.ascontiguousarray(bgr[:, :, ::-1]), index))
            index += 1
        capture.release()
        decisions[mode] = [d for d in found if d.verdict is Verdict.ACCEPTED]
    off, refuse = decisions[LivenessMode.OFF], decisions[LivenessMode.REFUSE]
    assert [d.person_id for d in off] == ["lin_manuel_miranda"]
    assert off[0].liveness is None
    assert [d.person_id for d in refuse] == ["lin_manuel_miranda"]
    checked = refuse[0].liveness
    assert checked is not None
    assert checked.live
    assert checked.frames >= LivenessConfig().min_frames
    # Waiting for the evidence costs at most the configured wait.
    assert refuse[0].frame_index - off[0].frame_index <= 30


@dataclass(frozen=True)
class _Frame:
    image: Image
    index: int

    @property
    def monotonic(self) -> float:
        return self.index / 29.97


def test_a_frame_after_a_long_gap_starts_new_tracks(faces_dir: Path) -> None:
    """After a stall longer than max_missed_s the old tracks are forgotten before the frame
    is matched: a track found in that frame and then expired would be decided, or split,
    after it was deleted."""
    config = RecognitionConfig.model_validate({"liveness": {"mode": "off"}})
    loop = RecognitionLoop(config, Matcher())
    capture = cv2.VideoCapture(str(faces_dir / "video/short_hamilton_clip.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 90)
    frames: list[Image] = []
    for _ in range(4):
        ok, bgr = capture.read()
        assert ok
        frames.append(np.ascontiguousarray(bgr[:, :, ::-1], dtype=np.uint8))
    capture.release()
    for index in range(3):
        loop.process(_Frame(frames[index], index))
    before = {track.id for track in loop.tracks}
    assert before
    stalled = _Frame(frames[3], 3 + round(10 * 29.97))  # ten seconds later
    loop.process(stalled)
    after = {track.id for track in loop.tracks}
    assert after
    assert not after & before


def test_a_recognised_face_that_leaves_before_the_verdict_is_still_decided(
    faces_dir: Path, analyzer: FaceAnalyzer
) -> None:
    """Somebody who walks past quickly is recognised but leaves before the check has seen
    min_frames: the loop decides when the track is lost, on the evidence it gave."""
    template = analyzer.enrolment_descriptor(
        read_image(faces_dir / "people/lin_manuel_miranda/lmm1.png")
    )
    matcher = Matcher(Gallery.from_mapping({"lin_manuel_miranda": template[None]}))
    config = RecognitionConfig.model_validate(
        {"liveness": {"mode": "refuse", "min_frames": 100, "max_wait_s": 10}}
    )
    loop = RecognitionLoop(config, matcher)
    capture = cv2.VideoCapture(str(faces_dir / "video/short_hamilton_clip.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 82)
    decisions = []
    index = 82
    for _ in range(40):  # he is recognised in about ten frames, and is then still pending
        ok, bgr = capture.read()
        assert ok
        decisions += loop.process(_Frame(np.ascontiguousarray(bgr[:, :, ::-1]), index))
        index += 1
    capture.release()
    assert decisions == []
    assert any(track.pending is not None for track in loop.tracks)
    empty = np.zeros((360, 640, 3), dtype=np.uint8)
    for _ in range(60):  # he has gone: two seconds of an empty corridor
        decisions += loop.process(_Frame(empty, index))
        index += 1
    assert [d.person_id for d in decisions] == ["lin_manuel_miranda"]
    assert decisions[0].liveness is not None
    assert decisions[0].liveness.frames < 100


@pytest.mark.parametrize("width", range(290, 380, 7))
def test_the_same_place_of_the_same_frame_is_the_same_picture(width: int) -> None:
    """Cutting another frame must take exactly the first crop's pixels: a crop one pixel
    wider, resampled to the same size, read as a few thousandths of a face width of motion,
    as much as a held-still photo travels (a 348-px box read 0.005 against a still_travel of
    0.004, and the photo passed as live)."""
    rng = np.random.default_rng(width)
    grey = rng.integers(0, 256, (720, 1280), dtype=np.uint8)
    box = Box(200 + width % 5, 150, 200 + width % 5 + width, 150 + width)
    window = cues.Window.around(grey, box)
    again = window.same_place(grey)
    assert again.image.shape == window.image.shape
    assert np.array_equal(again.image, window.image)
