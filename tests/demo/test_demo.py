"""``hadir demo`` end to end, as a subprocess: server, terminal, replay, sync, report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _demo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
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
        timeout=300,
        check=False,
    )


@pytest.mark.faces
def test_demo_with_the_shared_faces(tmp_path: Path, faces_dir: Path) -> None:
    result = _demo("--faces", str(faces_dir), "--workdir", str(tmp_path / "run"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "demo OK: all 10 enrolled people recorded and synced" in result.stdout
    for person in ("barack_obama", "john_simm", "rose_leslie"):
        assert person in result.stdout
    # lin_manuel_miranda walks past without being enrolled: never in the table.
    assert "lin_manuel_miranda" not in result.stdout.split("read back from the server")[1]
    # Privacy: the terminal's data folder holds no images.
    edge_files = [p for p in (tmp_path / "run/edge").rglob("*") if p.is_file()]
    assert edge_files
    assert not [p for p in edge_files if p.suffix.lower() in {".jpg", ".png", ".jpeg"}]


def test_demo_without_shared_faces_uses_a_packaged_portrait(tmp_path: Path) -> None:
    pytest.importorskip("skimage", reason="scikit-image provides the fallback portrait")
    result = _demo("--builtin-sample", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "scikit-image astronaut" in result.stdout
    assert "eileen_collins" in result.stdout
    assert "demo OK: all 1 enrolled people recorded and synced" in result.stdout
