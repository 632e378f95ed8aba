"""Durability: a writer killed with SIGKILL at random moments loses no committed event.

A process crash cannot undo what reached the kernel, so this proves SQLite's
atomic commit and our "print only after record() returned" contract, and that
the file always reopens sound (recovery of a hot WAL, an interrupted first
migration). Power loss is what ``synchronous=FULL`` adds on top; that needs
real hardware to test.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from edge.store import EdgeStore

WRITER = Path(__file__).with_name("crash_writer.py")
KILLS = 50


class _Child:
    """The writer process, its stdout read by a thread so the pipe never fills."""

    def __init__(self, db: Path) -> None:
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(db)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[2],
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            # Only whole lines: a kill can cut the last one short.
            if raw.endswith(b"\n"):
                line = raw.decode().strip()
                if line == "ready":
                    self.ready.set()
                else:
                    self.lines.append(line)

    def printed(self, count: int, timeout: float) -> bool:
        """Wait until the writer has reported ``count`` committed events."""
        deadline = time.monotonic() + timeout
        while len(self.lines) < count:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                return False
            time.sleep(0.001)
        return True

    def kill(self) -> tuple[list[str], bytes]:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._reader.join(timeout=10)
        assert self.proc.stderr is not None
        stderr = self.proc.stderr.read()
        self.proc.stdout and self.proc.stdout.close()
        self.proc.stderr.close()
        return self.lines, stderr


@pytest.mark.slow
def test_sigkill_never_loses_a_committed_event(tmp_path: Path) -> None:
    seed = int(os.environ.get("HADIR_CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    db = tmp_path / "edge.sqlite3"
    printed: list[str] = []
    early_kills = 0

    for round_no in range(KILLS):
        child = _Child(db)
        if round_no == 0 or rng.random() < 0.15:
            # Anywhere in start-up: imports, opening, the first migration.
            time.sleep(rng.uniform(0.0, 0.5))
            early_kills += 1
        else:
            assert child.ready.wait(30), f"writer did not start (seed {seed})"
            # Counted in events, not seconds, so a loaded machine still writes enough to mean
            # something; the random pause after it lands the kill anywhere in a write.
            assert child.printed(rng.randint(1, 40), 30), f"writer stalled (seed {seed})"
            time.sleep(rng.uniform(0.0, 0.05))
        lines, stderr = child.kill()
        assert child.proc.returncode == -signal.SIGKILL, stderr.decode()
        assert all(uuid.UUID(line).version == 7 for line in lines)
        printed.extend(lines)

    print(f"seed={seed} kills={KILLS} early={early_kills} events printed={len(printed)}")
    assert len(printed) > KILLS * 10, f"too few events written to mean anything (seed {seed})"
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = {row[0] for row in conn.execute("SELECT id FROM events")}
    finally:
        conn.close()
    missing = set(printed) - stored
    assert not missing, f"{len(missing)} committed events lost (seed {seed})"
    assert len(printed) == len(set(printed))

    with EdgeStore.open(db, device_id="crash-test") as store:
        assert store.integrity_check() == ["ok"]
        assert store.backlog().count == len(stored)
        assert len(stored) >= len(printed)  # at most the last, unprinted commit of each round
        assert len(stored) - len(printed) <= KILLS
