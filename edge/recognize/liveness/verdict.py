"""The liveness check's conclusion about one track."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LivenessVerdict:
    """Fused evidence over a track's frames.

    ``score`` runs from 0 (looks like a photo or a screen) to 1 (looks like a live face);
    ``reasons`` name the cues that spoke against a live face, strongest first (empty when
    ``live``); ``frames`` is how many frames the evidence was gathered over.
    """

    score: float
    live: bool
    reasons: tuple[str, ...] = ()
    frames: int = 0

    @property
    def reason(self) -> str:
        """The reasons as one short text for logs and tables ("" when live)."""
        return ",".join(self.reasons)
