"""scripts/bench_dlib.py: its options, and one real run through both of its worker processes.

CI has one dlib (dlib-bin), so the run compares this interpreter with itself: the two
columns, their ratio and the descriptor check are printed, and no target is judged. The
comparison of two builds is measured by hand (docs/recognition.md, "A fast dlib").
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "scripts" / "bench_dlib.py"


def bench(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--other", "/nonexistent/python"], "--other /nonexistent/python: not an executable"),
        (["--reps", "0"], "--reps and --turns must be at least 1"),
        (["--turns", "0"], "--reps and --turns must be at least 1"),
        (["--blas-threads", "0"], "--blas-threads must be at least 1"),
        (["--faces", "/nonexistent"], "--faces /nonexistent: no resolutions/ folder there"),
        (["--reps", "many"], "invalid int value: 'many'"),
    ],
)
def test_bad_arguments_stop_before_any_work(args: list[str], message: str) -> None:
    done = bench(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert not done.stdout


@pytest.mark.slow
def test_a_run_against_a_second_interpreter_prints_both_side_by_side(faces_dir: Path) -> None:
    import dlib

    done = bench(
        "--faces", str(faces_dir), "--other", sys.executable, "--reps", "1", "--turns", "1",
        timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert f"{faces_dir / 'resolutions'}/obama-{{240p,480p,720p}}.jpg" in out
    for side in ("A", "B"):
        assert re.search(rf"^  {side}: dlib(-bin)? \S+: BLAS (yes|no), ", out, re.M), out
    assert out.count(f"dlib {dlib.__version__}, OPENBLAS_NUM_THREADS=") == 2
    rows = {}
    for key in ("HOG 240p", "HOG 480p", "HOG 720p", "landmarks", "descriptor"):
        match = re.search(rf"^{key}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x$", out, re.M)
        assert match, f"{key!r} row missing:\n{out}"
        rows[key] = tuple(float(g) for g in match.groups())
    for a, b, ratio in rows.values():
        assert a > 0
        assert b > 0
        assert ratio == pytest.approx(a / b, rel=0.02, abs=0.01)  # from the rounded columns
    # The same build twice: the same face gives the same descriptor, and no target is judged.
    assert "descriptors of the same face: distance 0.00e+00" in out
    assert "targets: not judged (both builds have BLAS, or neither)" in out
