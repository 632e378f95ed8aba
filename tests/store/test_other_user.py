"""A store file this user cannot write (another owner, mode 0644): refused at open, clearly.

Root ignores file permissions, so the store is opened in a child process running as
``nobody`` (``setpriv``). SQLite opens such a file read-only without a word and even
``BEGIN IMMEDIATE`` succeeds; without a check at open the daemon would start, look
healthy, and fail every face.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.store import EdgeStore

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534

_OPEN = textwrap.dedent(
    """
    import json, sys
    from edge.logs import configure_logging
    from edge.store import EdgeStore, StoreError
    configure_logging(stream=sys.stderr)
    try:
        store = EdgeStore.open(sys.argv[1], device_id="door-1")
    except StoreError as exc:
        print(json.dumps({"error": type(exc).__name__, "message": str(exc),
                          "permission": isinstance(exc, PermissionError)}))
    else:
        print(json.dumps({"error": None, "health": store.health().state}))
        store.close()
    """
)


def as_nobody() -> list[str]:
    """Command prefix running a command as ``nobody``; skips where that is impossible."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0:
        pytest.skip("needs root to run a child as another user")
    if setpriv is None:
        pytest.skip("setpriv(1) not installed (util-linux)")
    prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    probe = subprocess.run([*prefix, sys.executable, "-c", "import edge"], cwd=REPO, timeout=60)
    if probe.returncode != 0:
        pytest.skip("nobody cannot run this checkout's Python")
    return prefix


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder nobody may create files in (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="hadir-other-user-"))
    try:
        folder.chmod(0o755)
        data = folder / "data"
        data.mkdir()
        os.chown(data, NOBODY, NOBODY)
        yield data
    finally:
        shutil.rmtree(folder)


def run_as_nobody(code: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [*as_nobody(), sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def make_root_owned_store(folder: Path) -> Path:
    path = folder / "edge.sqlite3"
    with EdgeStore.open(path, device_id="door-1") as store:
        store.record("alice", distance=0.4, margin=0.1)
    path.chmod(0o644)  # root's, readable by everyone, writable by root only
    return path


def test_a_file_of_another_owner_is_refused_at_open(shared_dir: Path) -> None:
    path = make_root_owned_store(shared_dir)
    result = run_as_nobody(_OPEN, str(path))
    assert result["error"] == "StoreReadOnlyError", result
    assert result["permission"]
    assert str(path) in result["message"]
    assert "cannot write the file" in result["message"]


def test_a_file_of_its_own_opens(shared_dir: Path) -> None:
    path = make_root_owned_store(shared_dir)
    for item in shared_dir.iterdir():
        os.chown(item, NOBODY, NOBODY)
    assert run_as_nobody(_OPEN, str(path)) == {"error": None, "health": "ok"}
