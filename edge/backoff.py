"""Capped exponential backoff with jitter: one formula for the camera and the sync jobs.

``[capture.reconnect]`` (reopening a lost camera) and ``[sync.backoff]`` (retrying the
server) are both a :class:`BackoffConfig` with the same keys; :class:`Backoff` turns one
into waits. A leaf module: capture and sync both use it, neither imports the other.
"""

from __future__ import annotations

import math
import random as _random
from collections.abc import Callable
from typing import Self

from pydantic import Field, model_validator

from edge.config_base import StrictModel


class BackoffConfig(StrictModel):
    """Capped exponential backoff with jitter."""

    initial_delay: float = Field(
        1.0, gt=0, le=3600, description="Seconds to wait after the first failure."
    )
    max_delay: float = Field(
        60.0, gt=0, le=86_400, description="Longest wait between attempts, in seconds."
    )
    multiplier: float = Field(
        2.0, ge=1, le=10, description="Each further failure waits this much longer."
    )
    jitter: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Up to this fraction is taken off each wait at random, so terminals "
        "that failed together do not retry in lock-step.",
    )

    @model_validator(mode="after")
    def _cap_above_start(self) -> Self:
        if self.max_delay < self.initial_delay:
            raise ValueError(
                f"max_delay ({self.max_delay:g}) must not be less than "
                f"initial_delay ({self.initial_delay:g})"
            )
        return self


class Backoff:
    """Waits after consecutive failures, counted in :attr:`attempt`.

    Wait n (from 0) is ``min(max_delay, initial_delay * multiplier**n)`` minus up to
    ``jitter`` of itself at random, so it never exceeds ``max_delay`` and terminals
    that failed together do not retry in lock-step.
    """

    def __init__(
        self, config: BackoffConfig, *, random: Callable[[], float] = _random.random
    ) -> None:
        self.config = config
        self._random = random
        self.attempt = 0

    def base_delay(self, attempt: int) -> float:
        cfg = self.config
        if cfg.multiplier == 1:
            return cfg.initial_delay
        # Stop growing once past the cap: multiplier**attempt would overflow a float.
        limit = math.log(cfg.max_delay / cfg.initial_delay, cfg.multiplier) + 1
        exponent = min(float(attempt), limit)
        return float(min(cfg.max_delay, cfg.initial_delay * cfg.multiplier**exponent))

    def next_delay(self) -> float:
        """The wait after one more failure (counted)."""
        base = self.base_delay(self.attempt)
        self.attempt += 1
        return self.jittered(base)

    def longest(self) -> float:
        """The capped wait, jittered: for a failure that retrying soon cannot cure."""
        return self.jittered(self.config.max_delay)

    def jittered(self, delay: float) -> float:
        return delay * (1.0 - self.config.jitter * self._random())

    def reset(self) -> None:
        self.attempt = 0


__all__ = ["Backoff", "BackoffConfig"]
