"""``hadir edge doctor``'s store line: it tests the file, not only the folder, reads the
whole file (``PRAGMA integrity_check``), does not mistake an emptied file for a new one,
and stays out of a running daemon's way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from edge.config import EdgeConfig
from edge.daemon.doctor import check_store
from edge.store import EdgeStore, StoreConfig
from tests.store.test_other_user import as_nobody, make_root_owned_store
from tests.store.test_other_user import shared_dir as shared_dir

REPO = Path(__file__).resolve().parents[2]


def _config(folder: Path) -> EdgeConfig:
    return EdgeConfig.model_validate(
        {"device": {"id": "door-1"}, "data_dir": str(folder), "store": {"path": "edge.sqlite3"}}
    )


def _fill(path: Path, events: int = 300) -> None:
    with EdgeStore.open(path, StoreConfig(cooldown_s=0), device_id="door-1") as store:
        for i in range(events):
            store.record(f"p{i % 20}", distance=0.4, margin=0.1)


def test_a_sound_store(tmp_path: Path) -> None:
    _fill(tmp_path / "edge.sqlite3", 3)
    result = check_store(_config(tmp_path))
    assert result.ok, result.line()
    assert "writable, integrity ok" in result.detail
    assert "3 events waiting to sync" in result.detail


@pytest.mark.parametrize(
    ("offset", "garbage"),
    [
        (200, bytes(range(256)) * 12),
        (200, np.random.default_rng(7).bytes(3000)),
        # 64 bytes in a cell: opening and reading still work, only a full check sees it.
        (3000, np.random.default_rng(5).bytes(64)),
    ],
    ids=["pattern", "noise", "subtle"],
)
def test_a_damaged_page_fails(tmp_path: Path, offset: int, garbage: bytes) -> None:
    path = tmp_path / "edge.sqlite3"
    _fill(path)
    pages = path.stat().st_size // 4096
    assert pages > 10
    with path.open("r+b") as f:  # garbage over the middle of a page of events
        f.seek((pages // 2) * 4096 + offset)
        f.write(garbage)
    result = check_store(_config(tmp_path))
    assert not result.ok, result.line()
    # Found by the check's own read, or reported by SQLite as malformed on the way.
    assert f"{path} is damaged (" in result.detail
    assert "restore it from a backup" in result.detail


def test_an_emptied_file_fails_and_stays_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "edge.sqlite3"
    _fill(path, 3)
    path.write_bytes(b"")  # truncated: SQLite would take it for a new database
    result = check_store(_config(tmp_path))
    assert not result.ok, result.line()
    assert "is empty (0 bytes)" in result.detail
    assert path.stat().st_size == 0  # the doctor did not "repair" it into a new store


_DOCTOR = textwrap.dedent(
    """
    import json, sys
    from edge.config import EdgeConfig
    from edge.daemon.doctor import check_store
    from edge.logs import configure_logging
    configure_logging(stream=sys.stderr)
    config = EdgeConfig.model_validate(
        {"device": {"id": "door-1"}, "data_dir": sys.argv[1], "store": {"path": "edge.sqlite3"}}
    )
    result = check_store(config)
    print(json.dumps({"ok": result.ok, "detail": result.detail}))
    """
)


def test_a_file_the_daemon_user_cannot_write_fails(shared_dir: Path) -> None:
    path = make_root_owned_store(shared_dir)  # the folder is nobody's, the file root's
    done = subprocess.run(
        [*as_nobody(), sys.executable, "-c", _DOCTOR, str(shared_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ok"] is False, result
    assert "writable" not in result["detail"].replace("cannot write", "")
    assert "this user cannot write the file" in result["detail"]
    assert str(path) in result["detail"]


_HOLDER = textwrap.dedent(
    """
    import sys
    from edge.logs import configure_logging
    from edge.store import EdgeStore
    configure_logging(stream=sys.stderr)
    store = EdgeStore.open(sys.argv[1], device_id="door-1", exclusive=True)
    store.record("alice", distance=0.4, margin=0.1)
    print("holding", flush=True)
    sys.stdin.read()
    """
)


def test_a_running_daemon_is_checked_read_only(tmp_path: Path) -> None:
    path = tmp_path / "edge.sqlite3"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        wal = Path(f"{path}-wal").stat().st_mtime_ns
        result = check_store(_config(tmp_path))
        assert result.ok, result.line()
        assert f"in use by the running daemon (pid {holder.pid}), checked read-only" in (
            result.detail
        )
        assert "1 events waiting to sync" in result.detail
        assert Path(f"{path}-wal").stat().st_mtime_ns == wal  # nothing written beside it
        assert os.path.exists(path)
    finally:
        holder.kill()
        holder.wait(timeout=10)
