"""``hadir person add`` refuses another person's face unless --force-photo (real server)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sync_server.process import ServerProcess
from tests.admin.test_admin_cli import ADMIN_TOKEN, hadir


@pytest.mark.faces
@pytest.mark.slow
def test_person_add_refuses_another_face_unless_forced(tmp_path: Path, faces_dir: Path) -> None:
    obama = faces_dir / "people/barack_obama/obama.jpg"
    obama2 = faces_dir / "people/barack_obama/obama2.jpg"
    biden = faces_dir / "people/joe_biden/biden.jpg"
    server = ServerProcess(tmp_path / "srv", f"sqlite:///{tmp_path}/srv.db", ADMIN_TOKEN)
    with server:
        env = {
            **os.environ,
            "HADIR_SERVER_URL": server.url,
            "HADIR_ADMIN_TOKEN": ADMIN_TOKEN,
            "HOME": str(tmp_path),
        }
        added = hadir(
            "person", "add", "Barack Obama", "--consent", "--photo", str(obama),
            "--photo", str(biden), "--photo", str(obama2), env=env, cwd=tmp_path,
        )  # fmt: skip
        assert added.returncode == 1, added.stderr
        assert f"{obama}: enrolled (1 template)" in added.stdout
        assert f"{obama2}: enrolled (2 templates)" in added.stdout
        assert f"{biden}: rejected (not_same_person): the face is 0." in added.stderr
        assert "over the matching threshold 0.55" in added.stderr
        assert "--force-photo" in added.stderr

        forced = hadir(
            "person", "add", "Barack Obama", "--photo", str(biden), "--force-photo",
            env=env, cwd=tmp_path,
        )  # fmt: skip
        assert forced.returncode == 0, forced.stderr
        assert f"{biden}: enrolled (3 templates)" in forced.stdout
