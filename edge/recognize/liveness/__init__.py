"""Presentation-attack detection: is the face at the camera a live person (docs/liveness.md)."""

from edge.recognize.liveness.config import LivenessConfig, LivenessMode
from edge.recognize.liveness.verdict import LivenessVerdict

__all__ = ["LivenessConfig", "LivenessMode", "LivenessVerdict"]
