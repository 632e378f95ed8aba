#!/usr/bin/env python3
"""dlib's own speed: HOG detection at 240p/480p/720p, landmarks and the face descriptor.

Measures the dlib this interpreter imports and, with ``--other PYTHON``, the dlib of a
second interpreter (another venv, e.g. one with the build of scripts/build-dlib.sh), on
the same frames, in one run, and prints both side by side with ratios. The two builds
take turns (``--turns``, default 3 each) and each figure is the best of its turns'
medians, so load from other processes on the machine hurts both alike.

Targets (issue 13): a BLAS build's descriptor at least 5x faster than dlib-bin's, and its
HOG no slower (within 5% timing noise). Exit 1 when two builds are compared and a target
is missed.

Frames: ``resolutions/obama-{240p,480p,720p}.jpg`` of the shared faces (``--faces``,
default $HADIR_FACES_DIR or ../shared/faces); without them, scikit-image's astronaut
portrait (the demo's packaged face) on a frame of each size. The descriptor is computed
for the face in the 480p frame; the two builds' descriptors of it are compared too.

The other interpreter needs only numpy and dlib: this file runs there as a worker
(``--worker SPEC``) that imports nothing of hadir.

    .venv/bin/python scripts/bench_dlib.py --other /tmp/fastdlib-venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

SIZES = {"240p": (427, 240), "480p": (853, 480), "720p": (1280, 720)}
DESCRIBE_AT = "480p"
DESCRIPTOR_TARGET = 5.0
HOG_NOISE = 0.05


# ------------------------------------------------------------------------------ worker
# Runs in either interpreter: standard library, numpy and dlib only.


def _median_ms(fn: Any, reps: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def worker(spec_path: str) -> int:
    import dlib
    import numpy as np

    spec = json.loads(Path(spec_path).read_text())
    reps = int(spec["reps"])
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(spec["landmarks"])
    net = dlib.face_recognition_model_v1(spec["descriptor"])
    times: dict[str, float] = {}
    faces: dict[str, int] = {}
    for name in SIZES:
        grey = np.load(Path(spec["frames"]) / f"{name}-grey.npy")
        faces[name] = len(detector(grey, 0))
        times[f"HOG {name}"] = _median_ms(lambda g=grey: detector(g, 0), reps)
    rgb = np.load(Path(spec["frames"]) / f"{DESCRIBE_AT}-rgb.npy")
    grey = np.load(Path(spec["frames"]) / f"{DESCRIBE_AT}-grey.npy")
    found = detector(grey, 0)
    if len(found) != 1:
        sys.exit(f"bench_dlib worker: {len(found)} faces in the {DESCRIBE_AT} frame, want 1")
    box = found[0]
    shape = predictor(rgb, box)
    times["landmarks"] = _median_ms(lambda: predictor(rgb, box), reps * 10)
    times["descriptor"] = _median_ms(lambda: net.compute_face_descriptor(rgb, shape), reps)
    descriptor = [float(x) for x in net.compute_face_descriptor(rgb, shape)]
    dist = "no package metadata"  # a dlib put on the path by hand
    for name in ("dlib-bin", "dlib"):
        try:
            dist = f"{name} {version(name)}"
            break
        except PackageNotFoundError:
            continue
    build = {
        "version": dlib.__version__,
        "distribution": dist,
        "blas": bool(getattr(dlib, "DLIB_USE_BLAS", False)),
        "avx": bool(getattr(dlib, "USE_AVX_INSTRUCTIONS", False)),
        "neon": bool(getattr(dlib, "USE_NEON_INSTRUCTIONS", False)),
        "python": sys.executable,
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
    }
    out = {"build": build, "times": times, "faces": faces, "descriptor": descriptor}
    print(json.dumps(out))
    return 0


# ------------------------------------------------------------------------------ driver


def _frames(faces_dir: Path | None, out: Path) -> str:
    """Write each frame as RGB and grey .npy under ``out``; returns what they show."""
    import cv2
    import numpy as np

    from edge.recognize.image import read_image

    shown = "scikit-image astronaut (packaged demo face)"
    sources: dict[str, Any] = {}
    if faces_dir is not None and all(
        (faces_dir / "resolutions" / f"obama-{n}.jpg").is_file() for n in SIZES
    ):
        for name in SIZES:
            sources[name] = read_image(faces_dir / "resolutions" / f"obama-{name}.jpg")
        shown = f"{faces_dir / 'resolutions'}/obama-{{240p,480p,720p}}.jpg"
    else:
        try:
            from skimage import data
        except ImportError:
            sys.exit(
                "bench_dlib: no shared faces (--faces, $HADIR_FACES_DIR, ../shared/faces) and no "
                "scikit-image for its sample portrait (pip install scikit-image)"
            )
        portrait = np.asarray(data.astronaut(), dtype=np.uint8)
        for name, (width, height) in SIZES.items():
            # The portrait fills the frame's height, as a person close to a terminal would.
            side = height
            face = cv2.resize(portrait, (side, side), interpolation=cv2.INTER_AREA)
            frame = np.full((height, width, 3), 128, dtype=np.uint8)
            left = (width - side) // 2
            frame[:, left : left + side] = face
            sources[name] = frame
    for name, rgb in sources.items():
        np.save(out / f"{name}-rgb.npy", np.ascontiguousarray(rgb))
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        np.save(out / f"{name}-grey.npy", np.ascontiguousarray(grey))
    return shown


def _run_worker(python: str, spec: Path, env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [python, str(Path(__file__).resolve()), "--worker", str(spec)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"bench_dlib: {python} failed:\n{result.stderr.strip()}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    best = dict(runs[0])
    best["times"] = {k: min(r["times"][k] for r in runs) for k in runs[0]["times"]}
    return best


def _label(build: dict[str, Any]) -> str:
    simd = "AVX" if build["avx"] else "NEON" if build["neon"] else "no SIMD"
    return f"{build['distribution']}: BLAS {'yes' if build['blas'] else 'no'}, {simd}"


def _default_faces() -> Path | None:
    for candidate in (
        os.environ.get("HADIR_FACES_DIR"),
        "../shared/faces",
        Path(__file__).resolve().parents[2] / "shared" / "faces",
    ):
        if candidate and (Path(candidate) / "resolutions").is_dir():
            return Path(candidate)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--other", metavar="PYTHON", help="a second interpreter to compare")
    parser.add_argument("--faces", type=Path, help="shared faces folder (default: found)")
    parser.add_argument("--reps", type=int, default=15, help="timed calls per figure per turn")
    parser.add_argument("--turns", type=int, default=3, help="runs of each interpreter")
    parser.add_argument(
        "--blas-threads",
        type=int,
        metavar="N",
        help="OPENBLAS_NUM_THREADS for both (default: OpenBLAS's own, one per core)",
    )
    parser.add_argument("--worker", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker)
    if args.reps < 1 or args.turns < 1:
        parser.error("--reps and --turns must be at least 1")
    if args.blas_threads is not None and args.blas_threads < 1:
        parser.error("--blas-threads must be at least 1")
    if args.other is not None:
        other = Path(args.other)
        if not (other.is_file() and os.access(other, os.X_OK)):
            parser.error(f"--other {args.other}: not an executable interpreter")
    faces = args.faces if args.faces is not None else _default_faces()
    if args.faces is not None and not (args.faces / "resolutions").is_dir():
        parser.error(f"--faces {args.faces}: no resolutions/ folder there")

    from edge.recognize.models import model_files

    files = model_files()
    env = dict(os.environ)
    if args.blas_threads is not None:
        env["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)
    pythons = [sys.executable] + ([args.other] if args.other else [])
    with tempfile.TemporaryDirectory(prefix="bench-dlib-") as tmp:
        shown = _frames(faces, Path(tmp))
        spec = Path(tmp) / "spec.json"
        spec.write_text(
            json.dumps(
                {
                    "frames": tmp,
                    "landmarks": str(files.landmarks_5),
                    "descriptor": str(files.descriptor),
                    "reps": args.reps,
                }
            )
        )
        runs: dict[str, list[dict[str, Any]]] = {p: [] for p in pythons}
        for _ in range(args.turns):
            for python in pythons:  # in turns: a burst of load elsewhere hits both
                runs[python].append(_run_worker(python, spec, env))
    results = [_best(runs[p]) for p in pythons]

    print(f"frames: {shown}; HOG upsample 0 on grey; descriptor of the {DESCRIBE_AT} face")
    print(f"best of {args.turns} turns, each the median of {args.reps} calls (landmarks: x10)")
    for name, r in zip(("A", "B"), results, strict=False):
        print(f"  {name}: {_label(r['build'])}  [{r['build']['python']}]")
        threads = r["build"]["blas_threads"]
        print(f"     dlib {r['build']['version']}, OPENBLAS_NUM_THREADS={threads}")
    header = f"{'':<12}{'A ms':>10}"
    if len(results) == 2:
        header += f"{'B ms':>10}{'A/B':>8}"
    print(header)
    for key in results[0]["times"]:
        row = f"{key:<12}{results[0]['times'][key]:>10.2f}"
        if len(results) == 2:
            a, b = results[0]["times"][key], results[1]["times"][key]
            row += f"{b:>10.2f}{a / b:>7.2f}x"
        print(row)
    if len(results) != 2:
        return 0

    a, b = results
    if a["faces"] != b["faces"]:
        print(f"faces found differ: A {a['faces']}, B {b['faces']}")
    distance = math.dist(a["descriptor"], b["descriptor"])
    print(f"the two builds' descriptors of the same face: distance {distance:.2e}")
    if a["build"]["blas"] == b["build"]["blas"]:
        print("targets: not judged (both builds have BLAS, or neither)")
        return 0
    fast, slow = (a, b) if a["build"]["blas"] else (b, a)
    speedup = slow["times"]["descriptor"] / fast["times"]["descriptor"]
    ok = speedup >= DESCRIPTOR_TARGET
    print(
        f"target: BLAS build's descriptor >= {DESCRIPTOR_TARGET:.0f}x faster: "
        f"{speedup:.2f}x {'met' if ok else 'NOT met'}"
    )
    for key in (k for k in fast["times"] if k.startswith("HOG")):
        ratio = slow["times"][key] / fast["times"][key]
        met = ratio >= 1 - HOG_NOISE
        ok = ok and met
        print(
            f"target: BLAS build's {key} no slower (>= {1 - HOG_NOISE:.2f}x): "
            f"{ratio:.2f}x {'met' if met else 'NOT met'}"
        )
    if distance > 1e-3:
        print("the descriptors differ by more than 1e-3: the builds do not compute the same thing")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
