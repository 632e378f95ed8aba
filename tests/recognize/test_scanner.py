"""Whole-frame scans in a second process (edge/recognize/scanner.py) and how the loop adopts
their late answers.

The first tests give the loop a scripted scanner whose answer about a frame arrives a set
number of frames later, in the scripted world of test_crowd.py, so adoption is checked
exactly. The others start the real worker process on real photos and kill it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest
from structlog.testing import capture_logs

from edge.recognize.config import HogDetectorConfig, RecognitionConfig
from edge.recognize.detector import create_detector
from edge.recognize.loop import Decision, RecognitionLoop, Verdict
from edge.recognize.matcher import Gallery, Matcher
from edge.recognize.scanner import (
    AUTO_MIN_CORES,
    NICENESS,
    ScanResult,
    ScanWorker,
    start_scan_worker,
)
from edge.recognize.types import Box, Detection, Image
from tests.recognize.test_crowd import (
    FPS,
    ScriptedDetector,
    ScriptedEmbedder,
    World,
    _box,
    _descriptors,
    _Frame,
)

WAIT_S = 120.0  # for the worker to start and answer: a bound on a hang, not a timing claim


@dataclass
class LateScanner:
    """Answers a scan ``delay`` loop frames after it was asked, with the world as it was in
    the frame that was submitted."""

    world: World
    delay: int
    ready: bool = True
    submitted: list[int] = field(default_factory=list)
    _pending: tuple[int, float, list[Detection]] | None = None
    _polls: int = 0

    @property
    def busy(self) -> bool:
        return self._pending is not None

    def submit(self, grey: Image, frame_index: int, monotonic: float) -> bool:
        if self._pending is not None:
            return False
        boxes = sorted(self.world.here().values(), key=lambda b: b.area, reverse=True)
        self._pending = (frame_index, monotonic, [Detection(b, 1.0) for b in boxes])
        self._polls = 0
        self.submitted.append(self.world.index)
        return True

    def poll(self) -> ScanResult | None:
        if self._pending is None:
            return None
        self._polls += 1
        if self._polls <= self.delay:
            return None
        index, monotonic, detections = self._pending
        self._pending = None
        return ScanResult(index, monotonic, detections, 0.0)

    def close(self) -> None:
        pass


class CountingDetector(ScriptedDetector):
    """The scripted detector, counting the whole-frame scans the loop makes by itself."""

    def __init__(self, world: World) -> None:
        super().__init__(world)
        self.full_scans = 0

    def detect(self, image: Image) -> list[Detection]:
        self.full_scans += 1
        return super().detect(image)

    def detect_region(self, image: Image, region: Box, scale: float) -> list[Detection]:
        return [d for d in super().detect(image) if d.box.iou(region) > 0]


def _play(
    world: World,
    scanner: LateScanner,
    enrolled: list[str],
    extra_frames: int,
    detector: CountingDetector | None = None,
) -> tuple[list[Decision], CountingDetector, list[set[int]]]:
    # The scripted picture does not move with its faces: no gliding (tests/recognize/test_glide.py).
    config = RecognitionConfig.model_validate(
        {"liveness": {"mode": "off"}, "tracking": {"confirm_every": 1}}
    )
    detector = detector or CountingDetector(world)
    loop = RecognitionLoop(
        config,
        Matcher(Gallery.from_mapping({n: world.faces[n][None] for n in enrolled})),
        detector=detector,
        embedder=ScriptedEmbedder(world),
        scanner=scanner,
    )
    image = np.random.default_rng(1).normal(120, 40, (720, 1280, 3)).clip(0, 255)
    frame_image = image.astype(np.uint8)
    decisions: list[Decision] = []
    tracks: list[set[int]] = []
    for index in range(len(world.frames) + extra_frames):
        world.index = index
        decisions += loop.process(_Frame(frame_image, index))
        tracks.append({t.id for t in loop.tracks})
    return decisions, detector, tracks


def test_a_walker_found_by_a_late_scan_is_followed_and_recorded_once() -> None:
    """The scan of frame 0 answers at frame 7, when the walker (20 px a frame) is 140 px
    from where the scan saw him: the region search around the old box, widened for the time
    gone by, finds him, and he is followed and recognised on one track."""
    world = World(_descriptors(["walker", "other"]))
    world.frames = [{"walker": _box(100 + 20 * i, 100)} for i in range(int(2 * FPS))]
    scanner = LateScanner(world, delay=6)
    decisions, detector, tracks = _play(world, scanner, ["walker"], extra_frames=int(2 * FPS))
    assert detector.full_scans == 0  # every whole-frame scan went to the worker
    assert [(d.verdict, d.person_id) for d in decisions] == [(Verdict.ACCEPTED, "walker")]
    assert set().union(*tracks) == {1}
    assert decisions[0].frame_index >= 7  # nothing was known before the scan came back


def test_a_face_already_followed_is_not_adopted_again() -> None:
    """Later scans keep answering with a face the loop follows: each answer is compared
    with where the track was in the scanned frame, and no second track starts."""
    world = World(_descriptors(["stays", "walks"]))
    world.frames = [
        {"stays": _box(100, 120), "walks": _box(500 + 12 * i, 100)} for i in range(int(3 * FPS))
    ]
    scanner = LateScanner(world, delay=4)
    decisions, _, tracks = _play(world, scanner, ["stays"], extra_frames=int(2 * FPS))
    assert len(scanner.submitted) > 10  # many scans came back while both were followed
    assert set().union(*tracks) == {1, 2}
    assert sorted((d.verdict.value, d.person_id or "") for d in decisions) == [
        ("accepted", "stays"),
        ("unknown", ""),
    ]


def test_a_scan_slower_than_max_missed_s_still_finds_the_face() -> None:
    """A Pi scans a 1080p frame in about a second: the answer is older than
    tracking.max_missed_s, and the adopted track must not expire at once when the region
    search misses the face for a frame or two (here frames 39 and 40, right after the answer
    about frame 0 came)."""
    world = World(_descriptors(["slow"]))
    world.frames = [
        {} if i in (39, 40) else {"slow": _box(300 + 2 * i, 110)} for i in range(int(4 * FPS))
    ]
    limit = RecognitionConfig().tracking.max_missed_s
    delay = round(1.5 * limit * FPS)
    assert delay == 38  # the answer comes in frame 39
    scanner = LateScanner(world, delay=delay)
    decisions, detector, _ = _play(world, scanner, ["slow"], extra_frames=0)
    assert detector.full_scans == 0
    assert [(d.verdict, d.person_id) for d in decisions] == [(Verdict.ACCEPTED, "slow")]


class BlindSpell(CountingDetector):
    """The region search finds nothing in ``blind`` frames (a face HOG finds at the scan's
    scale but not at the region's)."""

    def __init__(self, world: World, blind: range) -> None:
        super().__init__(world)
        self.blind = blind

    def detect_region(self, image: Image, region: Box, scale: float) -> list[Detection]:
        if self.world.index in self.blind:
            return []
        return super().detect_region(image, region, scale)


def test_a_face_the_region_search_loses_is_kept_by_the_scans() -> None:
    """For 1.6 s (longer than tracking.max_missed_s) only the worker's scans see the face:
    they keep its track alive, so it is recorded once, not once more as a new face."""
    world = World(_descriptors(["stays"]))
    world.frames = [{"stays": _box(300 + i, 110)} for i in range(int(4 * FPS))]
    assert RecognitionConfig().tracking.max_missed_s < 1.6
    blind = range(20, 20 + int(1.6 * FPS))
    scanner = LateScanner(world, delay=2)
    decisions, _, tracks = _play(
        world, scanner, ["stays"], extra_frames=0, detector=BlindSpell(world, blind)
    )
    assert [(d.verdict, d.person_id) for d in decisions] == [(Verdict.ACCEPTED, "stays")]
    assert set().union(*tracks) == {1}


def test_a_face_gone_before_its_scan_answers_is_dropped_without_a_decision() -> None:
    world = World(_descriptors(["passer"]))
    world.frames = [{"passer": _box(300, 100)} if i < 2 else {} for i in range(int(FPS))]
    scanner = LateScanner(world, delay=8)
    decisions, _, tracks = _play(world, scanner, ["passer"], extra_frames=int(2 * FPS))
    assert decisions == []
    assert any(tracks)  # the answer started a track ...
    assert tracks[-1] == set()  # ... that expired unseen


def test_the_loop_scans_by_itself_until_the_worker_is_ready() -> None:
    world = World(_descriptors(["early"]))
    world.frames = [{"early": _box(300, 100)}] * int(FPS)
    scanner = LateScanner(world, delay=0, ready=False)
    decisions, detector, _ = _play(world, scanner, ["early"], extra_frames=0)
    assert scanner.submitted == []
    assert detector.full_scans > 0
    assert [(d.verdict, d.person_id) for d in decisions] == [(Verdict.ACCEPTED, "early")]


# -- the real worker process ---------------------------------------------------------------


def _grey(path: Path) -> Image:
    bgr = cv2.imread(str(path))
    assert bgr is not None
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), dtype=np.uint8)


def _answer(worker: ScanWorker) -> ScanResult | None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and worker.alive:
        result = worker.poll()
        if result is not None:
            return result
        time.sleep(0.02)
    return None


@pytest.mark.faces
def test_the_worker_finds_what_the_loop_would_find_itself(faces_dir: Path) -> None:
    grey = _grey(faces_dir / "scenes/bald_guys.jpg")
    config = HogDetectorConfig()
    worker = ScanWorker(config)
    try:
        assert worker.wait_ready(WAIT_S), "the scan worker did not start"
        # Nicer than us: where the two share a core, the loop goes first.
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, worker.pid) == min(19, ours + NICENESS)
        assert worker.submit(grey, 7, 1.5)
        assert not worker.submit(grey, 8, 1.6)  # one scan in flight at a time
        assert worker.busy
        result = _answer(worker)
    finally:
        worker.close()
        worker.close()  # idempotent
    assert result is not None
    assert (result.frame_index, result.monotonic) == (7, 1.5)
    mine = create_detector(config).detect(grey)
    assert len(mine) >= 3
    assert [d.box for d in result.detections] == [d.box for d in mine]
    assert "closed" in repr(worker)
    assert not worker.alive


@pytest.mark.faces
def test_a_killed_worker_leaves_the_loop_scanning_by_itself(
    faces_dir: Path, tmp_path: Path
) -> None:
    grey = _grey(faces_dir / "scenes/bald_guys.jpg")
    rgb = np.ascontiguousarray(cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB), dtype=np.uint8)
    worker = ScanWorker(HogDetectorConfig())
    try:
        assert worker.wait_ready(WAIT_S), "the scan worker did not start"
        os.kill(worker.pid, signal.SIGKILL)
        with capture_logs() as logs:
            assert worker.submit(grey, 1, 0.0) in (True, False)
            assert _answer(worker) is None
        assert not worker.ready
        assert [e["event"] for e in logs if e["log_level"] == "error"] == ["scan_worker_died"]
        config = RecognitionConfig.model_validate({"liveness": {"mode": "off"}})
        loop = RecognitionLoop(config, Matcher(Gallery.empty()), scanner=worker)
        loop.process(_Frame(rgb, 0))
        assert len(loop.tracks) >= 3  # found by the loop's own scan
    finally:
        worker.close()
    assert "dead" in repr(worker) or "closed" in repr(worker)


def test_scan_worker_setting() -> None:
    def config(mode: str) -> RecognitionConfig:
        return RecognitionConfig.model_validate({"tracking": {"scan_worker": mode}})

    assert RecognitionConfig().tracking.scan_worker == "auto"
    assert start_scan_worker(config("off"), cores=8) is None
    assert start_scan_worker(config("auto"), cores=1) is None
    assert start_scan_worker(config("auto"), cores=AUTO_MIN_CORES - 1) is None
    for mode, cores in (("on", 1), ("auto", AUTO_MIN_CORES)):
        worker = start_scan_worker(config(mode), cores=cores)
        assert worker is not None
        worker.close()
    with pytest.raises(ValueError, match="scan_worker"):
        config("sometimes")


def test_auto_counts_the_cores_the_daemon_may_use() -> None:
    """Pinned to one core (taskset, a cpuset), a many-core machine is a one-core one."""
    first = min(os.sched_getaffinity(0))
    script = "from edge.recognize.scanner import usable_cores; print(usable_cores())"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        preexec_fn=lambda: os.sched_setaffinity(0, {first}),
    )
    assert done.stdout.split() == ["1"]
