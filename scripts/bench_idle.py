#!/usr/bin/env python3
"""What an idle terminal costs, with the idle gate off and on, in one process.

A 1280x720 scene without people (``scenes/dogs.jpg``, cropped to 16:9) is played as a camera at
30 fps through the real pipeline: a paced in-memory source -> ``FrameGrabber`` (newest frame
only, content check) -> ``RecognitionLoop`` on the main thread, as the daemon drives them.
Measured, for ``[recognition.idle] enabled = false`` and ``true``:

* **CPU**: process time (every thread) per wall second, after a warm-up, on
  (a) the still with sensor noise (sigma ``--noise`` grey levels, fresh noise in every frame),
  (b) the same with a slow light change (the whole picture 0.8x -> 1.2x and back, plus a
  left-right gradient of +-8%, over 16 s);
* **first detection**: a person (``people/john_savage``, face ~150 px) either *appears* (steps
  into view from behind something, whole in one frame) or *walks in* from the right edge in
  12 frames, then stands; the delay from the capture of the first frame in which the detector
  alone finds the face to the moment the loop's detector first returns it (not the end of that
  frame's processing, which also holds the new face's first descriptor). Entries alternate
  between the two and come after 1.5-4 s of empty scene (varied, so they land at every phase
  of the gate's scans and the loop's cadence).

The frames are made before the clock starts: generating noise costs more than the gate, and a
camera hands out frames without the process paying for them. Decoding is not counted for the
same reason (a replayed video's decode would be the camera's share; on a Pi the ISP does it).

Targets (issue 13): idle at most 0.05 of a core with the gate on; first detection within 0.2 s.

    .venv/bin/python scripts/bench_idle.py [--faces ../shared/faces] [--seconds 10] [--entries 8]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from edge.capture import EndOfStreamError, FrameGrabber, FrameSource
from edge.capture.frame import RGBImage
from edge.logs import configure_logging
from edge.recognize.analyzer import FaceAnalyzer
from edge.recognize.config import IdleConfig, RecognitionConfig
from edge.recognize.detector import FaceDetector
from edge.recognize.image import read_image
from edge.recognize.liveness import LivenessMode
from edge.recognize.liveness.config import LivenessConfig
from edge.recognize.loop import RecognitionLoop
from edge.recognize.matcher import Gallery, Matcher

SIZE = (1280, 720)
FPS = 30.0
NOISE_FRAMES = 60
LIGHT_FRAMES = 240  # one way; played forwards then backwards: a 16 s light cycle at 30 fps
WALK_FRAMES = 12
STAND_FRAMES = 45
FACE_PX = 150
CPU_TARGET = 0.05
DELAY_TARGET_S = 0.2

FloatImage = npt.NDArray[np.float32]


# -- the pictures --------------------------------------------------------------------------


def empty_scene(faces: Path) -> FloatImage:
    """A real photo without a human face, cropped to 16:9 and scaled to 720p."""
    image = read_image(faces / "scenes/dogs.jpg")
    height, width = image.shape[:2]
    crop_height = round(width * SIZE[1] / SIZE[0])
    top = (height - crop_height) // 2
    scene = cv2.resize(image[top : top + crop_height], SIZE, interpolation=cv2.INTER_LINEAR)
    return np.asarray(scene, dtype=np.float32)


def with_noise(image: FloatImage, sigma: float, rng: np.random.Generator) -> RGBImage:
    noise = rng.normal(0.0, sigma, size=image.shape).astype(np.float32)
    return np.ascontiguousarray(np.clip(image + noise, 0, 255).astype(np.uint8))


def light(scene: FloatImage, t: float) -> FloatImage:
    """The scene at light phase ``t`` in 0..1: gain 0.8 -> 1.2, gradient -8% -> +8%."""
    ramp = 0.5 - 0.5 * math.cos(math.pi * t)
    across = np.linspace(-1.0, 1.0, scene.shape[1], dtype=np.float32)[None, :, None]
    gain = (0.8 + 0.4 * ramp) * (1.0 + 0.08 * (2 * ramp - 1) * across)
    return np.asarray(scene * gain, dtype=np.float32)


def person_patch(faces: Path) -> tuple[FloatImage, FloatImage]:
    """A face photo scaled so the face is ~FACE_PX wide, and its feathered alpha."""
    photo = sorted((faces / "people/john_savage").iterdir())[0]
    image = read_image(photo)
    # LFW crops: the face is ~125 px of the 150 px crop.
    scale = FACE_PX / 125
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    patch = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_LINEAR), np.float32)
    ramp = 8.0

    def axis(n: int) -> npt.NDArray[np.float32]:
        distance = np.minimum(np.arange(n), np.arange(n)[::-1]).astype(np.float32)
        return np.asarray(np.clip((distance + 0.5) / ramp, 0.0, 1.0), dtype=np.float32)

    alpha = np.outer(axis(size[1]), axis(size[0])).astype(np.float32)[:, :, None]
    return patch, alpha


def composite(
    scene: FloatImage, patch: FloatImage, alpha: FloatImage, left: int, top: int
) -> FloatImage:
    """``patch`` pasted at (left, top), clipped to the frame."""
    out = scene.copy()
    height, width = scene.shape[:2]
    x0, y0 = max(0, left), max(0, top)
    x1, y1 = min(width, left + patch.shape[1]), min(height, top + patch.shape[0])
    if x1 <= x0 or y1 <= y0:
        return out
    p = patch[y0 - top : y1 - top, x0 - left : x1 - left]
    a = alpha[y0 - top : y1 - top, x0 - left : x1 - left]
    out[y0:y1, x0:x1] = out[y0:y1, x0:x1] * (1 - a) + p * a
    return out


@dataclass(slots=True)
class Frames:
    noise: list[RGBImage]
    light: list[RGBImage]
    walk: list[RGBImage]
    first_detectable: int
    """Index in ``walk`` of the first frame in which the detector alone finds the face."""

    @property
    def appear(self) -> list[RGBImage]:
        """The person there from the first frame: the walk from where it stops."""
        return self.walk[WALK_FRAMES - 1 :]


def make_frames(faces: Path, sigma: float, detector: FaceDetector, light_cycle: bool) -> Frames:
    rng = np.random.default_rng(13)
    scene = empty_scene(faces)
    noise = [with_noise(scene, sigma, rng) for _ in range(NOISE_FRAMES)]
    lit = (
        [with_noise(light(scene, i / (LIGHT_FRAMES - 1)), sigma, rng) for i in range(LIGHT_FRAMES)]
        if light_cycle
        else []
    )
    patch, alpha = person_patch(faces)
    stop_left = SIZE[0] // 2 - patch.shape[1] // 2
    top = SIZE[1] // 2 - patch.shape[0] // 2
    walk: list[RGBImage] = []
    for i in range(WALK_FRAMES + STAND_FRAMES):
        progress = min(1.0, i / (WALK_FRAMES - 1))
        left = round(SIZE[0] + (stop_left - SIZE[0]) * progress)
        walk.append(with_noise(composite(scene, patch, alpha, left, top), sigma, rng))
    first = next((i for i, f in enumerate(walk) if detector.detect(f)), None)
    if first is None or first > WALK_FRAMES - 1:
        raise SystemExit("the detector does not find the person where the walk stops")
    return Frames(noise, lit, walk, first)


# -- the camera ----------------------------------------------------------------------------


@dataclass(slots=True)
class Shot:
    image: RGBImage
    entry: int | None = None  # which entry a frame with the person belongs to
    detectable: bool = False  # the entry's first detectable frame


class MemoryCamera(FrameSource):
    """Plays precomputed frames at ``fps`` on a schedule, like a real-time replay."""

    def __init__(self, shots: Sequence[Shot], fps: float = FPS) -> None:
        super().__init__()
        self._shots = shots
        self._period = 1.0 / fps
        self._start: float | None = None
        self._position = 0
        self.stamps: dict[int, float] = {}  # frame index -> capture time, for detectable shots

    @property
    def description(self) -> str:
        return f"memory ({len(self._shots)} frames)"

    @property
    def nominal_fps(self) -> float | None:
        return 1.0 / self._period

    def _open(self) -> None:
        self._start = None

    def _read(self) -> RGBImage:
        if self._position >= len(self._shots):
            raise EndOfStreamError("end of the benchmark's frames")
        now = time.monotonic()
        if self._start is None:
            self._start = now
        delay = self._start + self._position * self._period - now
        if delay > 0:
            time.sleep(delay)
        shot = self._shots[self._position]
        if shot.detectable:
            self.stamps[self._next_index] = time.monotonic()
        self._position += 1
        return shot.image

    def _close(self) -> None:
        pass


def looped(frames: Sequence[RGBImage], count: int, *, ping_pong: bool = False) -> list[Shot]:
    order = list(frames) + (list(frames[-2:0:-1]) if ping_pong else [])
    return [Shot(order[i % len(order)]) for i in range(count)]


# -- runs ----------------------------------------------------------------------------------


class StampingDetector(FaceDetector):
    """The loop's detector, noting when a call last returned a face (wall and thread CPU).

    First detection is the detector's answer, not the end of the frame's processing, which
    for a new face also holds its first descriptor (~85 ms)."""

    def __init__(self, inner: FaceDetector) -> None:
        super().__init__(inner.max_side, inner.upsample, inner.min_score)
        self._inner = inner
        self.found: tuple[float, float] | None = None  # (monotonic, thread_time)

    def _detect(self, image: RGBImage) -> list[tuple[tuple[int, int, int, int], float]]:
        hits = self._inner._detect(image)
        if hits and self.found is None:
            self.found = (time.monotonic(), time.thread_time())
        return hits

    def take(self) -> tuple[float, float] | None:
        """When a face was first returned since the last take(), if one was."""
        found, self.found = self.found, None
        return found



@dataclass(slots=True)
class Run:
    cpu: float
    loop_cpu: float = 0.0  # the loop's (main) thread alone, real-time runs
    detections: list[float] = field(default_factory=list)
    late_frames: list[int] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


def run(
    shots: Sequence[Shot],
    make_loop: Callable[[], RecognitionLoop],
    *,
    warmup_s: float,
) -> Run:
    """Drive the pipeline until the frames end; CPU counted after ``warmup_s``."""
    loop = make_loop()
    camera = MemoryCamera(shots)
    detected: dict[int, tuple[float, int]] = {}
    stop = threading.Event()
    with FrameGrabber(camera, stop_event=stop) as grabber:
        started = time.monotonic()
        cpu_from: tuple[float, float, float] | None = None
        while True:
            frame = grabber.latest(timeout=1.0)
            if frame is None:
                break
            if cpu_from is None and frame.monotonic - started >= warmup_s:
                cpu_from = (time.monotonic(), time.process_time(), time.thread_time())
            shot = shots[frame.index]
            stamps = _stamping(loop)
            stamps.take()
            loop.process(frame)
            hit = stamps.take()
            if shot.entry is not None and hit is not None and shot.entry not in detected:
                detected[shot.entry] = (hit[0], frame.index)
        end = (time.monotonic(), time.process_time(), time.thread_time())
    assert cpu_from is not None, "the run is shorter than its warm-up"
    wall = end[0] - cpu_from[0]
    result = Run(
        cpu=(end[1] - cpu_from[1]) / wall,
        loop_cpu=(end[2] - cpu_from[2]) / wall,
        stats=loop.stats(),
    )
    firsts = {
        shots[index].entry: (stamp, index)
        for index, stamp in camera.stamps.items()
        if shots[index].entry is not None
    }
    for entry, (stamp, index) in sorted(firsts.items()):
        if entry in detected:
            at, frame_index = detected[entry]
            result.detections.append(at - stamp)
            result.late_frames.append(frame_index - index)
        else:
            result.detections.append(math.inf)
            result.late_frames.append(-1)
    return result


@dataclass(frozen=True, slots=True)
class _ModelFrame:
    image: RGBImage
    index: int
    monotonic: float


def modelled(shots: Sequence[Shot], make_loop: Callable[[], RecognitionLoop]) -> Run:
    """The same frames on a clock that advances by the loop thread's own CPU time.

    On a machine other processes also load, wall-clock delays measure the load. Here the
    loop is handed, like the grabber would, the newest frame captured (frame k at k/fps) by
    the time it finished the previous one, and time moves on by the CPU time ``process()``
    took: an unloaded core. The grabber thread's share is not in it (see the real-time CPU).
    """
    loop = make_loop()
    clock = 0.0
    busy = 0.0
    last = -1
    detected: dict[int, tuple[float, int]] = {}
    while True:
        index = max(last + 1, math.floor(clock * FPS))
        if index >= len(shots):
            break
        clock = max(clock, index / FPS)
        shot = shots[index]
        stamps = _stamping(loop)
        stamps.take()
        start = time.thread_time()
        loop.process(_ModelFrame(shot.image, index, index / FPS))
        spent = time.thread_time() - start
        hit = stamps.take()
        if shot.entry is not None and hit is not None and shot.entry not in detected:
            detected[shot.entry] = (clock + hit[1] - start, index)
        clock += spent
        busy += spent
        last = index
    result = Run(cpu=busy / (len(shots) / FPS), stats=loop.stats())
    for index, shot in enumerate(shots):
        if shot.detectable and shot.entry is not None:
            if shot.entry in detected:
                at, frame_index = detected[shot.entry]
                result.detections.append(at - index / FPS)
                result.late_frames.append(frame_index - index)
            else:
                result.detections.append(math.inf)
                result.late_frames.append(-1)
    return result


def _stamping(loop: RecognitionLoop) -> StampingDetector:
    assert isinstance(loop.detector, StampingDetector)
    return loop.detector


def entries(frames: Frames, count: int, rng: np.random.Generator) -> list[Shot]:
    shots: list[Shot] = []
    noise = frames.noise
    for entry in range(count):
        gap = int(rng.uniform(1.5, 4.0) * FPS)
        shots.extend(Shot(noise[(len(shots) + i) % len(noise)]) for i in range(gap))
        # Even entries walk in, odd ones appear (detectable from their first frame).
        walk = frames.walk if entry % 2 == 0 else frames.appear
        first = frames.first_detectable if entry % 2 == 0 else 0
        for i, image in enumerate(walk):
            shots.append(Shot(image, entry, i == first))
        # Gone for longer than tracking.max_missed_s, so each entry starts untracked.
        shots.extend(Shot(noise[i % len(noise)]) for i in range(int(1.5 * FPS)))
    return shots


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    default_faces = os.environ.get("HADIR_FACES_DIR") or str(
        Path(__file__).resolve().parent.parent.parent / "shared" / "faces"
    )
    parser.add_argument("--faces", type=Path, default=Path(default_faces))
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="measured seconds per CPU run (default 10)"
    )
    parser.add_argument(
        "--entries", type=int, default=8, help="people coming in, per gate setting (default 8)"
    )
    parser.add_argument(
        "--noise", type=float, default=5.0, help="sensor noise, grey levels sigma (default 5)"
    )
    parser.add_argument("--skip-light", action="store_true", help="no slow light change run")
    parser.add_argument(
        "--realtime-entries",
        action="store_true",
        help="also time the entries on the wall clock through the threaded pipeline "
        "(meaningful only on an otherwise idle machine)",
    )
    args = parser.parse_args(argv)
    if not (args.seconds > 0 and args.entries > 0 and args.noise >= 0):
        parser.error("--seconds and --entries must be > 0, --noise >= 0")
    if not (args.faces / "scenes/dogs.jpg").is_file():
        parser.error(f"{args.faces}: no face data here (--faces or HADIR_FACES_DIR)")
    return bench(
        args.faces,
        args.seconds,
        args.entries,
        args.noise,
        light_cycle=not args.skip_light,
        realtime=args.realtime_entries,
    )


def bench(
    faces: Path,
    seconds: float,
    entry_count: int,
    sigma: float,
    *,
    light_cycle: bool = True,
    realtime: bool = False,
) -> int:
    configure_logging("warning", "console")
    # Liveness only looks at tracked faces, so it changes nothing on an empty scene; off keeps
    # the first-detection numbers about detection.
    base = RecognitionConfig(liveness=LivenessConfig(mode=LivenessMode.OFF))
    analyzer = FaceAnalyzer(base)
    detector, embedder = analyzer.detector, analyzer.embedder
    matcher = Matcher(Gallery.from_mapping({}))
    t0 = time.perf_counter()
    frames = make_frames(faces, sigma, detector, light_cycle)
    print(
        f"frames made in {time.perf_counter() - t0:.1f} s (not measured): {SIZE[0]}x{SIZE[1]},"
        f" {FPS:g} fps, noise sigma {sigma:g}; the walking face is detectable from walk frame"
        f" {frames.first_detectable} of {len(frames.walk)}"
    )
    print(f"load average before: {_load()} on {os.cpu_count()} cores")

    def loop_factory(enabled: bool) -> Callable[[], RecognitionLoop]:
        config = base.model_copy(update={"idle": IdleConfig(enabled=enabled)})
        return lambda: RecognitionLoop(
            config, matcher, detector=StampingDetector(detector), embedder=embedder
        )

    warmup = 2.0
    count = round((seconds + warmup) * FPS)
    scenarios = [("still + noise", looped(frames.noise, count))]
    if light_cycle:
        scenarios.append(("+ slow light change", looped(frames.light, count, ping_pong=True)))
    ok = True
    print(
        f"CPU in cores. real time: process time (all threads) per wall second, {seconds:g} s"
        f" after a {warmup:g} s warm-up; model: the loop thread's CPU per second of frames on"
        f" an unloaded core (the whole run)"
    )
    for name, shots in scenarios:
        off = run(shots, loop_factory(False), warmup_s=warmup)
        on = run(shots, loop_factory(True), warmup_s=warmup)
        model_off = modelled(shots, loop_factory(False))
        model_on = modelled(shots, loop_factory(True))
        passed = on.cpu <= CPU_TARGET
        ok = ok and passed
        print(
            f"  {name:20s} real time: gate off {off.cpu:5.3f}  on {on.cpu:5.3f}"
            f"  (target on <= {CPU_TARGET}) {'PASS' if passed else 'FAIL'};"
            f" gate on: loop thread {on.loop_cpu:5.3f}, capture {on.cpu - on.loop_cpu:5.3f}"
        )
        print(
            f"  {'':20s} model:     gate off {model_off.cpu:5.3f}  on {model_on.cpu:5.3f}"
            f"  off/on {_ratio(model_off.cpu, model_on.cpu)}"
        )
        print(f"  {'':20s} gate: {_gate(on.stats)}")
    shots = entries(frames, entry_count, np.random.default_rng(7))
    print(
        f"first detection, from the capture of the first frame the detector alone finds the"
        f" face in ({entry_count} entries, alternately appearing and walking in):"
    )
    trials = [
        ("model", enabled, modelled(shots, loop_factory(enabled))) for enabled in (False, True)
    ]
    if realtime:
        trials += [
            ("real time", enabled, run(shots, loop_factory(enabled), warmup_s=0.0))
            for enabled in (False, True)
        ]
    for label, enabled, result in trials:
        for kind, parity in (("appears", 1), ("walks in", 0)):
            delays = result.detections[parity::2]
            if not delays:
                continue
            worst = max(delays)
            passed = worst <= DELAY_TARGET_S
            # The verdict is the model's: on a shared machine the wall clock measures the load.
            if enabled and label == "model":
                ok = ok and passed
            print(
                f"  {label:9s} gate {'on ' if enabled else 'off'} {kind:8s}"
                f" median {statistics.median(delays):.3f} s  max {worst:.3f} s"
                f"  frames late {result.late_frames[parity::2]}"
                f"  (target max <= {DELAY_TARGET_S} s) {'PASS' if passed else 'FAIL'}"
            )
        if enabled:
            print(f"  {'':9s} gate: {_gate(result.stats)}")
    print(f"load average after: {_load()}")
    return 0 if ok else 1


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b > 0 else "inf"


def _gate(stats: dict[str, Any]) -> str:
    idle = stats.get("idle", {})
    frames = stats.get("frames", 0)
    return (
        f"{frames} frames: rest {idle.get('rest', 0)}, motion {idle.get('motion', 0)},"
        f" hold {idle.get('hold', 0)}, tracking {idle.get('tracking', 0)},"
        f" changed {idle.get('changed', 0)}, periodic {idle.get('periodic', 0)};"
        f" wakes {idle.get('wakes', 0)}, full scans {idle.get('scans', 0)}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
