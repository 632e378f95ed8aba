#!/usr/bin/env python3
"""What the frozen/blank check costs per frame, against work every frame gets anyway.

For each camera size it times, in this process and on the same frames:

* the baseline: ``cv2.cvtColor(frame, COLOR_BGR2RGB)``, the conversion the OpenCV and
  replay backends already do once per frame;
* ``ContentMonitor.observe``: the grey thumbnail, its spread, and the comparison with the
  previous frame's.

It prints microseconds per frame and the ratio observe / convert (these machines are noisy;
the ratio is the stable number). The check samples a fixed grid, so its cost stays flat while
the conversion grows with the frame.

    .venv/bin/python scripts/bench_content_check.py [--frames 300]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.capture.content import ContentMonitor  # noqa: E402

SIZES = [(640, 480), (1280, 720), (1920, 1080)]


def _per_frame_us(work: object, frames: list[np.ndarray], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for n, frame in enumerate(frames):
            work(frame, float(n))  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best / len(frames) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'size':>10} {'convert us':>11} {'observe us':>11} {'ratio':>7}")
    for width, height in SIZES:
        # A few distinct noisy frames cycled: the check sees changing pictures, as from a camera.
        distinct = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(4)]
        frames = [distinct[n % len(distinct)] for n in range(args.frames)]
        monitor = ContentMonitor()
        convert_us = _per_frame_us(lambda f, _t: cv2.cvtColor(f, cv2.COLOR_BGR2RGB), frames)
        observe_us = _per_frame_us(monitor.observe, frames)
        ratio = observe_us / convert_us
        print(f"{width}x{height:<5} {convert_us:11.1f} {observe_us:11.1f} {ratio:7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
