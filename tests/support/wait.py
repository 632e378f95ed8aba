"""Waiting for another thread or process, on the real clock."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    predicate: Callable[[], bool], timeout: float = 20.0, interval: float = 0.02
) -> bool:
    """Poll until ``predicate()`` is true and return True; fail the test after ``timeout``.

    The timeout only catches hangs: nothing is asserted about how long it took. Pass a
    shorter ``interval`` when the test must catch a moment that soon passes (a drain
    half-way); the default spares a machine where the predicate reads a server.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached in {timeout} s")
        time.sleep(interval)
    return True
