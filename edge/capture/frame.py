"""The frame type every capture backend delivers.

Colour order: frames are RGB everywhere in hadir. dlib and Pillow want RGB;
OpenCV and picamera2's ``RGB888`` deliver BGR, so each backend converts exactly
once, at capture, and nothing downstream has to guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

RGBImage = npt.NDArray[np.uint8]
"""An ``(H, W, 3)`` uint8 array in RGB order."""


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One captured image and when it was taken.

    ``index`` counts the frames a source has delivered since it was created, from 0,
    and keeps counting across reconnects and replay loops, so a gap means frames were
    dropped. ``monotonic`` is the monotonic clock at capture (what latency, cooldown
    and tracking use); ``wall_time`` is the aware UTC wall clock at capture, which may
    be wrong on a Raspberry Pi until NTP has synchronised.
    """

    image: RGBImage
    index: int
    monotonic: float
    wall_time: datetime

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    def __repr__(self) -> str:
        return (
            f"Frame(index={self.index}, size={self.width}x{self.height}, "
            f"monotonic={self.monotonic:.3f}, wall_time={self.wall_time.isoformat()})"
        )
