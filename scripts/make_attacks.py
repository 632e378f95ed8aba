#!/usr/bin/env python3
"""Write presentation-attack clips of the catalogue to look at, and time their rendering.

For every spec of the chosen split(s) it writes ``<out>/<split>/<spec name>.mp4`` (with
``--sheet``, also a PNG of the first, middle and last frame) and prints how long the
rendering took against the clip's own length (a ratio under 1 renders faster than real time;
these machines are noisy, so the ratio is the number to compare). ``--check`` also runs the
terminal's HOG detector (upsample 0) on every 3rd frame and prints the share with a face.

    .venv/bin/python scripts/make_attacks.py --out /tmp/attacks [--split holdout]
        [--kind phone_video] [--limit 5] [--sheet] [--check] [--faces ../shared/faces]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.capture.attacks import AttackKind, attack_catalogue, render_attack  # noqa: E402
from edge.capture.synth import _write_video  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_faces = os.environ.get("HADIR_FACES_DIR") or str(ROOT.parent / "shared" / "faces")
    parser.add_argument("--faces", type=Path, default=Path(default_faces))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--split", choices=["tune", "holdout", "both"], default="both")
    parser.add_argument("--kind", choices=[kind.value for kind in AttackKind])
    parser.add_argument("--limit", type=int, default=0, help="at most this many specs per split")
    parser.add_argument("--sheet", action="store_true", help="also write a PNG of 3 frames")
    parser.add_argument("--check", action="store_true", help="count frames HOG finds a face in")
    args = parser.parse_args()

    detector = None
    if args.check:
        from edge.recognize.config import HogDetectorConfig
        from edge.recognize.detector import HogDetector

        detector = HogDetector(HogDetectorConfig(upsample=0))
    splits = ["tune", "holdout"] if args.split == "both" else [args.split]
    ratios: list[float] = []
    for split in splits:
        specs = attack_catalogue(args.faces, split)  # type: ignore[arg-type]
        if args.kind:
            specs = [spec for spec in specs if spec.kind.value == args.kind]
        if args.limit:
            specs = specs[: args.limit]
        folder = args.out / split
        folder.mkdir(parents=True, exist_ok=True)
        for spec in specs:
            start = time.perf_counter()
            frames = list(render_attack(spec))
            seconds = time.perf_counter() - start
            ratios.append(seconds / spec.seconds)
            out = folder / f"{spec.name}.mp4"
            _write_video(iter(frames), out, spec.size, spec.fps, len(frames))
            line = f"{split:8} {spec.name:58} render/clip {seconds / spec.seconds:5.2f}"
            if detector is not None:
                sample = frames[::3]
                found = sum(1 for frame in sample if detector.detect(frame))
                line += f"  face in {found}/{len(sample)}"
            if args.sheet:
                picks = [frames[0], frames[len(frames) // 2], frames[-1]]
                sheet = np.hstack([cv2.resize(frame, (480, 270)) for frame in picks])
                sheet = cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)
                cv2.imwrite(str(folder / f"{spec.name}.png"), sheet)
            print(line, flush=True)
    if ratios:
        ordered = sorted(ratios)
        print(
            f"{len(ratios)} clips: render/clip median {ordered[len(ordered) // 2]:.2f}, "
            f"worst {ordered[-1]:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
