"""Feedback to the person at the terminal: LEDs and a buzzer (gpiozero), or a log line.

``signal(outcome)`` never blocks the recognition loop; patterns play on a worker
thread and a newer outcome pre-empts the one playing. Importing this package does
not import gpiozero.
"""

from edge.feedback.base import Feedback, PatternFeedback, PatternPlayer
from edge.feedback.config import (
    FeedbackConfig,
    GPIOFeedbackConfig,
    LogFeedbackConfig,
    NoFeedbackConfig,
)
from edge.feedback.errors import FeedbackError
from edge.feedback.factory import create_feedback
from edge.feedback.patterns import DEFAULT_PATTERNS, OFF, Pattern, Signal, Step
from edge.feedback.simple import LogFeedback, NoFeedback

__all__ = [
    "DEFAULT_PATTERNS",
    "OFF",
    "Feedback",
    "FeedbackConfig",
    "FeedbackError",
    "GPIOFeedbackConfig",
    "LogFeedback",
    "LogFeedbackConfig",
    "NoFeedback",
    "NoFeedbackConfig",
    "Pattern",
    "PatternFeedback",
    "PatternPlayer",
    "Signal",
    "Step",
    "create_feedback",
]
