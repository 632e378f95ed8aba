"""Small value types passed between the recognition stages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
"""An ``(H, W, 3)`` RGB or ``(H, W)`` grey uint8 frame."""

Descriptor = npt.NDArray[np.float32]
"""A 128-D float32 face descriptor."""

DESCRIPTOR_DIM = 128


@dataclass(frozen=True, slots=True)
class Box:
    """A face rectangle in full-frame pixel coordinates (right/bottom exclusive)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def center(self) -> tuple[float, float]:
        return ((self.left + self.right) / 2.0, (self.top + self.bottom) / 2.0)

    @property
    def area(self) -> int:
        return max(0, self.width) * max(0, self.height)

    def iou(self, other: Box) -> float:
        """Intersection over union, 0..1."""
        ix = max(0, min(self.right, other.right) - max(self.left, other.left))
        iy = max(0, min(self.bottom, other.bottom) - max(self.top, other.top))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def clipped(self, width: int, height: int) -> Box:
        return Box(
            max(0, self.left), max(0, self.top), min(width, self.right), min(height, self.bottom)
        )


@dataclass(frozen=True, slots=True)
class Detection:
    """A detector hit: the box and the detector's score."""

    box: Box
    score: float
