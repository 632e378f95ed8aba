"""Gliding (edge/recognize/glide.py): a decided face is followed by matching its own picture
between detector searches, on real clips, and what the loop does with it; and how the loop
treats faces it has lost (searched less often, found again by a scan, walked out)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.recognize.analyzer import FaceAnalyzer
from edge.recognize.config import HogDetectorConfig, RecognitionConfig
from edge.recognize.detector import HogDetector
from edge.recognize.glide import FacePatch
from edge.recognize.image import read_image
from edge.recognize.liveness.evidence import LivenessChecker
from edge.recognize.loop import YIELD_S, Decision, RecognitionLoop, Verdict
from edge.recognize.matcher import Gallery, Matcher
from edge.recognize.types import Box, Detection, Image
from tests.recognize.test_crowd import (
    FPS,
    ScriptedDetector,
    ScriptedEmbedder,
    World,
    _box,
    _descriptors,
    _SlowLiveness,
)
from tests.recognize.test_liveness import _Frame


def _greys(path: Path, start: int, count: int) -> list[Image]:
    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    frames = []
    for _ in range(count):
        ok, bgr = capture.read()
        assert ok, f"{path.name} has fewer than {start + count} frames"
        frames.append(np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), np.uint8))
    capture.release()
    return frames


@pytest.fixture(scope="module")
def hog() -> HogDetector:
    return HogDetector(HogDetectorConfig(max_side=1920))


@pytest.mark.parametrize(
    ("clip", "start"),
    [("short_hamilton_clip.mp4", 100), ("crowd_walkup.mp4", 30), ("talking_head_1.mp4", 40)],
)
def test_a_face_glides_to_where_the_detector_finds_it_frames_later(
    faces_dir: Path, hog: HogDetector, clip: str, start: int
) -> None:
    """Cut from the detector's box in one frame, the patch is found 1, 2 and 3 frames later
    within a fifth of a face width of the box the detector finds there, for every face."""
    frames = _greys(faces_dir / "video" / clip, start, 4)
    faces = hog.detect(frames[0])
    assert faces, f"no face at frame {start} of {clip}"
    checked = 0
    for face in faces:
        patch = FacePatch.cut(frames[0], face.box)
        if patch is None:  # at the frame's edge
            continue
        for later in frames[1:]:
            truth = [d.box for d in hog.detect(later) if d.box.iou(face.box) > 0.3]
            if not truth:
                continue
            found = patch.find(later, face.box)
            assert found is not None, f"{clip}: lost the face at {face.box}"
            box, score = found
            (x0, y0), (x1, y1) = box.center, truth[0].center
            assert np.hypot(x1 - x0, y1 - y0) <= 0.2 * face.box.width
            assert (box.width, box.height) == (face.box.width, face.box.height)
            assert 0.6 <= score <= 1.0
            checked += 1
    assert checked >= 3


def test_a_face_that_is_not_there_is_not_glided_to(faces_dir: Path, hog: HogDetector) -> None:
    """The patch looked for in a real room with nobody in it (a photo of dogs), and in a
    flat frame: no match."""
    frames = _greys(faces_dir / "video/short_hamilton_clip.mp4", 100, 1)
    face = hog.detect(frames[0])[0].box
    patch = FacePatch.cut(frames[0], face)
    assert patch is not None
    room = cv2.cvtColor(read_image(faces_dir / "scenes/dogs.jpg"), cv2.COLOR_RGB2GRAY)
    room = cv2.resize(room, (frames[0].shape[1], frames[0].shape[0]))
    height, width = room.shape[:2]
    misses = 0
    for top in range(0, height - face.height, face.height):
        for left in range(0, width - face.width, face.width):
            where = Box(left, top, left + face.width, top + face.height)
            misses += patch.find(np.ascontiguousarray(room), where) is None
    tried = ((height - face.height - 1) // face.height + 1) * (
        (width - face.width - 1) // face.width + 1
    )
    # Dogs have faces too: a stray match somewhere is tolerated, most of the room is not.
    assert misses >= 0.9 * tried
    assert patch.find(np.full_like(frames[0], 128), face) is None


def test_no_patch_from_a_blank_frame_an_edge_or_a_speck(faces_dir: Path) -> None:
    frames = _greys(faces_dir / "video/short_hamilton_clip.mp4", 100, 1)
    grey = frames[0]
    width = grey.shape[1]
    assert FacePatch.cut(np.full_like(grey, 90), Box(100, 100, 200, 200)) is None
    assert FacePatch.cut(grey, Box(-30, 100, 70, 200)) is None
    assert FacePatch.cut(grey, Box(width - 60, 100, width + 40, 200)) is None
    assert FacePatch.cut(grey, Box(100, 100, 108, 108)) is None


class CountingHog(HogDetector):
    def __init__(self) -> None:
        super().__init__(HogDetectorConfig())
        self.region_searches = 0

    def detect_region(self, image: Image, region: Box, scale: float) -> list[Detection]:
        self.region_searches += 1
        return super().detect_region(image, region, scale)


def _hamilton(faces_dir: Path) -> Iterator[Image]:
    capture = cv2.VideoCapture(str(faces_dir / "video/short_hamilton_clip.mp4"))
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        yield np.ascontiguousarray(bgr[:, :, ::-1])
    capture.release()


def test_the_loop_glides_a_decided_face_and_decides_it_once(
    faces_dir: Path, analyzer: FaceAnalyzer
) -> None:
    """The hamilton clip, with liveness on: gliding between searches (the default) makes the
    same decisions as searching every face in every frame, on the same tracks, with fewer
    region searches; decided faces stay followed (no second decision, no new track)."""
    template = analyzer.enrolment_descriptor(
        read_image(faces_dir / "people/lin_manuel_miranda/lmm1.png")
    )
    matcher = Matcher(Gallery.from_mapping({"lin_manuel_miranda": template[None]}))
    results: dict[int, tuple[list[Decision], int, set[int]]] = {}
    for confirm_every in (1, 3):
        config = RecognitionConfig.model_validate(
            {"tracking": {"confirm_every": confirm_every}, "liveness": {"mode": "refuse"}}
        )
        detector = CountingHog()
        loop = RecognitionLoop(config, matcher, detector=detector)
        decisions: list[Decision] = []
        tracks: set[int] = set()
        for index, rgb in enumerate(_hamilton(faces_dir)):
            decisions += loop.process(_Frame(rgb, index))
            tracks |= {t.id for t in loop.tracks if t.decided}
        results[confirm_every] = (decisions, detector.region_searches, tracks)
    every, every_searches, every_tracks = results[1]
    glide, glide_searches, glide_tracks = results[3]
    outcome = [(d.verdict, d.person_id, d.track_id) for d in glide]
    assert outcome == [(d.verdict, d.person_id, d.track_id) for d in every]
    # Him, and the stranger who comes into view after him.
    assert sorted((d.verdict, d.person_id or "") for d in glide) == [
        (Verdict.ACCEPTED, "lin_manuel_miranda"),
        (Verdict.UNKNOWN, ""),
    ]
    assert glide_tracks == every_tracks == {d.track_id for d in glide}
    assert glide_searches < 0.75 * every_searches


def _searched_frames(world: World, frames: int) -> list[int]:
    """Play a scripted world with liveness off; the frames in which the one track's region
    was searched."""
    searched: list[int] = []

    class Recording(ScriptedDetector):
        def detect_region(self, image: Image, region: Box, scale: float) -> list[Detection]:
            searched.append(world.index)
            return super().detect_region(image, region, scale)

    config = RecognitionConfig.model_validate({"liveness": {"mode": "off"}})
    loop = RecognitionLoop(config, Matcher(), detector=Recording(world))
    image = np.zeros((720, 1280, 3), dtype=np.uint8)
    for index in range(frames):
        world.index = index
        loop.process(_Frame(image, index))
    return searched


def test_a_face_missed_twice_is_searched_every_third_frame_until_it_is_back() -> None:
    """A face hidden from frame 10 to 21 (a hand, a turn) is searched in the two frames after
    it was last seen, then every third frame (whole-frame scans look for it as well), and
    found again when it is back, on the same track."""
    world = World(_descriptors(["face"]))
    world.frames = [{} if 10 <= i <= 21 else {"face": _box(400, 120)} for i in range(int(FPS))]
    searched = _searched_frames(world, len(world.frames))
    scans_every = RecognitionConfig().tracking.full_scan_every
    region_frames = [i for i in searched if i % scans_every != 0]  # scans are whole-frame
    assert [i for i in region_frames if 10 <= i <= 21] == [10, 11, 13, 16, 19]
    # Back at frame 22 (missed 12 frames: a frame it is searched in), and followed again.
    after = [i for i in range(22, len(world.frames)) if i % scans_every != 0]
    assert [i for i in region_frames if i > 21] == after


def _scripted_loop(
    world: World,
    enrolled: list[str],
    settings: dict[str, dict[str, object]] | None = None,
    *,
    detector: ScriptedDetector | None = None,
    liveness: LivenessChecker | None = None,
) -> RecognitionLoop:
    """The loop in a scripted world: liveness off and no gliding unless ``settings`` say
    otherwise (the scripted picture does not move with its faces)."""
    merged: dict[str, dict[str, object]] = {
        "liveness": {"mode": "off"},
        "tracking": {"confirm_every": 1},
    }
    for section, values in (settings or {}).items():
        merged[section] = {**merged.get(section, {}), **values}
    return RecognitionLoop(
        RecognitionConfig.model_validate(merged),
        Matcher(Gallery.from_mapping({name: world.faces[name][None] for name in enrolled})),
        detector=detector or ScriptedDetector(world),
        embedder=ScriptedEmbedder(world),
        liveness=liveness,
    )


def _play(
    loop: RecognitionLoop, world: World, frames: int, tracks: set[int] | None = None
) -> list[Decision]:
    """Play ``frames`` frames of the world on a textured picture (faces pass the quality
    gates); collect the decisions, and the ids of the tracks alive after each frame."""
    texture = np.random.default_rng(1).normal(120, 40, (720, 1280, 3)).clip(0, 255)
    image = texture.astype(np.uint8)
    decisions: list[Decision] = []
    for index in range(frames):
        world.index = index
        decisions += loop.process(_Frame(image, index))
        if tracks is not None:
            tracks |= {t.id for t in loop.tracks}
    return decisions


def test_a_face_that_stops_after_a_gap_keeps_its_track() -> None:
    """A walker (40 px a frame) is hidden for four frames and reappears stopped, 20 px past
    where he was last seen: his velocity puts the prediction 200 px farther, with no overlap.
    The whole-frame scan that finds him gives him back his track (within reach of his last
    sighting) instead of a second track that would decide him again."""
    world = World(_descriptors(["walker"]))
    walking = [{"walker": _box(100 + 40 * i, 100)} for i in range(10)]
    world.frames = walking + [{}] * 4 + [{"walker": _box(480, 100)}] * 16
    tracks: set[int] = set()
    loop = _scripted_loop(world, ["walker"])
    decisions = _play(loop, world, len(world.frames) + int(2 * FPS), tracks)
    assert [(d.verdict, d.person_id) for d in decisions] == [(Verdict.ACCEPTED, "walker")]
    assert tracks == {1}


def test_a_face_that_walks_out_of_the_picture_is_decided_when_it_has_left() -> None:
    """A stranger crosses toward the right edge (40 px a frame) and is gone after a third of
    a second, undecided. Where his walk has taken him is outside the picture two frames
    later: his track ends then and he is decided unknown from the looks he gave, instead of
    max_missed_s (a second) later."""
    world = World(_descriptors(["enrolled", "stranger"]))
    world.frames = [{"stranger": _box(900 + 40 * i, 100)} for i in range(8)]
    loop = _scripted_loop(world, ["enrolled"])
    decisions = _play(loop, world, len(world.frames) + int(2 * FPS))
    assert [(d.verdict, d.departed) for d in decisions] == [(Verdict.UNKNOWN, True)]
    last_seen = len(world.frames) - 1
    # max_missed_s (1 s) would have decided him at frame 37.
    assert decisions[0].frame_index <= last_seen + 4


def test_a_recognised_face_the_search_loses_is_decided_when_its_wait_is_over() -> None:
    """Recognised by frame 3, waiting for liveness evidence (max_wait_s 0.4 s from his first
    look at frame 0), he turns away at frame 6 and the search misses him until frame 21. He
    is decided when the wait is over (frame 10), not when he is found again."""
    world = World(_descriptors(["walker"]))
    here = {"walker": _box(400, 120)}
    world.frames = [here] * 6 + [{}] * 15 + [here] * 10
    loop = _scripted_loop(
        world,
        ["walker"],
        {"liveness": {"mode": "flag", "max_wait_s": 0.4}},
        liveness=_SlowLiveness(max_wait_s=0.4),
    )
    decisions = _play(loop, world, len(world.frames))
    assert [(d.verdict, d.person_id, d.departed) for d in decisions] == [
        (Verdict.ACCEPTED, "walker", False)
    ]
    first_look = 0
    assert decisions[0].frame_index == first_look + math.ceil(0.4 * 29.97)


def test_a_usable_face_whose_search_finds_its_neighbour_is_still_decided() -> None:
    """A stranger stands beside an enrolled colleague (their boxes overlap a little) and
    turns away undecided; his track's search then finds the colleague's face, which her own
    track keeps. His track is not thrown away with the views it kept: it misses, ends soon
    (its search keeps finding only her), and he is decided unknown; she is recorded once."""
    world = World(_descriptors(["stranger", "colleague"]))
    stranger, colleague = _box(400, 100), _box(470, 100)
    world.frames = [
        {"stranger": stranger, **({"colleague": colleague} if i >= 2 else {})}
        if i < 5
        else {"colleague": colleague}
        for i in range(int(2 * FPS))
    ]
    loop = _scripted_loop(world, ["colleague"])
    decisions = _play(loop, world, len(world.frames) + int(2 * FPS))
    assert sorted((d.verdict.value, d.person_id or "", d.departed) for d in decisions) == [
        ("accepted", "colleague", False),
        ("unknown", "", True),
    ]
    # Decided a quarter of a second after his search first found only her (frame 5), not
    # max_missed_s (a second) after he was last seen.
    stranger_decided = next(d for d in decisions if d.person_id is None)
    assert stranger_decided.frame_index <= 5 + math.ceil(YIELD_S * 29.97) + 1


class WholeFaces(ScriptedDetector):
    """Like HOG, a region search finds only faces that lie wholly inside the region."""

    def detect_region(self, image: Image, region: Box, scale: float) -> list[Detection]:
        return [
            d
            for d in self.detect(image)
            if region.left <= d.box.left
            and d.box.right <= region.right
            and region.top <= d.box.top
            and d.box.bottom <= region.bottom
        ]


def test_an_undecided_face_missed_while_it_moved_is_searched_wider() -> None:
    """An undecided face, still until frame 4, is missed in frames 5-7 and is then found 65 px
    (0.65 face widths) to the right: outside the usual region (0.6 face widths a side), but
    the region of an undecided face grows with the time since it was last seen, so the
    search of frame 8 finds it on its track (the next whole-frame scan is at frame 30)."""
    world = World(_descriptors(["face"]))
    world.frames = [{"face": _box(400, 100)}] * 5 + [{}] * 3 + [{"face": _box(465, 100)}] * 5
    settings: dict[str, dict[str, object]] = {
        "tracking": {"full_scan_every": 30},
        "decision": {"looks_to_reject": 20},  # stays undecided
    }
    loop = _scripted_loop(world, [], settings, detector=WholeFaces(world))
    _play(loop, world, 9)
    (track,) = loop.tracks
    assert (track.id, track.box, track.last_seen) == (1, _box(465, 100), 8 / 29.97)
