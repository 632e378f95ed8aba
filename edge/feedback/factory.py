"""Build the configured feedback backend."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edge.feedback.base import Feedback
from edge.feedback.config import (
    FeedbackConfig,
    GPIOFeedbackConfig,
    LogFeedbackConfig,
    NoFeedbackConfig,
)
from edge.feedback.patterns import Pattern, Signal
from edge.feedback.simple import LogFeedback, NoFeedback


def create_feedback(
    config: FeedbackConfig,
    *,
    pin_factory: Any | None = None,
    patterns: Mapping[Signal, Pattern] | None = None,
) -> Feedback:
    """The backend for ``config.type``; gpiozero is imported only for ``gpio``."""
    if isinstance(config, GPIOFeedbackConfig):
        from edge.feedback.gpio import GPIOFeedback

        return GPIOFeedback(config, pin_factory=pin_factory, patterns=patterns)
    if isinstance(config, LogFeedbackConfig):
        return LogFeedback()
    if isinstance(config, NoFeedbackConfig):
        return NoFeedback()
    raise TypeError(f"unknown feedback config {type(config).__name__}")
