"""One hand-driven clock for every test: time is injected, never patched.

The code under test takes ``now=`` (aware UTC wall time), ``monotonic=`` and sometimes
``sleep=``, ``clock_synced=`` and a boot id; :class:`FakeClock` provides all of them and
moves only when a test says so.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

BOOT_A = "boot-a"
BOOT_B = "boot-b"
WALL_START = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


class FakeClock:
    """Wall clock (aware UTC), monotonic clock, boot id and NTP state, moved by hand.

    ``advance`` moves both clocks together, as in real life; ``jump_wall`` moves only the
    wall clock (NTP stepping it); ``reboot`` restarts the monotonic clock near zero.
    Calling the clock reads the monotonic clock, so the object itself can be passed as
    ``monotonic=``. ``sleep`` advances instead of waiting and remembers each request in
    ``sleeps``. A lock keeps a reading from another thread (a grabber's) from seeing one
    clock moved and not the other.
    """

    def __init__(
        self,
        wall: datetime | None = None,
        mono: float = 1000.0,
        *,
        synced: bool = True,
        boot_id: str = BOOT_A,
    ) -> None:
        self.wall = wall or WALL_START
        self.mono = mono
        self.synced = synced
        self.boot_id = boot_id
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.monotonic()

    def monotonic(self) -> float:
        with self._lock:
            return self.mono

    def now(self) -> datetime:
        with self._lock:
            return self.wall

    def clock_synced(self) -> bool:
        return self.synced

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.mono += seconds
            self.wall += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)

    def jump_wall(self, delta: timedelta) -> None:
        with self._lock:
            self.wall += delta

    def reboot(self, boot_id: str = BOOT_B, *, uptime_s: float = 5.0) -> None:
        """A new boot: the monotonic clock restarts near zero."""
        with self._lock:
            self.boot_id = boot_id
            self.mono = uptime_s
