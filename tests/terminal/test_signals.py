"""Signals to a real daemon process: SIGHUP, SIGQUIT, SIGUSR1, and SIGTERM during start-up.

Every stop must end within the unit's TimeoutStopSec (after that systemd sends SIGKILL), so the
waits below use that number read from systemd/hadir-edge.service, not a figure of their own.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.daemon.signals import EXIT_RESTART
from tests.daemon.test_units import EDGE, one, parse_unit

from .test_process import NotifyListener

pytestmark = pytest.mark.slow

TIMEOUT_STOP_S = float(
    one(parse_unit(EDGE.read_text(encoding="utf-8")), "Service", "TimeoutStopSec")
)


class SilentServer:
    """Accepts TCP connections and never answers: a server hung behind its listen queue."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted = threading.Event()
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self._held.append(conn)
            self.accepted.set()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self._held:
            conn.close()
        self.sock.close()


class Daemon:
    """``hadir edge run`` as a child process, its output collected line by line."""

    def __init__(
        self, tmp_path: Path, config_body: str, camera: str | None = None, **env: str
    ) -> None:
        if camera is None:
            frames = tmp_path / "frames"
            frames.mkdir()
            rng = np.random.default_rng(0)
            for n in range(4):
                noise = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
                cv2.imwrite(str(frames / f"frame_{n:06d}.png"), noise)
            camera = f'type = "replay"\npath = "{frames}"\nloop = true\nfps = 10\n'
        config = tmp_path / "edge.toml"
        config.write_text(
            f'data_dir = "{tmp_path / "data"}"\n'
            '[device]\nid = "door-1"\n'
            f"[capture.camera]\n{camera}"
            '[daemon]\ncapture_stop_timeout_s = 1.0\n'
            "[feedback]\ntype = \"log\"\n" + config_body
        )
        self.notify = NotifyListener(tmp_path / "notify.sock")
        full_env = {
            **os.environ,
            "NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
            "HADIR_LOG_FORMAT": "json",
            **env,
        }
        for name in ("WATCHDOG_USEC", "WATCHDOG_PID", "CREDENTIALS_DIRECTORY"):
            full_env.pop(name, None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "edge", "run", "--config", str(config)],
            env=full_env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not in the output: {self.output[-3000:]}")

    def stop_with(self, sig: signal.Signals) -> int:
        """Send ``sig`` and wait as long as systemd would before SIGKILL; the exit code."""
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=TIMEOUT_STOP_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{sig.name}: still running after TimeoutStopSec={TIMEOUT_STOP_S:g}")
        self._reader.join(5)
        return code

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.notify.close()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[list[Daemon]]:
    made: list[Daemon] = []
    yield made
    for daemon in made:
        daemon.close()


def _ready(daemon: Daemon) -> None:
    daemon.notify.wait_for("READY=1", timeout=60)


def test_sigusr1_logs_status_then_sighup_stops_cleanly_for_a_restart(
    tmp_path: Path, spawn: list[Daemon]
) -> None:
    daemon = Daemon(tmp_path, "")
    spawn.append(daemon)
    _ready(daemon)
    daemon.proc.send_signal(signal.SIGUSR1)
    status = daemon.wait_for_line('"event": "daemon_status"', timeout=10)
    assert '"device_id": "door-1"' in status
    assert daemon.proc.poll() is None, "SIGUSR1 must not stop the daemon"

    code = daemon.stop_with(signal.SIGHUP)
    assert code == EXIT_RESTART, daemon.output  # non-zero: Restart=on-failure restarts it
    assert "STOPPING=1" in [m for _, m in daemon.notify.messages]
    stopped = daemon.wait_for_line('"event": "daemon_stopped"', timeout=1)
    assert '"signal": "SIGHUP"' in stopped
    assert '"event": "capture_stopped"' in daemon.output
    assert "Traceback" not in daemon.output


def test_sigquit_is_a_clean_stop(tmp_path: Path, spawn: list[Daemon]) -> None:
    daemon = Daemon(tmp_path, "")
    spawn.append(daemon)
    _ready(daemon)
    assert daemon.stop_with(signal.SIGQUIT) == 0, daemon.output
    assert "STOPPING=1" in [m for _, m in daemon.notify.messages]
    assert '"signal": "SIGQUIT"' in daemon.wait_for_line('"event": "daemon_stopped"', timeout=1)
    assert "Traceback" not in daemon.output


def test_sigterm_during_the_first_pull_from_a_silent_server(
    tmp_path: Path, spawn: list[Daemon]
) -> None:
    server = SilentServer()
    try:
        # The request timeout is far beyond TimeoutStopSec: waiting it out is the bug.
        daemon = Daemon(
            tmp_path,
            f'[sync]\nserver_url = "http://127.0.0.1:{server.port}"\ntimeout_s = 120\n',
            HADIR_SYNC__TOKEN="tok-door-1",
        )
        spawn.append(daemon)
        assert server.accepted.wait(60), f"the first pull never connected: {daemon.output}"
        code = daemon.stop_with(signal.SIGTERM)
    finally:
        server.close()
    assert code == 0, daemon.output
    assert "Traceback" not in daemon.output
    assert '"event": "first_pull_abandoned"' in daemon.output
    messages = [m for _, m in daemon.notify.messages]
    assert "READY=1" not in messages, "it must not report ready while stopping"
    assert "STOPPING=1" in messages


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_during_start_up_ends_it_between_steps(
    tmp_path: Path, spawn: list[Daemon], sig: signal.Signals
) -> None:
    """The signal lands while the models load (the longest step before READY)."""
    daemon = Daemon(tmp_path, "")
    spawn.append(daemon)
    # The handlers are in place before the store is created; the models load after it.
    store = tmp_path / "data" / "hadir-edge.sqlite3"
    deadline = time.monotonic() + 60
    while not store.exists() and daemon.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.exists(), daemon.output
    code = daemon.stop_with(sig)
    assert code == (EXIT_RESTART if sig is signal.SIGHUP else 0), daemon.output
    assert "Traceback" not in daemon.output
    assert "READY=1" not in [m for _, m in daemon.notify.messages]


def test_sigterm_while_the_camera_open_hangs(tmp_path: Path, spawn: list[Daemon]) -> None:
    """A FIFO with no writer: OpenCV's open blocks in the kernel, like a driver that hangs."""
    fifo = tmp_path / "camera.y4m"
    os.mkfifo(fifo)
    daemon = Daemon(tmp_path, "", camera=f'type = "opencv"\ndevice = "{fifo}"\n')
    spawn.append(daemon)
    _ready(daemon)  # READY does not wait for the first frame: the camera opens on its thread
    assert '"event": "capture_state"' not in daemon.output, "the open was expected to hang"
    code = daemon.stop_with(signal.SIGTERM)
    assert code == 0, daemon.output
    assert '"event": "capture_stop_timeout"' in daemon.output
    assert "Traceback" not in daemon.output
