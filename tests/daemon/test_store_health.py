"""A daemon whose store cannot save says so: STATUS, a non-zero exit, a recovery seen.

The store is a real file; its writes fail for real because another connection holds
SQLite's write lock longer than ``busy_timeout_s`` (the daemon gets StoreBusyError, as
with a stuck writer). A recognised face goes through the daemon's own path
(``_act``), STATUS arrives on a real datagram socket standing in for systemd's.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.capture import ReplayCameraConfig, create_source
from edge.config import EdgeConfig
from edge.daemon.notify import SystemdNotifier
from edge.daemon.runner import EXIT_OK, EXIT_STORE_FAILED, EdgeDaemon
from edge.feedback import create_feedback
from edge.recognize.loop import Decision, Verdict
from edge.recognize.matcher import Match
from edge.store import EdgeStore
from tests.terminal.test_process import NotifyListener


@dataclass
class Running:
    daemon: EdgeDaemon
    store: EdgeStore
    status: NotifyListener
    code: list[int]
    thread: threading.Thread

    def stop(self) -> int:
        self.daemon.stop_event.set()
        self.thread.join(30)
        assert not self.thread.is_alive()
        return self.code[0]


Start = Callable[[float], Running]


def _accepted(person: str) -> Decision:
    match = Match(person_id=person, distance=0.4, runner_up_id=None, runner_up_distance=1.0)
    return Decision(
        verdict=Verdict.ACCEPTED,
        track_id=1,
        person_id=person,
        match=match,
        frame_index=1,
        monotonic=1.0,
        looks=2,
    )


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    started: list[Running] = []

    def _start(exit_after_failing_s: float) -> Running:
        frames = tmp_path / "frames"
        frames.mkdir()
        rng = np.random.default_rng(0)
        for i in range(3):
            noise = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
            cv2.imwrite(str(frames / f"frame_{i:06d}.png"), noise)
        config = EdgeConfig.model_validate(
            {
                "device": {"id": "door-1"},
                "data_dir": str(tmp_path),
                "store": {"busy_timeout_s": 0.05, "exit_after_failing_s": exit_after_failing_s},
                "feedback": {"type": "log"},
            }
        )
        store = EdgeStore.open(tmp_path / "edge.sqlite3", config.store, device_id="door-1")
        listener = NotifyListener(tmp_path / "notify.sock")
        daemon = EdgeDaemon(
            config,
            store=store,
            source=create_source(ReplayCameraConfig(path=frames, pace="realtime", loop=True)),
            feedback=create_feedback(config.feedback),
            notifier=SystemdNotifier(str(tmp_path / "notify.sock")),
        )
        daemon.store_probe_every_s = 0.3
        code: list[int] = []
        thread = threading.Thread(target=lambda: code.append(daemon.run()), daemon=True)
        thread.start()
        running = Running(daemon, store, listener, code, thread)
        started.append(running)
        return running

    yield _start
    for running in started:
        running.daemon.stop_event.set()
        running.thread.join(30)
        running.status.close()


def _lock_the_file(path: Path) -> sqlite3.Connection:
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    return blocker


def test_status_says_failing_and_the_daemon_exits_4_when_it_stays_so(
    start: Start, tmp_path: Path
) -> None:
    running = start(1.0)
    running.status.next_status("store=ok store_errors=0")
    blocker = _lock_the_file(tmp_path / "edge.sqlite3")
    try:
        running.daemon._act(_accepted("alice"))
        line = running.status.next_status("store=FAILING")
        assert "store_errors=1 last_error=StoreBusyError: record an event" in line
        running.thread.join(30)  # no stop asked: it stops by itself
        assert running.code == [EXIT_STORE_FAILED]
    finally:
        blocker.close()
    assert running.daemon.counters.store_errors == 1
    # It kept trying to write while failing (probe writes), and they failed too.
    assert running.store.health().errors >= 2


def test_a_stop_while_unable_to_save_exits_4(start: Start, tmp_path: Path) -> None:
    running = start(0)  # exit_after_failing_s = 0: never exits on its own
    running.status.next_status("store=ok")
    blocker = _lock_the_file(tmp_path / "edge.sqlite3")
    try:
        running.daemon._act(_accepted("alice"))
        running.status.next_status("store=FAILING")
        assert running.stop() == EXIT_STORE_FAILED
    finally:
        blocker.close()


def test_the_probe_sees_the_store_recover(start: Start, tmp_path: Path) -> None:
    running = start(0)
    running.status.next_status("store=ok")
    blocker = _lock_the_file(tmp_path / "edge.sqlite3")
    try:
        running.daemon._act(_accepted("alice"))
        running.status.next_status("store=FAILING")
    finally:
        blocker.close()
    # Nobody walks past: the daemon's own small write finds the store saving again.
    line = running.status.next_status("store=ok store_errors=")
    assert "store=ok store_errors=0" not in line
    assert running.stop() == EXIT_OK
    health = running.store.health()
    assert health.ok
    assert health.last_error is not None
    assert health.last_error.startswith("StoreBusyError")
