"""The terminal's clocks in one place, and their defaults on a Linux terminal.

Capture, store and sync never call ``time`` or ``datetime.now`` directly: every
clock is injected (``now``, ``monotonic``, ``boot_id``, ``clock_synced``) with a
default from here, so tests drive time by hand and never patch it. ``uuid7`` is
here because its time part is the event's wall time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")

# adjtimex(2) returns the clock state; TIME_ERROR means STA_UNSYNC (or
# STA_CLOCKERR) is set, which is what timedatectl's NTPSynchronized reads too.
_TIME_ERROR = 5
# Bigger than struct timex on every ABI (208 bytes on 64-bit Linux); only
# ``modes`` (first field, 0 = read only) matters on input.
_TIMEX_SIZE = 512

_process_boot_id = f"process-{uuid.uuid4()}"


def utc_now() -> datetime:
    """The wall clock, aware, in UTC."""
    return datetime.now(UTC)


def read_boot_id(path: Path = BOOT_ID_PATH) -> str:
    """The kernel's id of the current boot.

    Where there is none (not Linux), an id made once per process: the cooldown
    then treats a daemon restart like a reboot, which is the safe direction.
    """
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        text = ""
    return text or _process_boot_id


def kernel_clock_synced() -> bool:
    """Whether the kernel considers the wall clock synchronised (NTP/PTP/chrony).

    Asks adjtimex(2) in read-only mode: no privileges, no D-Bus, under a
    microsecond. Any failure answers False, the safe side.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        adjtimex = libc.adjtimex
    except (OSError, AttributeError):
        return False
    buffer = ctypes.create_string_buffer(_TIMEX_SIZE)
    try:
        state = int(adjtimex(buffer))
    except OSError:
        return False
    return state >= 0 and state != _TIME_ERROR


class ClockSyncStatus:
    """A cheap ``clock_synced()`` callable: asks ``probe`` at most every ``ttl_s`` seconds."""

    def __init__(
        self,
        probe: Callable[[], bool] = kernel_clock_synced,
        *,
        ttl_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe = probe
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cached: tuple[float, bool] | None = None

    def __call__(self) -> bool:
        now = self._monotonic()
        cached = self._cached
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        with self._lock:
            try:
                value = bool(self._probe())
            except Exception:
                # A broken probe must not stop an event being recorded.
                value = False
            self._cached = (now, value)
        return value

    def __repr__(self) -> str:
        return f"<ClockSyncStatus ttl_s={self._ttl_s} cached={self._cached!r}>"


def uuid7(at: datetime | None = None) -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then 74 random bits.

    The time part comes from ``at`` (the event's wall time) so ids sort roughly
    by recording time; uniqueness rests on the random bits, so an unsynchronised
    clock (even before 1970, clamped to 0) is harmless.
    """
    ms = int(at.timestamp() * 1000) if at is not None else time.time_ns() // 1_000_000
    ms = min(max(ms, 0), (1 << 48) - 1)
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a = (rand >> 62) & 0xFFF
    rand_b = rand & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return uuid.UUID(int=value)
