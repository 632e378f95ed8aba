"""Crowds: several undecided faces at once share a per-frame descriptor budget.

The first tests drive the loop with a scripted detector and embedder (the world says where
each face is in each frame and whose it is), so the order in which faces are described and
what happens when one leaves are checked exactly. The last test replays the real crowd clip
(../shared/faces/video/crowd_walkup.mp4) through the real loop and an EdgeStore.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge.recognize.config import RecognitionConfig
from edge.recognize.detector import FaceDetector
from edge.recognize.embedder import FaceEmbedder, Landmarks
from edge.recognize.loop import Decision, RecognitionLoop, Verdict
from edge.recognize.matcher import Gallery, Matcher
from edge.recognize.types import DESCRIPTOR_DIM, Box, Descriptor, Detection, Image

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


def _run(world: World, enrolled: list[str], budget: int, extra_frames: int) -> list[Decision]:
    """Play the world's frames (textured, so every face is sharp), then ``extra_frames``
    empty ones so departed faces' tracks are lost."""
    config = RecognitionConfig.model_validate(
        {"liveness": {"mode": "off"}, "decision": {"descriptors_per_frame": budget}}
    )
    gallery = Gallery.from_mapping({name: world.faces[name][None] for name in enrolled})
    loop = RecognitionLoop(
        config,
        Matcher(gallery),
        detector=ScriptedDetector(world),
        embedder=ScriptedEmbedder(world),
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
