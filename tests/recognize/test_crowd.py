"""Crowds: several undecided faces at once share a per-frame descriptor budget.

The first tests drive the loop with a scripted detector and embedder (the world says where
each face is in each frame and whose it is), so the order in which faces are described and
what happens when one leaves are checked exactly. The last test replays the real crowd clip
(../shared/faces/video/crowd_walkup.mp4) through the real loop and an EdgeStore.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge.errors import HadirError
from edge.recognize.analyzer import FaceAnalyzer
from edge.recognize.config import RecognitionConfig
from edge.recognize.detector import FaceDetector
from edge.recognize.embedder import FaceEmbedder, Landmarks
from edge.recognize.liveness import LivenessConfig, LivenessVerdict
from edge.recognize.liveness.evidence import LivenessChecker, TrackEvidence
from edge.recognize.loop import Decision, RecognitionLoop, Verdict
from edge.recognize.matcher import Gallery, Matcher
from edge.recognize.types import DESCRIPTOR_DIM, Box, Descriptor, Detection, Image
from edge.store import EdgeStore, StoreConfig

FPS = 25.0


@dataclass
class World:
    """Where each face is in each frame; ``faces[name]`` is its true descriptor."""

    faces: dict[str, Descriptor]
    frames: list[dict[str, Box]] = field(default_factory=list)
    index: int = 0
    described: list[tuple[int, str]] = field(default_factory=list)  # (frame, face) per descriptor

    def here(self) -> dict[str, Box]:
        return self.frames[self.index] if self.index < len(self.frames) else {}

    def whose(self, box: Box) -> str:
        return next(name for name, b in self.here().items() if b == box)


class ScriptedDetector(FaceDetector):
    def __init__(self, world: World) -> None:
        super().__init__(max_side=10_000, upsample=0, min_score=0.0)
        self.world = world

    def detect(self, image: Image) -> list[Detection]:
        boxes = sorted(self.world.here().values(), key=lambda b: b.area, reverse=True)
        return [Detection(b, 1.0) for b in boxes]

    def detect_region(self, image: Image, region: Box, scale: float) -> list[Detection]:
        return [d for d in self.detect(image) if d.box.iou(region) > 0]

    def _detect(self, image: Image) -> list[tuple[tuple[int, int, int, int], float]]:
        raise AssertionError("the scripted detector answers detect() and detect_region()")


class ScriptedEmbedder(FaceEmbedder):
    """Frontal landmarks inside the box; the descriptor of whoever the world puts there.
    A chip is the face's name: describing it later needs no frame."""

    def __init__(self, world: World) -> None:
        self.world = world

    def shape(self, image: Image, box: Box) -> Any:
        return box

    @staticmethod
    def landmarks(shape: Any) -> Landmarks:
        b: Box = shape
        w, h = b.width, b.height
        eyes_nose = [(0.25, 0.4), (0.4, 0.4), (0.6, 0.4), (0.75, 0.4), (0.5, 0.65)]
        return np.array([(b.left + x * w, b.top + y * h) for x, y in eyes_nose], np.float32)

    def describe(self, image: Image, shape: Any, *, jitters: int = 0) -> Descriptor:
        name = self.world.whose(shape)
        self.world.described.append((self.world.index, name))
        return self.world.faces[name]

    def chip(self, image: Image, shape: Any) -> Image:
        names = sorted(self.world.faces)
        return np.full((1, 1, 3), names.index(self.world.whose(shape)), dtype=np.uint8)

    def describe_chip(self, chip: Image) -> Descriptor:
        name = sorted(self.world.faces)[int(chip[0, 0, 0])]
        self.world.described.append((self.world.index, name))
        return self.world.faces[name]


@dataclass(frozen=True)
class _Frame:
    image: Image
    index: int

    @property
    def monotonic(self) -> float:
        return self.index / FPS


def _descriptors(names: list[str]) -> dict[str, Descriptor]:
    """Far apart (distance ~1), as different people are."""
    rng = np.random.default_rng(5)
    found = {}
    for name in names:
        vec = rng.normal(0, 1, DESCRIPTOR_DIM)
        found[name] = (0.7 * vec / np.linalg.norm(vec)).astype(np.float32)
    return found


class _NeverReady(TrackEvidence):
    """Liveness evidence that never has enough frames: a recognised face waits for it."""

    def __init__(self) -> None:
        self.frames = 0

    def observe(self, grey: Image, box: Box, monotonic: float) -> None:
        self.frames += 1

    @property
    def ready(self) -> bool:
        return False

    def verdict(self) -> LivenessVerdict:
        return LivenessVerdict(0.9, True, (), self.frames)


class _SlowLiveness(LivenessChecker):
    """Flags, never has enough evidence, and waits up to ``max_wait_s`` for it."""

    def __init__(self, max_wait_s: float = 10.0) -> None:
        self.config = LivenessConfig(mode="flag", max_wait_s=max_wait_s)

    def start(self) -> TrackEvidence:
        return _NeverReady()


def _run(
    world: World,
    enrolled: list[str],
    budget: int,
    extra_frames: int,
    liveness: LivenessChecker | None = None,
) -> list[Decision]:
    """Play the world's frames (textured, so every face is sharp), then ``extra_frames``
    empty ones so departed faces' tracks are lost."""
    mode = "off" if liveness is None else liveness.config.mode.value
    # The scripted picture does not move with its faces: no gliding (tests/recognize/test_glide.py).
    config = RecognitionConfig.model_validate(
        {
            "liveness": {"mode": mode},
            "decision": {"descriptors_per_frame": budget},
            "tracking": {"confirm_every": 1},
        }
    )
    gallery = Gallery.from_mapping({name: world.faces[name][None] for name in enrolled})
    loop = RecognitionLoop(
        config,
        Matcher(gallery),
        detector=ScriptedDetector(world),
        embedder=ScriptedEmbedder(world),
        liveness=liveness,
    )
    rng = np.random.default_rng(1)
    image = rng.normal(120, 40, (720, 1280, 3)).clip(0, 255).astype(np.uint8)
    decisions: list[Decision] = []
    for index in range(len(world.frames) + extra_frames):
        world.index = index
        decisions += loop.process(_Frame(image, index))
    return decisions


def _box(x: int, width: int) -> Box:
    return Box(x, 200, x + width, 200 + width)


def test_the_budget_goes_to_the_best_faces_first_and_every_face_is_decided() -> None:
    # Five enrolled people step into view at once, 60-140 px wide, and stay for two seconds.
    widths = {"a": 60, "b": 140, "c": 80, "d": 120, "e": 100}
    world = World(_descriptors(list(widths)))
    world.frames = [
        {name: _box(20 + 240 * i, w) for i, (name, w) in enumerate(widths.items())}
    ] * int(2 * FPS)
    decisions = _run(world, list(widths), budget=2, extra_frames=0)

    per_frame = Counter(frame for frame, _ in world.described)
    assert max(per_frame.values()) == 2
    # The first descriptors go to the largest faces, and the smallest face waits its turn.
    assert [name for _, name in world.described[:2]] == ["b", "d"]
    first_look = {name: next(f for f, n in world.described if n == name) for name in widths}
    assert first_look["b"] <= first_look["d"] < first_look["e"]
    assert first_look["e"] <= first_look["c"] <= first_look["a"]
    # Everyone is recognised once, largest first, all within half a second.
    accepted = [d for d in decisions if d.verdict is Verdict.ACCEPTED]
    assert sorted(d.person_id or "" for d in accepted) == sorted(widths)
    order = [d.person_id for d in sorted(accepted, key=lambda d: d.frame_index)]
    assert order.index("b") < order.index("c")
    assert order.index("d") < order.index("a")
    for decision in accepted:
        assert decision.first_usable == 0.0
        assert decision.monotonic - decision.first_usable <= 0.5


def test_a_face_that_leaves_before_its_turn_is_still_decided() -> None:
    """Two large faces take the whole budget (one descriptor a frame); a smaller enrolled
    face and a stranger walk through without a look. Both are decided when
    their tracks are lost, from the views kept for them; a face that never passed the
    quality gates (too small) is not."""
    # One descriptor a frame and a look at most every 0.12 s (3 frames) for each big face:
    # frames 0 and 1 go to them, so the walkers, there for frames 0 and 1 only, get none.
    names = ["big_1", "big_2", "passer", "stranger", "tiny"]
    world = World(_descriptors(names))
    steady = {"big_1": _box(20, 140), "big_2": _box(300, 130)}
    for index in range(int(2 * FPS)):
        frame = dict(steady)
        if index < 2:
            frame["passer"] = _box(600 + 10 * index, 90)
            frame["stranger"] = _box(850 + 10 * index, 80)
            frame["tiny"] = _box(1100, 40)
        world.frames.append(frame)
    decisions = _run(world, ["big_1", "big_2", "passer"], budget=1, extra_frames=int(2 * FPS))

    while_there = {name for frame, name in world.described if frame < 2}
    assert while_there == {"big_1", "big_2"}
    decided = {d.person_id if d.person_id else "unknown": d for d in decisions}
    assert decided.keys() == {"big_1", "big_2", "passer", "unknown"}
    assert decided["passer"].verdict is Verdict.ACCEPTED
    assert decided["passer"].looks == 2  # its two best views, described when it was lost
    assert decided["unknown"].looks == 2
    assert decided["unknown"].match.distance > RecognitionConfig().matching.threshold
    assert [d.departed for d in decisions] == [
        name in {"passer", "unknown"} for name in (d.person_id or "unknown" for d in decisions)
    ]
    assert [d.verdict for d in decisions].count(Verdict.UNKNOWN) == 1
    assert "tiny" not in {name for _, name in world.described}


def test_a_stranger_in_view_from_the_first_frame_is_reported_while_still_there() -> None:
    """A replay's clock starts at 0.0; a first look at 0.0 is a time, not a missing one (it
    was read as 'no look yet', and the stranger stayed undecided until he left)."""
    world = World(_descriptors(["enrolled", "stranger"]))
    world.frames = [{"stranger": _box(300, 120)}] * int(2 * FPS)
    decisions = _run(world, ["enrolled"], budget=2, extra_frames=0)
    assert [d.verdict for d in decisions] == [Verdict.UNKNOWN]
    rules = RecognitionConfig().decision
    assert decisions[0].monotonic - rules.reject_after_s < 2 * rules.relook_interval_s


def test_the_waits_for_a_decision_count_from_the_first_usable_frame() -> None:
    """Six faces in view and one descriptor a frame: the last faces' first looks come frames
    after they were usable. The person at the wall waits from then, so the liveness wait
    (max_wait_s) and the wait before 'unknown' (reject_after_s) count from the first usable
    frame; counted from the first look, the last in the queue waited longer than either."""
    enrolled = ["a", "b", "c", "d"]
    strangers = ["x", "y"]
    world = World(_descriptors(enrolled + strangers))
    world.frames = [
        {name: _box(20 + 200 * i, 140 - 8 * i) for i, name in enumerate(enrolled + strangers)}
    ] * int(2 * FPS)
    max_wait_s = 0.5
    decisions = _run(
        world, enrolled, budget=1, extra_frames=0, liveness=_SlowLiveness(max_wait_s=max_wait_s)
    )

    first_look = {name: next(f for f, n in world.described if n == name) for name in world.faces}
    assert max(first_look.values()) >= 4  # the queue was real: some looks came late
    assert sorted(d.person_id or "?" for d in decisions) == ["?", "?", *enrolled]
    rules = RecognitionConfig().decision
    for decision in decisions:
        assert decision.first_usable == 0.0
        waited = decision.monotonic - decision.first_usable
        if decision.verdict is Verdict.ACCEPTED:
            assert max_wait_s <= waited <= max_wait_s + 1 / FPS
        else:  # three looks at most every relook_interval_s, each for one face in six
            assert waited <= rules.reject_after_s + 6 / FPS


def test_a_face_crossing_the_view_fast_stays_one_track() -> None:
    """Someone crossing moves 70% of a face width per frame: the overlap with the last box
    (0.18) is under tracking.min_iou, so only the predicted position continues the track,
    and the person is decided once, not once per track."""
    world = World(_descriptors(["walker"]))
    world.frames = [{"walker": _box(20 + 70 * index, 100)} for index in range(18)]
    decisions = _run(world, ["walker"], budget=2, extra_frames=int(2 * FPS))
    assert [(d.verdict, d.person_id) for d in decisions] == [(Verdict.ACCEPTED, "walker")]
    assert {d.track_id for d in decisions} == {1}


def test_a_face_recognised_from_its_kept_views_is_not_undone_by_a_worse_one() -> None:
    """The passer gets one look (frame 1), then leaves; his kept views are frame 2 (his
    face) and frame 3 (the same track, but a view that matches nobody: turned, smeared).
    When his track is lost the better view completes his recognition, and the worse one
    must not be described after it and turn him into an unknown face."""
    world = World(_descriptors(["big", "passer", "smeared"]))
    for index in range(int(2 * FPS)):
        frame = {"big": _box(20, 140)}
        if index < 3:
            frame["passer"] = _box(600, 90)
        elif index == 3:
            frame["smeared"] = Box(602, 200, 690, 288)
        world.frames.append(frame)
    decisions = _run(
        world, ["big", "passer"], budget=1, extra_frames=int(2 * FPS), liveness=_SlowLiveness()
    )
    looks = [(frame, name) for frame, name in world.described if name != "big"]
    assert looks[0] == (1, "passer")  # frame 0 went to the bigger face
    passer = [d for d in decisions if d.person_id == "passer"]
    assert [(d.verdict, d.looks) for d in passer] == [(Verdict.ACCEPTED, 2)]
    assert passer[0].liveness is not None
    assert "smeared" not in {name for _, name in world.described}
    assert [d.verdict for d in decisions].count(Verdict.UNKNOWN) == 0


# -- the real crowd clip -------------------------------------------------------------------

CROWD = "video/crowd_walkup.mp4"
# The first half second: the walkers are still far away (faces 64-113 px in 1080p).
ENROLMENT_FRAMES = (0, 6, 12)
# The terminal takes the newest frame when it is done with the last one: on a CPU that
# manages half the camera's rate (1080p, several faces) it sees every second frame.
STRIDE = 2


@dataclass(frozen=True)
class Enrolled:
    person_id: str
    frame: int
    width: int  # face width in the enrolment crop's frame


def _read_clip(path: Path) -> list[Image]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(np.ascontiguousarray(bgr[:, :, ::-1], dtype=np.uint8))
    capture.release()
    return frames


def _enrol_two_far_away(
    frames: list[Image], analyzer: FaceAnalyzer
) -> tuple[list[Enrolled], Gallery]:
    """Crop every usable face of the early frames as an admin would (the face and half its
    width around it), keep the crops enrolment accepts (exactly one usable face), group them
    into people by descriptor, and enrol the two people whose faces were smallest: the
    farthest away, who then walk up to the camera."""
    people: list[tuple[Enrolled, Descriptor]] = []
    for index in ENROLMENT_FRAMES:
        frame = frames[index]
        for face in analyzer.faces(frame, describe=False):
            if not face.quality.ok:
                continue
            b, m = face.box, face.box.width // 2
            crop = frame[max(0, b.top - m) : b.bottom + m, max(0, b.left - m) : b.right + m]
            try:
                descriptor = analyzer.enrolment_descriptor(np.ascontiguousarray(crop))
            except HadirError:
                continue  # the crop also holds part of a neighbour, or its face is unusable
            same = [i for i, (_, d) in enumerate(people) if np.linalg.norm(d - descriptor) < 0.5]
            if not same:
                people.append((Enrolled(f"walker_{len(people) + 1}", index, b.width), descriptor))
            elif b.width < people[same[0]][0].width:
                person_id = people[same[0]][0].person_id
                people[same[0]] = (Enrolled(person_id, index, b.width), descriptor)
    people.sort(key=lambda p: p[0].width)
    chosen = people[:2]
    assert len(chosen) == 2, "two people must be enrollable from the early frames"
    gallery = Gallery.from_mapping({e.person_id: d[None] for e, d in chosen})
    return [e for e, _ in chosen], gallery


@pytest.mark.faces
@pytest.mark.slow
def test_two_people_enrolled_far_away_are_recorded_once_as_they_walk_up(
    faces_dir: Path, analyzer: FaceAnalyzer, tmp_path: Path
) -> None:
    frames = _read_clip(faces_dir / CROWD)
    enrolled, gallery = _enrol_two_far_away(frames, analyzer)
    # 1080p is not downscaled: the faces are 55-135 px, and HOG finds faces from ~80 px.
    config = RecognitionConfig.model_validate({"detector": {"type": "hog", "max_side": 1920}})
    loop = RecognitionLoop(config, Matcher(gallery), embedder=analyzer.embedder)
    start = max(ENROLMENT_FRAMES) + 1  # never the frames the crops came from
    played = [(index, frames[index]) for index in range(start, len(frames), STRIDE)]
    # Then an empty corridor for longer than max_missed_s: every track is lost.
    empty = np.zeros_like(frames[0])
    played += [(len(frames) + n, empty) for n in range(0, 40, STRIDE)]
    recorded: list[str] = []
    decisions: list[tuple[Decision, int]] = []
    width_of_track: dict[int, int] = {}  # last seen; a lost track is decided after it left
    with EdgeStore.open(tmp_path / "edge.sqlite3", StoreConfig(), device_id="arcade") as store:
        for index, image in played:
            found = loop.process(_Frame(image, index))
            width_of_track.update({t.id: t.box.width for t in loop.tracks})
            for decision in found:
                decisions.append((decision, width_of_track[decision.track_id]))
                if decision.person_id is None:
                    continue
                result = store.record(
                    decision.person_id,
                    distance=decision.match.distance,
                    margin=decision.match.margin,
                )
                if result.recorded:
                    recorded.append(decision.person_id)
        events = store.events()
    assert sorted(recorded) == sorted(e.person_id for e in enrolled)
    assert sorted(e.person_id for e in events) == sorted(recorded)
    # Recognised closer than they were enrolled.
    width = {e.person_id: e.width for e in enrolled}
    for decision, face_width in decisions:
        if decision.person_id is not None:
            assert face_width > width[decision.person_id], (decision, face_width)
    # Everyone else in the crowd was seen, reported unknown, and recorded nowhere.
    assert any(d.verdict is Verdict.UNKNOWN for d, _ in decisions)


def test_a_stray_small_hit_inside_a_tracked_face_does_not_take_the_track() -> None:
    """In frames 4 and 5 the region search finds only a box half the face's size, partly
    outside it (a detector hit on part of the face, or a neighbour's). Followed, it drags the
    track off the face: the next full scan starts a second track and the person is decided
    twice. A face does not halve in a frame, so the hit is ignored."""
    world = World(_descriptors(["walker"]))
    face, stray = _box(400, 90), Box(385, 210, 430, 255)
    world.frames = [{"walker": stray if index in (4, 5) else face} for index in range(40)]
    decisions = _run(world, ["walker"], budget=2, extra_frames=int(2 * FPS))
    assert [(d.verdict, d.person_id) for d in decisions] == [(Verdict.ACCEPTED, "walker")]
