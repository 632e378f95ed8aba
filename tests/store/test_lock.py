"""One daemon per store: the exclusive lock, with real processes.

The holder is a child process that opens the store exclusively and waits; the second
is another child (a bare open, then ``hadir edge run``). SIGKILLing the holder must
free the store at once: a lock that outlived its process would keep a terminal down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.errors import ConfigError
from edge.store import EdgeStore, StoreLockedError, lock_holder

REPO = Path(__file__).resolve().parents[2]

_HOLDER = textwrap.dedent(
    """
    import sys
    from edge.logs import configure_logging
    from edge.store import EdgeStore
    configure_logging(stream=sys.stderr)  # stdout is for the test
    store = EdgeStore.open(sys.argv[1], device_id="door-1", exclusive=True)
    print("holding", flush=True)
    sys.stdin.read()  # until the test closes the pipe (or kills us)
    store.close()
    print("released", flush=True)
    """
)

_SECOND = textwrap.dedent(
    """
    import sys
    from edge.logs import configure_logging
    from edge.store import EdgeStore, StoreLockedError
    configure_logging(stream=sys.stderr)
    try:
        EdgeStore.open(sys.argv[1], device_id="door-1", exclusive=True).close()
    except StoreLockedError as exc:
        print(f"locked: {exc}")
    else:
        print("opened")
    """
)


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path / "edge.sqlite3")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "holding"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def _second(path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _SECOND, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_second_process_is_refused_naming_the_holder(
    holder: subprocess.Popen[str], tmp_path: Path
) -> None:
    db = tmp_path / "edge.sqlite3"
    answer = _second(db)
    assert answer.startswith("locked: "), answer
    assert f"pid {holder.pid}" in answer
    assert str(db) in answer
    assert lock_holder(db) == holder.pid
    # In this process too: the lock is per open, not per process.
    with pytest.raises(StoreLockedError):
        EdgeStore.open(db, device_id="door-1", exclusive=True)


def test_the_lock_is_released_on_close(holder: subprocess.Popen[str], tmp_path: Path) -> None:
    assert holder.stdin is not None
    assert holder.stdout is not None
    holder.stdin.close()
    assert holder.stdout.readline().strip() == "released"
    assert lock_holder(tmp_path / "edge.sqlite3") is None
    assert _second(tmp_path / "edge.sqlite3") == "opened"


def test_a_killed_holder_leaves_no_stale_lock(
    holder: subprocess.Popen[str], tmp_path: Path
) -> None:
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)
    assert lock_holder(tmp_path / "edge.sqlite3") is None
    assert _second(tmp_path / "edge.sqlite3") == "opened"


def test_readers_and_plain_opens_are_not_locked_out(
    holder: subprocess.Popen[str], tmp_path: Path
) -> None:
    # The doctor and tests open without the lock; only daemons exclude each other.
    with EdgeStore.open(tmp_path / "edge.sqlite3", device_id="door-1", read_only=True) as store:
        assert store.backlog().count == 0


def test_exclusive_needs_a_writable_file() -> None:
    with pytest.raises(ConfigError):
        EdgeStore.open(":memory:", device_id="door-1", exclusive=True)


def test_a_second_daemon_exits_with_one_line(
    holder: subprocess.Popen[str], tmp_path: Path
) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(
        f"""
data_dir = "{tmp_path}"
[device]
id = "door-1"
[store]
path = "edge.sqlite3"
[capture.camera]
type = "opencv"
device = "{tmp_path / 'no-camera'}"
[feedback]
type = "log"
"""
    )
    env = {**os.environ, "HADIR_LOG_FORMAT": "json"}
    env.pop("NOTIFY_SOCKET", None)
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", "edge", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
    )
    assert done.returncode == 2, done.stderr
    # JSON logs (as under systemd): one error record says why, nothing else is printed.
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    record = json.loads(lines[0])
    assert record["event"] == "daemon_start_failed"
    assert record["error"] == (
        f"{tmp_path / 'edge.sqlite3'} is in use by another hadir edge daemon "
        f"(pid {holder.pid}): one daemon per store; stop the other one first "
        "(systemctl stop hadir-edge)"
    ), done.stderr
    assert holder.poll() is None  # the first one carries on
