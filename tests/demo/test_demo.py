"""``hadir demo`` end to end, as a subprocess: server, terminal, replay, sync, report."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from edge.recognize.liveness import LivenessConfig, LivenessMode

pytestmark = pytest.mark.slow

SHIPPED_MODE = LivenessConfig().mode


def _demo(*args: str, cwd: Path, mode: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HADIR_RECOGNITION__")}
    if mode is not None:
        env["HADIR_RECOGNITION__LIVENESS__MODE"] = mode
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "edge.cli",
            "--log-level",
            "warning",
            "demo",
            "--pace",
            "fast",
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
        check=False,
    )


def _table(stdout: str) -> dict[str, list[str]]:
    """The final table's rows by person: [role..., first in, events, liveness...] as words."""
    rows: dict[str, list[str]] = {}
    for line in stdout.split("read back from the server:")[1].splitlines()[2:]:
        if not line.startswith("  ") or line.startswith("  flagged for review"):
            break
        words = line.split()
        rows[words[0]] = words[1:]
    return rows


def _events(row: list[str]) -> int:
    # The events count is the first plain number after the first-in column.
    return int(next(word for word in row if word.isdigit()))


@pytest.mark.faces
def test_demo_with_the_shared_faces(tmp_path: Path, faces_dir: Path) -> None:
    result = _demo("--faces", str(faces_dir), "--workdir", str(tmp_path / "run"), cwd=tmp_path)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert f"liveness check: {SHIPPED_MODE}" in out
    assert "all 3 enrolled people who walked up were recorded and synced" in out
    assert "the stranger (expressions_hand_over_face) was not recorded" in out
    assert "a photo of barack_obama is shown to the camera (printed on paper" in out
    rows = _table(out)
    for person in ("talking_head_1", "talking_head_2", "webcam_single_face"):
        assert _events(rows[person]) == 1, rows[person]
        assert "needs review" not in " ".join(rows[person])
    assert _events(rows["expressions_hand_over_face"]) == 0
    attack = " ".join(rows["barack_obama"])
    if SHIPPED_MODE is LivenessMode.FLAG:
        assert "the held-up photo of barack_obama was recorded and flagged for review" in out
        assert _events(rows["barack_obama"]) == 1
        assert "needs review" in attack
    else:
        assert "the held-up photo of barack_obama was refused" in out
        assert _events(rows["barack_obama"]) == 0
    # Enrolled from a photo of their own clip, taken by the demo; the terminal keeps no image.
    assert (tmp_path / "run/enrolment/talking_head_1.png").is_file()
    edge_files = [p for p in (tmp_path / "run/edge").rglob("*") if p.is_file()]
    assert edge_files
    assert not [p for p in edge_files if p.suffix.lower() in {".jpg", ".png", ".jpeg"}]


def test_demo_without_shared_faces_shows_the_portrait_as_a_held_up_photo(
    tmp_path: Path,
) -> None:
    pytest.importorskip("skimage", reason="scikit-image provides the fallback portrait")
    result = _demo("--builtin-sample", cwd=tmp_path, mode="flag")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "scikit-image astronaut" in out
    assert "a photo of eileen_collins is shown to the camera (printed on paper, propped up" in out
    assert out.splitlines()[-1] == (
        "demo OK: the held-up photo of eileen_collins was recorded and flagged for review"
    )
    # A still photo is all it has: it claims no live walk-up and no stranger.
    assert "stranger" not in out
    assert "walks up" not in out
    assert "needs review" in " ".join(_table(out)["eileen_collins"])


def test_demo_in_refuse_mode_records_nothing_for_the_photo(tmp_path: Path) -> None:
    pytest.importorskip("skimage", reason="scikit-image provides the fallback portrait")
    result = _demo("--builtin-sample", cwd=tmp_path, mode="refuse")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "liveness check: refuse" in out
    assert out.splitlines()[-1] == "demo OK: the held-up photo of eileen_collins was refused"
    assert re.search(r"refused at the terminal: [1-9]", out), out
    assert _events(_table(out)["eileen_collins"]) == 0
