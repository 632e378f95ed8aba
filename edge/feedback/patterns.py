"""What each signal looks and sounds like.

A pattern is a list of steps; each step sets every output (green, red, buzzer) for
a time, so a pattern that pre-empts another never inherits its half-finished state.
Durations are in seconds and are multiplied by the backend's ``time_scale``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Signal(StrEnum):
    """What the terminal tells the person in front of it."""

    ACCEPTED = "accepted"
    """Attendance recorded (committed durably before the signal)."""
    ALREADY_RECORDED = "already_recorded"
    """Recognised, but recorded within the cooldown: nothing new was stored."""
    UNKNOWN = "unknown"
    """A face that matches nobody enrolled."""
    ERROR = "error"
    """The terminal cannot record attendance now (store or camera failure)."""
    REFUSED = "refused"
    """Recognised, but the liveness check took the face for a photo or a screen: not recorded."""


@dataclass(frozen=True, slots=True)
class Step:
    """Outputs held for ``seconds``."""

    seconds: float
    green: bool = False
    red: bool = False
    buzzer: bool = False

    def __post_init__(self) -> None:
        if not self.seconds >= 0:
            raise ValueError(f"step duration must be >= 0 (got {self.seconds})")


Pattern = tuple[Step, ...]

OFF = Step(0.0)

_SHORT_BEEP = 0.12
_ERROR_BLINK = (Step(0.12, red=True, buzzer=True), Step(0.18))

DEFAULT_PATTERNS: Mapping[Signal, Pattern] = MappingProxyType(
    {
        # Green for a moment with one short beep: "recorded".
        Signal.ACCEPTED: (
            Step(_SHORT_BEEP, green=True, buzzer=True),
            Step(1.5 - _SHORT_BEEP, green=True),
        ),
        # Green with two short beeps: "already recorded just now".
        Signal.ALREADY_RECORDED: (
            Step(0.08, green=True, buzzer=True),
            Step(0.08, green=True),
            Step(0.08, green=True, buzzer=True),
            Step(1.26, green=True),
        ),
        # Red with one long beep: "not recognised".
        Signal.UNKNOWN: (
            Step(0.7, red=True, buzzer=True),
            Step(0.8, red=True),
        ),
        # Red blinking with three beeps, then more blinking: "something is broken".
        Signal.ERROR: _ERROR_BLINK * 3 + (Step(0.15, red=True), Step(0.15)) * 3,
        # Red held steady with two long beeps: "refused". Steady red with two beeps is neither
        # the one long beep of "not recognised" nor the blinking of "broken", so the person,
        # and whoever stands nearby, can tell that a face was seen and deliberately turned down.
        Signal.REFUSED: (
            Step(0.3, red=True, buzzer=True),
            Step(0.15, red=True),
            Step(0.3, red=True, buzzer=True),
            Step(0.45, red=True),
        ),
    }
)


def pattern_duration(pattern: Pattern) -> float:
    return sum(step.seconds for step in pattern)
