"""Backends without hardware: log-only and none."""

from __future__ import annotations

import structlog

from edge.feedback.base import Feedback
from edge.feedback.patterns import Signal

log = structlog.get_logger(__name__)


class LogFeedback(Feedback):
    """One log line per outcome, for machines without GPIO."""

    def _signal(self, outcome: Signal) -> None:
        log.info("feedback", outcome=str(outcome))


class NoFeedback(Feedback):
    """Does nothing (observers attached with ``when_signalled`` still hear every outcome)."""

    def _signal(self, outcome: Signal) -> None:
        return None
