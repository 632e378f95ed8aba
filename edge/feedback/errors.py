"""Errors raised by the feedback package."""

from __future__ import annotations

from edge.errors import HadirError


class FeedbackError(HadirError, OSError):
    """The LEDs or buzzer cannot be driven (no GPIO on this machine, pin in use, bad wiring)."""
