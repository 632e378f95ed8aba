#!/usr/bin/env python3
"""hadir's tracking loop against the per-frame ``face_recognition`` approach, same process.

Replays ``video/short_hamilton_clip.mp4`` as fast as possible through

(a) the baseline: ``face_recognition.face_locations`` + ``face_encodings`` +
    ``compare_faces`` on every frame (upsample 0, the faster of its settings,
    as measured in the data README), an attendance being the first frame a
    person matches;
(b) hadir: replay camera -> RecognitionLoop -> EdgeStore.record (fsync).

Prints frames/s of each and the ratio, whether both reach the same attendance
outcome, hadir's processing time from frame 82 (his first visible frame) to
the committed event, and hadir's per-stage times. Targets: >= 5x the
baseline's throughput, the same outcome, < 0.5 s from frame 82 to commit.

The baseline needs ``pip install --no-deps face_recognition`` (dlib-bin
provides dlib). Its models package imports ``pkg_resources``, gone from
current setuptools; a shim pointing at the same model files stands in, so no
setuptools pin is needed.

    .venv/bin/python scripts/bench_pipeline.py [--faces ../shared/faces] [--skip-baseline]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import cv2

from edge.capture import EndOfStreamError, ReplayCameraConfig, create_source
from edge.logs import configure_logging
from edge.recognize.analyzer import FaceAnalyzer
from edge.recognize.config import RecognitionConfig
from edge.recognize.image import read_image
from edge.recognize.loop import RecognitionLoop, Verdict
from edge.recognize.matcher import Gallery, Matcher
from edge.recognize.models import model_files
from edge.recognize.timing import StageTimings
from edge.store import EdgeStore, StoreConfig

FIRST_VISIBLE_FRAME = 82
PERSON = "lin_manuel_miranda"


def _shim_face_recognition_models() -> None:
    files = model_files()
    base = files.descriptor.parent
    shim = types.ModuleType("face_recognition_models")
    shim.pose_predictor_model_location = lambda: str(base / "shape_predictor_68_face_landmarks.dat")  # type: ignore[attr-defined]
    shim.pose_predictor_five_point_model_location = lambda: str(files.landmarks_5)  # type: ignore[attr-defined]
    shim.face_recognition_model_location = lambda: str(files.descriptor)  # type: ignore[attr-defined]
    shim.cnn_face_detector_model_location = lambda: str(files.cnn_detector)  # type: ignore[attr-defined]
    sys.modules["face_recognition_models"] = shim


def run_baseline(clip: Path, enrolment: Path) -> tuple[float, int, set[str]]:
    _shim_face_recognition_models()
    import face_recognition

    known = face_recognition.face_encodings(face_recognition.load_image_file(str(enrolment)))[0]
    cap = cv2.VideoCapture(str(clip))
    frames = 0
    recorded: set[str] = set()
    start = time.perf_counter()
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        locations = face_recognition.face_locations(rgb, number_of_times_to_upsample=0)
        for encoding in face_recognition.face_encodings(rgb, locations):
            if face_recognition.compare_faces([known], encoding)[0]:
                recorded.add(PERSON)
        frames += 1
    return time.perf_counter() - start, frames, recorded


def run_hadir(clip: Path, enrolment: Path) -> dict[str, Any]:
    config = RecognitionConfig()
    analyzer = FaceAnalyzer(config)
    gallery = Gallery.from_mapping({PERSON: analyzer.enrolment_descriptor(read_image(enrolment))})
    timings = StageTimings()
    loop = RecognitionLoop(
        config,
        Matcher(gallery),
        detector=analyzer.detector,
        embedder=analyzer.embedder,
        timings=timings,
    )
    source = create_source(ReplayCameraConfig(path=clip, pace="fast"))
    recorded: list[str] = []
    unknown = 0
    first_visible_at: float | None = None
    latency: float | None = None
    frames = 0
    with (
        tempfile.TemporaryDirectory() as tmp,
        EdgeStore.open(Path(tmp) / "edge.sqlite3", StoreConfig(), device_id="bench") as store,
        source,
    ):
        start = time.perf_counter()
        while True:
            frame_start = time.perf_counter()
            try:
                with timings.stage("decode"):
                    frame = source.read()
            except EndOfStreamError:
                break
            if frame.index == FIRST_VISIBLE_FRAME:
                first_visible_at = frame_start
            for decision in loop.process(frame):
                if decision.verdict is Verdict.UNKNOWN:
                    unknown += 1
                    continue
                assert decision.person_id is not None
                with timings.stage("store"):
                    result = store.record(
                        decision.person_id,
                        distance=decision.match.distance,
                        margin=decision.match.margin,
                    )
                if result.recorded:
                    recorded.append(decision.person_id)
                    if latency is None and first_visible_at is not None:
                        latency = time.perf_counter() - first_visible_at
            frames += 1
        elapsed = time.perf_counter() - start
    return {
        "elapsed": elapsed,
        "frames": frames,
        "recorded": recorded,
        "unknown": unknown,
        "latency": latency,
        "timings": timings.snapshot(),
        "counters": loop.counters,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    default_faces = os.environ.get("HADIR_FACES_DIR") or str(
        Path(__file__).resolve().parent.parent.parent / "shared" / "faces"
    )
    parser.add_argument("--faces", type=Path, default=Path(default_faces))
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    configure_logging("warning", "console")
    clip = args.faces / "video/short_hamilton_clip.mp4"
    enrolment = args.faces / "people/lin_manuel_miranda/lmm1.png"

    hadir = run_hadir(clip, enrolment)
    hadir_fps = hadir["frames"] / hadir["elapsed"]
    print(f"liveness check: {RecognitionConfig().liveness.mode.value} (the default)")
    print(
        f"hadir     {hadir['frames']} frames in {hadir['elapsed']:6.2f} s"
        f" = {hadir_fps:6.1f} frames/s;"
        f" recorded {hadir['recorded']}, unknown faces {hadir['unknown']}"
    )
    ok = True
    if not args.skip_baseline:
        try:
            base_s, base_frames, base_recorded = run_baseline(clip, enrolment)
        except ImportError:
            print("baseline  skipped: pip install --no-deps face_recognition")
            return 2
        base_fps = base_frames / base_s
        ratio = hadir_fps / base_fps
        same = set(hadir["recorded"]) == base_recorded and len(hadir["recorded"]) == 1
        print(
            f"baseline  {base_frames} frames in {base_s:6.2f} s = {base_fps:6.1f} frames/s;"
            f" recorded {sorted(base_recorded)}"
        )
        print(
            f"throughput hadir/baseline: {ratio:.1f}x (target >= 5x)"
            f" {'PASS' if ratio >= 5 else 'FAIL'}"
        )
        print(f"same attendance outcome: {same} {'PASS' if same else 'FAIL'}")
        ok = ok and ratio >= 5 and same
    latency = hadir["latency"]
    if latency is None:
        print("frame 82 -> commit: no event recorded  FAIL")
        ok = False
    else:
        print(
            f"frame {FIRST_VISIBLE_FRAME} -> committed event: {latency:.3f} s processing"
            f" (target < 0.5 s) {'PASS' if latency < 0.5 else 'FAIL'}"
        )
        ok = ok and latency < 0.5
    print("hadir per-stage times (count, mean ms, max ms, total s):")
    for stage, t in hadir["timings"].items():
        print(
            f"  {stage:11s} {t['count']:5d} {t['mean_ms']:9.3f} {t['max_ms']:9.3f}"
            f" {t['total_s']:8.3f}"
        )
    print(f"hadir counters: {hadir['counters']}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
