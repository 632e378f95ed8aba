"""The idle gate (edge/recognize/idle.py) in the real loop: a real face composited on a real,
empty scene with sensor noise, the real HOG detector (counting its scans), frames stamped at
30 fps."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from edge.recognize.analyzer import FaceAnalyzer
from edge.recognize.config import HogDetectorConfig, IdleConfig, RecognitionConfig
from edge.recognize.detector import HogDetector
from edge.recognize.idle import GateReason, IdleGate, changed_fraction, thumbnail
from edge.recognize.image import read_image
from edge.recognize.loop import RecognitionLoop
from edge.recognize.matcher import Matcher
from edge.recognize.types import Box, Image

FPS = 30.0
SIZE = (640, 360)
FACE_PX = 110  # in SIZE: well over HOG's ~80 px
FloatImage = npt.NDArray[np.float32]


@dataclass(frozen=True)
class _Frame:
    image: Image
    index: int

    @property
    def monotonic(self) -> float:
        return self.index / FPS


class CountingHog(HogDetector):
    """dlib's HOG detector, counting how often it scans (whole frames or regions)."""

    def __init__(self) -> None:
        super().__init__(HogDetectorConfig())
        self.scans = 0

    def _detect(self, image: Image) -> list[tuple[tuple[int, int, int, int], float]]:
        self.scans += 1
        return super()._detect(image)


@dataclass(frozen=True)
class Person:
    patch: FloatImage
    alpha: FloatImage
    box: Box  # where the face is when pasted at PLACE


PLACE = (260, 110)


@pytest.fixture(scope="module")
def scene(faces_dir: Path) -> FloatImage:
    """A real photo without a human face (dogs.jpg), cropped to 16:9 at 640x360."""
    image = read_image(faces_dir / "scenes/dogs.jpg")
    height, width = image.shape[:2]
    crop = round(width * SIZE[1] / SIZE[0])
    top = (height - crop) // 2
    small = cv2.resize(image[top : top + crop], SIZE, interpolation=cv2.INTER_AREA)
    return np.asarray(small, dtype=np.float32)


@pytest.fixture(scope="module")
def person(faces_dir: Path) -> Person:
    photo = sorted((faces_dir / "people/john_savage").iterdir())[0]
    image = read_image(photo)
    scale = FACE_PX / 125  # LFW crops: the face is ~125 px of 150
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    patch = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_LINEAR), np.float32)
    ramp = 6.0

    def axis(n: int) -> npt.NDArray[np.float32]:
        d = np.minimum(np.arange(n), np.arange(n)[::-1]).astype(np.float32)
        return np.asarray(np.clip((d + 0.5) / ramp, 0, 1), dtype=np.float32)

    alpha = np.outer(axis(size[1]), axis(size[0])).astype(np.float32)[:, :, None]
    return Person(patch, alpha, Box(PLACE[0], PLACE[1], PLACE[0] + size[0], PLACE[1] + size[1]))


def pasted(scene: FloatImage, person: Person, opacity: float = 1.0) -> FloatImage:
    out = scene.copy()
    left, top = PLACE
    height, width = person.patch.shape[:2]
    alpha = person.alpha * opacity
    region = out[top : top + height, left : left + width]
    out[top : top + height, left : left + width] = region * (1 - alpha) + person.patch * alpha
    return out


def noisy(image: FloatImage, rng: np.random.Generator, sigma: float = 5.0) -> Image:
    noise = rng.normal(0.0, sigma, size=image.shape).astype(np.float32)
    return np.ascontiguousarray(np.clip(image + noise, 0, 255).astype(np.uint8))


def lit(scene: FloatImage, t: float) -> FloatImage:
    """Light phase t in 0..1: the picture 0.8x -> 1.2x, a left-right gradient -8% -> +8%."""
    ramp = 0.5 - 0.5 * np.cos(np.pi * t)
    across = np.linspace(-1.0, 1.0, scene.shape[1], dtype=np.float32)[None, :, None]
    gain = (0.8 + 0.4 * ramp) * (1.0 + 0.08 * (2 * ramp - 1) * across)
    return np.asarray(scene * gain, dtype=np.float32)


def make_loop(analyzer: FaceAnalyzer, **idle: object) -> tuple[RecognitionLoop, CountingHog]:
    detector = CountingHog()
    config = RecognitionConfig.model_validate({"liveness": {"mode": "off"}, "idle": idle})
    loop = RecognitionLoop(config, Matcher(), detector=detector, embedder=analyzer.embedder)
    return loop, detector


def empty_frames(scene: FloatImage, count: int, sigma: float = 5.0) -> Iterator[Image]:
    """``count`` frames of the scene; 15 noise patterns recycled (generating noise is slow)."""
    rng = np.random.default_rng(1)
    patterns = [noisy(scene, rng, sigma) for _ in range(15)]
    for i in range(count):
        yield patterns[i % len(patterns)]


def test_sensor_noise_does_not_wake_the_detector(
    scene: FloatImage, analyzer: FaceAnalyzer
) -> None:
    """12 s of an empty scene with strong sensor noise (sigma 8): the first frame is scanned,
    then one scan per max_rest_s; without the gate it would be every third frame."""
    loop, detector = make_loop(analyzer, max_rest_s=10.0)
    count = int(12 * FPS)
    for index, image in enumerate(empty_frames(scene, count, sigma=8.0)):
        loop.process(_Frame(image, index))
    idle = loop.stats()["idle"]
    assert detector.scans == 2  # at 0 s (nothing scanned yet) and at 10 s (max_rest_s)
    assert idle["periodic"] == 2
    assert idle["motion"] == 0
    assert idle["hold"] == 0
    assert idle["changed"] == 0
    assert idle["rest"] == count - 2
    assert idle["scans"] == 2


def test_without_the_gate_the_loop_scans_on_its_cadence(
    scene: FloatImage, analyzer: FaceAnalyzer
) -> None:
    loop, detector = make_loop(analyzer, enabled=False)
    for index, image in enumerate(empty_frames(scene, 30)):
        loop.process(_Frame(image, index))
    assert loop.idle is None
    assert "idle" not in loop.stats()
    assert detector.scans == 10  # every third frame, as full_scan_every = 3


def test_slow_light_change_does_not_wake_the_detector(
    scene: FloatImage, analyzer: FaceAnalyzer
) -> None:
    """The light goes 0.8x -> 1.2x, with a +-8% gradient across the picture turning over, in
    8 s: neither the motion check nor the drift from the last empty picture (which allows
    for uneven light, idle.DRIFT_TOLERANCE) asks for a scan after the first frame's."""
    loop, detector = make_loop(analyzer)
    rng = np.random.default_rng(2)
    count = int(8 * FPS)
    # Every other frame of a 30 fps camera (the gate runs on the frames' times; making the
    # lit frames is what takes long).
    for index in range(0, count, 2):
        image = noisy(lit(scene, index / (count - 2)), rng)
        loop.process(_Frame(image, index))
    idle = loop.stats()["idle"]
    assert idle["motion"] == 0
    assert idle["hold"] == 0
    assert idle["wakes"] == 0
    assert idle["changed"] == 0
    # Only the first frame (no scan yet); without the gate, 80 scans.
    assert detector.scans == 1
    assert idle["rest"] == count // 2 - 1


def test_a_face_appearing_on_a_noisy_still_is_detected_on_its_first_frame(
    scene: FloatImage, person: Person, analyzer: FaceAnalyzer
) -> None:
    """After 2 s of rest, a person steps into view. The frame they appear in is the 62nd, one
    the loop's cadence (a full scan every third frame) would skip: the gate scans it."""
    loop, detector = make_loop(analyzer)
    frames = list(empty_frames(scene, 61))
    for index, image in enumerate(frames):
        loop.process(_Frame(image, index))
    assert (len(frames) + 1 - 1) % loop.config.tracking.full_scan_every != 0
    scans_before = detector.scans
    assert scans_before == 1
    rng = np.random.default_rng(3)
    with capture_logs() as logs:
        loop.process(_Frame(noisy(pasted(scene, person), rng), len(frames)))
    assert detector.scans > scans_before
    [track] = loop.tracks
    assert track.box.iou(person.box) > 0.1
    assert track.first_frame == loop.stats()["frames"]
    idle = loop.stats()["idle"]
    assert idle["motion"] == 1
    assert idle["wakes"] == 1
    [wake] = [e for e in logs if e["event"] == "idle_wake"]
    assert wake["reason"] == "motion"
    assert wake["changed"] >= 0.002

    # While the face is tracked the gate stays open, even though nothing moves.
    for index in range(len(frames) + 1, len(frames) + 1 + int(2 * FPS)):
        loop.process(_Frame(noisy(pasted(scene, person), rng), index))
        assert loop.tracks
    idle = loop.stats()["idle"]
    assert idle["tracking"] == int(2 * FPS)
    assert idle["rest"] == 60  # only the frames before he came


@pytest.mark.parametrize(
    ("scan_interval_s", "max_rest_s", "reason"),
    [(1.0, 10.0, GateReason.CHANGED), (3.0, 3.0, GateReason.PERIODIC)],
)
def test_a_still_person_who_never_woke_the_gate_is_found_by_a_scan(
    scene: FloatImage,
    person: Person,
    analyzer: FaceAnalyzer,
    scan_interval_s: float,
    max_rest_s: float,
    reason: GateReason,
) -> None:
    """Someone who comes into view too slowly for the motion check (fading in over 12 s) and
    then stands still is found by the resting gate's scan within its interval."""
    loop, _detector = make_loop(analyzer, scan_interval_s=scan_interval_s, max_rest_s=max_rest_s)
    rng = np.random.default_rng(4)
    index = 0
    for image in empty_frames(scene, int(1 * FPS)):
        loop.process(_Frame(image, index))
        index += 1
    fade = int(12 * FPS)
    found_at: int | None = None
    for step in range(fade + int(max_rest_s * FPS) + 2):
        opacity = min(1.0, step / fade)
        loop.process(_Frame(noisy(pasted(scene, person, opacity), rng), index))
        if loop.tracks and found_at is None:
            found_at = index
            break
        index += 1
    idle = loop.stats()["idle"]
    assert idle["motion"] == 0  # the motion check never saw him come
    assert found_at is not None
    fully_in = int(1 * FPS) + fade
    assert found_at <= fully_in + int(scan_interval_s * FPS) + 1
    assert idle[reason.value] >= 1
    [track] = loop.tracks
    assert track.box.iou(person.box) > 0.1


def test_gate_thumbnail_hides_noise_and_keeps_a_face(scene: FloatImage, person: Person) -> None:
    """The measurements behind the defaults: blurred sensor noise of sigma 20 stays far under
    pixel_threshold, and a face changes several times min_changed."""
    config = IdleConfig()
    rng = np.random.default_rng(5)
    reference = thumbnail(noisy(scene, rng), config.thumb_width)
    worst = max(
        float(np.abs(thumbnail(noisy(scene, rng, 20.0), config.thumb_width) - reference).max())
        for _ in range(5)
    )
    assert worst < config.pixel_threshold
    face = changed_fraction(
        thumbnail(noisy(pasted(scene, person), rng), config.thumb_width),
        reference,
        config.pixel_threshold,
    )
    assert face >= 3 * config.min_changed


def test_gate_reset_and_a_new_frame_size_start_over(scene: FloatImage) -> None:
    """A reconnected camera (reset) or one that changed resolution is a new picture: no
    comparison with the old background, and a scan at once."""
    gate = IdleGate(IdleConfig())
    rng = np.random.default_rng(6)
    first = gate.check(noisy(scene, rng), 0.0, tracking=False)
    assert first.reason is GateReason.PERIODIC
    assert first.full_scan
    gate.scanned(0.0, faces=0)
    assert gate.check(noisy(scene, rng), 0.1, tracking=False).rest
    # Another aspect ratio: another thumbnail shape.
    other = np.asarray(cv2.resize(noisy(scene, rng), (640, 480)), dtype=np.uint8)
    decision = gate.check(other, 0.2, tracking=False)
    assert decision.full_scan
    assert decision.reason is GateReason.PERIODIC
    gate.scanned(0.2, faces=0)
    assert gate.check(other, 0.3, tracking=False).rest
    gate.reset()
    assert gate.check(other, 0.4, tracking=False).full_scan
    assert gate.stats()["scans"] == 2


@pytest.mark.parametrize(
    ("key", "value"),
    [("thumb_width", 8), ("min_changed", 0), ("background_s", 0), ("scan_interval_s", -1)],
)
def test_idle_config_refuses_bad_values(key: str, value: float) -> None:
    with pytest.raises(ValidationError, match=key):
        RecognitionConfig.model_validate({"idle": {key: value}})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seconds", "0"], "--seconds and --entries must be > 0"),
        (["--entries", "-1"], "--seconds and --entries must be > 0"),
        (["--faces", "/nonexistent"], "/nonexistent: no face data here"),
    ],
)
def test_bench_idle_refuses_bad_arguments_before_any_work(args: list[str], message: str) -> None:
    """scripts/bench_idle.py, also reached as bench_pipeline.py --section idle (which passes
    on --faces only)."""
    root = Path(__file__).resolve().parents[2]
    scripts = [["scripts/bench_idle.py"]]
    if args[0] == "--faces":
        scripts.append(["scripts/bench_pipeline.py", "--section", "idle"])
    for script in scripts:
        done = subprocess.run(
            [sys.executable, *script, *args],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2
        assert message in done.stderr
