"""The ``Feedback`` interface and the worker thread that plays patterns.

``signal()`` must never hold up the recognition loop: it hands the pattern to a
worker thread and returns. A newer signal pre-empts the pattern that is playing,
because the person now in front of the terminal is the one who needs the answer.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Self

import structlog

from edge.feedback.patterns import DEFAULT_PATTERNS, OFF, Pattern, Signal, Step

log = structlog.get_logger(__name__)


class Feedback(ABC):
    """Tells the person in front of the terminal what happened.

    ``when_signalled`` (an observer for tests, metrics, a UI) is called with every
    accepted signal, on the caller's thread, after the pattern has been scheduled.
    """

    def __init__(self) -> None:
        self.when_signalled: Callable[[Signal], None] | None = None
        self._closed = False
        self._close_lock = threading.Lock()

    @property
    def closed(self) -> bool:
        return self._closed

    def signal(self, outcome: Signal | str) -> None:
        """Start the pattern for ``outcome`` and return at once. Ignored after close()."""
        outcome = Signal(outcome)
        if self._closed:
            log.debug("feedback_after_close", outcome=str(outcome))
            return
        self._signal(outcome)
        hook = self.when_signalled
        if hook is not None:
            try:
                hook(outcome)
            except Exception:
                log.exception("feedback_hook_error", outcome=str(outcome))

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no pattern is playing or pending; False on timeout."""
        return True

    def close(self) -> None:
        """Turn every output off and release it. Idempotent."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._close()

    @abstractmethod
    def _signal(self, outcome: Signal) -> None: ...

    def _close(self) -> None:
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<{type(self).__name__} {state}>"


class PatternPlayer:
    """Plays patterns on a worker thread through ``apply(step)``; the newest one wins.

    ``apply`` is called only from the worker thread (and once from ``close()`` after
    the worker has ended), so backends need no locking of their own.
    """

    def __init__(
        self,
        apply: Callable[[Step], None],
        *,
        time_scale: float = 1.0,
        name: str = "hadir-feedback",
    ) -> None:
        if time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        self._apply = apply
        self._time_scale = time_scale
        self._cond = threading.Condition()
        self._pending: Pattern | None = None
        self._generation = 0
        self._busy = False
        self._closed = False
        self._failing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def play(self, pattern: Pattern) -> None:
        with self._cond:
            if self._closed:
                return
            self._pending = pattern
            self._generation += 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: self._closed or (not self._busy and self._pending is None), timeout
            )

    def close(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._closed = True
            self._pending = None
            self._cond.notify_all()
        self._thread.join(timeout)
        self._safe_apply(OFF)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or self._pending is not None)
                if self._closed:
                    return
                pattern, self._pending = self._pending, None
                generation = self._generation
                self._busy = True
            assert pattern is not None
            if self._play(pattern, generation):
                self._safe_apply(OFF)
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _play(self, pattern: Pattern, generation: int) -> bool:
        """Play ``pattern``; False if a newer pattern or close() cut it short."""

        def cut_short() -> bool:
            return self._closed or self._generation != generation

        for step in pattern:
            self._safe_apply(step)
            with self._cond:
                if self._cond.wait_for(cut_short, step.seconds * self._time_scale):
                    return False
        return True

    def _safe_apply(self, step: Step) -> None:
        try:
            self._apply(step)
        except Exception:
            # Log the first failure of a run, not one per step: a dead output must
            # neither kill the worker nor flood the journal.
            if not self._failing:
                log.exception("feedback_output_error")
            self._failing = True
        else:
            self._failing = False


class PatternFeedback(Feedback):
    """A backend that plays timed patterns on outputs; subclasses implement ``_apply``."""

    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        patterns: Mapping[Signal, Pattern] | None = None,
    ) -> None:
        super().__init__()
        self.patterns: Mapping[Signal, Pattern] = {**DEFAULT_PATTERNS, **(patterns or {})}
        self._player = PatternPlayer(self._apply, time_scale=time_scale)

    @abstractmethod
    def _apply(self, step: Step) -> None:
        """Set every output as ``step`` says."""

    def _signal(self, outcome: Signal) -> None:
        self._player.play(self.patterns[outcome])

    def wait_idle(self, timeout: float | None = None) -> bool:
        return self._player.wait_idle(timeout)

    def _close(self) -> None:
        self._player.close()
        self._release()

    def _release(self) -> None:
        """Free the outputs after they have been turned off."""
        return None
