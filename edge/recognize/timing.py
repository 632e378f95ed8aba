"""Per-stage timing of the recognition pipeline, cheap enough to keep on in production."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(slots=True)
class StageStats:
    count: int = 0
    total_s: float = 0.0
    max_s: float = 0.0
    last_s: float = 0.0

    @property
    def mean_ms(self) -> float:
        return self.total_s * 1000 / self.count if self.count else 0.0


class StageTimings:
    """Accumulates how long each named stage takes (count, mean, max, last)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._stages: dict[str, StageStats] = {}
        self._lock = threading.Lock()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = self._clock()
        try:
            yield
        finally:
            self.add(name, self._clock() - start)

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            stats = self._stages.setdefault(name, StageStats())
            stats.count += 1
            stats.total_s += seconds
            stats.last_s = seconds
            stats.max_s = max(stats.max_s, seconds)

    def snapshot(self) -> dict[str, dict[str, float]]:
        """``{stage: {count, mean_ms, max_ms, total_s}}`` for health and benchmarks."""
        with self._lock:
            return {
                name: {
                    "count": s.count,
                    "mean_ms": round(s.mean_ms, 3),
                    "max_ms": round(s.max_s * 1000, 3),
                    "total_s": round(s.total_s, 4),
                }
                for name, s in self._stages.items()
            }
