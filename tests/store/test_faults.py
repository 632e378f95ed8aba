"""A full disk and a read-only database, for real: clear errors, nothing half-written,
the process carries on.

Full disk two ways, each in a child process so the limits cannot leak into the
test run: ``RLIMIT_FSIZE`` (always available; the kernel refuses to grow the
file with EFBIG) and a tiny tmpfs in a private mount namespace (true ENOSPC;
skipped where ``unshare`` cannot mount). Read-only: a store opened read-only,
a tmpfs remounted read-only, and file permissions (not as root, who ignores them).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from edge.store import (
    EdgeStore,
    EnrolmentPageError,
    StoreFullError,
    StoreIOError,
    StoreReadOnlyError,
)
from tests.store.conftest import OpenStore, page, upsert
from tests.store.test_migrations import make_v1_file

WORKER = Path(__file__).with_name("fault_worker.py")
REPO = Path(__file__).resolve().parents[2]


def _worker(*args: str) -> list[str]:
    return [sys.executable, str(WORKER), *args]


def _report(stdout: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="session")
def namespace(tmp_path_factory: pytest.TempPathFactory) -> Sequence[str]:
    """Command prefix running a shell in a private mount namespace, where tmpfs can be mounted."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare(1) not installed")
    if os.geteuid() == 0:
        prefix = [unshare, "--mount", "--propagation", "private"]
    else:
        prefix = [unshare, "--user", "--map-root-user", "--mount", "--propagation", "private"]
    probe_dir = tmp_path_factory.mktemp("probe")
    probe = subprocess.run(
        [*prefix, "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {shlex.quote(str(probe_dir))}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a private namespace here: {probe.stderr.strip()}")
    return prefix


def _in_tmpfs(namespace: Sequence[str], mount: Path, size: str, *commands: list[str]) -> str:
    script = " && ".join(
        [f"mount -t tmpfs -o size={size} tmpfs {shlex.quote(str(mount))}"]
        + [shlex.join(command) for command in commands]
    )
    done = subprocess.run(
        [*namespace, "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _assert_full_disk_handled(report: dict[str, Any]) -> None:
    assert report["record_error"] == "StoreFullError", report
    assert report["record_error_is_oserror"]
    assert "no space left" in report["record_error_message"]
    # Every event that record() confirmed is there, and nothing else: no half event.
    assert report["events_in_db"] == report["recorded_before_full"] > 20
    # A page that does not fit is not half-applied.
    assert report["page_error"] == "StoreFullError"
    assert (report["version_after_failed_page"], report["people_after_failed_page"]) == (2, 2)
    assert report["integrity"] == ["ok"]
    # The store says it cannot save (STATUS, heartbeat and exit code read this).
    full = report["health_when_full"]
    assert full["state"] == "error", full
    assert full["errors"] == full["consecutive_errors"] == 1
    assert full["last_error"].startswith("StoreFullError: record an event")
    # The page that did not fit counted too; the reads in between did not.
    assert report["health_before_recovery"]["consecutive_errors"] == 2
    # Space back: the same process records and applies pages again.
    assert report["after_recovery"] == "recorded"
    assert report["version_after_recovery"] == 22
    assert report["events_after_recovery"] == report["events_in_db"] + 1
    assert report["integrity_after_recovery"] == ["ok"]
    recovered = report["health_after_recovery"]
    assert recovered["state"] == "ok", recovered
    assert (recovered["errors"], recovered["consecutive_errors"]) == (2, 0)
    assert recovered["last_error"] == report["health_before_recovery"]["last_error"]


def test_file_size_limit_is_a_clear_full_error(tmp_path: Path) -> None:
    done = subprocess.run(
        _worker("fill", str(tmp_path / "edge.sqlite3"), "fsize"),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    _assert_full_disk_handled(_report(done.stdout))
    conn = sqlite3.connect(tmp_path / "edge.sqlite3")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_full_tmpfs_is_a_clear_full_error(namespace: Sequence[str], tmp_path: Path) -> None:
    mount = tmp_path / "mnt"
    mount.mkdir()
    out = _in_tmpfs(namespace, mount, "2m", _worker("fill", str(mount / "edge.sqlite3"), "ballast"))
    report = _report(out)
    _assert_full_disk_handled(report)
    assert "SQLITE_FULL" in report["record_error_message"]


def test_probe_write_fails_while_nothing_can_be_written_and_sees_the_recovery(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        _worker("probe", str(tmp_path / "edge.sqlite3")),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    report = _report(done.stdout)
    assert report["health_before"]["state"] == "ok"
    assert report["errors"] == ["StoreFullError", "StoreFullError"]
    failing = report["health_failing"]
    assert (failing["state"], failing["errors"], failing["consecutive_errors"]) == ("error", 2, 2)
    assert failing["last_error"].startswith("StoreFullError: record an event")
    after = report["health_after_probe"]
    assert (after["state"], after["errors"], after["consecutive_errors"]) == ("ok", 2, 0)
    assert report["probe_cursor"]
    assert report["events"] == 1  # the probe wrote no event


def test_read_only_mount_refuses_to_open_a_closed_store(
    namespace: Sequence[str], tmp_path: Path
) -> None:
    mount = tmp_path / "mnt"
    mount.mkdir()
    db = str(mount / "edge.sqlite3")
    out = _in_tmpfs(
        namespace,
        mount,
        "4m",
        _worker("make", db, "close"),
        ["mount", "-o", "remount,ro", str(mount)],
        _worker("readonly", db),
    )
    report = _report(out)
    assert report["open_error"] == "StoreReadOnlyError", report
    assert report["is_permission_error"]
    assert "read-only file system" in report["open_error_message"]


def test_read_only_mount_after_a_crash_refuses_writing_but_reads(
    namespace: Sequence[str], tmp_path: Path
) -> None:
    mount = tmp_path / "mnt"
    mount.mkdir()
    db = str(mount / "edge.sqlite3")
    out = _in_tmpfs(
        namespace,
        mount,
        "4m",
        _worker("make", db, "crash"),
        ["mount", "-o", "remount,ro", str(mount)],
        _worker("readonly", db),
    )
    report = _report(out)
    # Refused at open, as docs/store.md promises: not found out at the first face.
    assert report["open_error"] == "StoreReadOnlyError", report
    assert report["is_permission_error"]
    assert "read-only" in report["open_error_message"]
    # Opened read-only, the three events of before the crash are all there.
    assert report["pending_read_only"] == 3, report


def test_store_opened_read_only(open_store: OpenStore, tmp_path: Path) -> None:
    path = tmp_path / "edge.sqlite3"
    writer = open_store(path)
    writer.record("alice", distance=0.4, margin=0.1)
    writer.apply_enrolment(page(0, upsert(1, "alice")))

    reader = EdgeStore.open(path, device_id="gate-1", read_only=True)
    try:
        assert "read-only" in repr(reader)
        assert len(reader.pending()) == 1
        assert reader.people() == {"alice": "Alice"}
        assert len(reader.load_gallery()) == 1
        with pytest.raises(StoreReadOnlyError) as info:
            reader.record("bob", distance=0.4, margin=0.1)
        assert isinstance(info.value, PermissionError)
        with pytest.raises(StoreReadOnlyError):
            reader.mark_synced([e.id for e in reader.pending()])
        with pytest.raises(StoreReadOnlyError):
            reader.apply_enrolment(page(1, upsert(2, "bob")))
    finally:
        reader.close()
    assert writer.backlog().count == 1
    assert writer.record("bob", distance=0.4, margin=0.1).recorded


def test_read_only_cannot_upgrade_an_old_file(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    make_v1_file(path)
    with pytest.raises(StoreReadOnlyError, match="needs an upgrade"):
        EdgeStore.open(path, device_id="gate-1", read_only=True)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_permissions(open_store: OpenStore, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    path = folder / "edge.sqlite3"
    open_store(path).close()
    path.chmod(0o444)
    folder.chmod(0o555)
    try:
        try:
            store = open_store(path)
        except StoreReadOnlyError:
            return  # refused already at open (no WAL index can be made): clear enough
        with pytest.raises(StoreReadOnlyError):
            store.record("alice", distance=0.4, margin=0.1)
    finally:
        folder.chmod(0o755)
        path.chmod(0o644)


def test_a_data_dir_that_cannot_be_made(open_store: OpenStore, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(StoreIOError):
        open_store(blocker / "edge.sqlite3")


def test_errors_do_not_leave_a_transaction_open(open_store: OpenStore, tmp_path: Path) -> None:
    store = open_store(tmp_path / "edge.sqlite3")
    with pytest.raises(EnrolmentPageError):
        store.apply_enrolment(page(5, upsert(6, "alice")))
    assert store.record("alice", distance=0.4, margin=0.1).recorded
    assert store.enrolment_version() == 0


def test_full_error_is_an_os_error_and_a_store_error() -> None:
    error = StoreFullError("x")
    assert isinstance(error, OSError)
    assert isinstance(error, StoreIOError)


def test_an_emptied_file_is_not_taken_for_new_in_silence(
    open_store: OpenStore, tmp_path: Path
) -> None:
    path = tmp_path / "edge.sqlite3"
    store = open_store(path)
    store.record("alice", distance=0.4, margin=0.1)
    store.close()
    path.write_bytes(b"")  # truncated (a failed copy, a filesystem repair)
    with capture_logs() as logs:
        reopened = open_store(path)
    # SQLite makes a new store in it; the daemon runs on, and the loss is said, once.
    assert reopened.backlog().count == 0
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["store_file_was_empty"]
    reopened.close()
    with capture_logs() as logs:
        open_store(path).close()
    assert [e for e in logs if e["event"] == "store_file_was_empty"] == []
