"""Following a decided face between detector searches by matching its own picture.

Once a face is decided, the loop only needs to know where it is: to keep its track alive
(so it is not decided again) and to tell it apart from a newcomer. A HOG search of the
region around it costs 5-12 ms a face on a desktop core, four times that on a Pi 4, in
every frame; in a crowd of decided faces that alone exceeds a 25 fps camera's budget.

So between searches the loop *glides*: it cuts the face's box out of the frame in which
the detector last found it, shrinks it to :data:`PATCH_FACE_PX` wide, and looks for that
picture (normalised cross-correlation, which ignores a change of exposure) in a small
region around where the face should be now, shrunk the same way. That costs a few tenths
of a millisecond. The detector still confirms the face every few frames
(``tracking.confirm_every``), and the patch is cut afresh each time, so a face that turns
or walks closer is followed as it changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from edge.recognize.types import Box, Image

PATCH_FACE_PX = 32
"""The face's width in the patch: enough for its layout (eyes, nose, hairline), little
enough that the search is cheap. One patch pixel is 1/32 of a face width: a decided face
needs no finer position."""

SEARCH_FACE_WIDTHS = 0.5
"""How far beyond the predicted box the patch is looked for, per side, in face widths:
between two processed frames a walker's face moves a fraction of that once its velocity is
predicted."""

MIN_MATCH = 0.6
"""Normalised cross-correlation a match needs: the same face a few frames later reads
~0.9 and more; a wall, a door or a shoulder where the face was reads well under 0.5. A
face that matches less is searched by the detector in the same frame."""

CONTEXT = 0.15
"""The patch holds the face and this much of its surround per side, in face widths: the
hairline and the jaw's outline tell a face from a patch of shirt or wall that happens to
have its shading (measured on the face data: at 32 px, the closest non-face match fell from
~0.86 to ~0.76 at the 99th percentile, the same face 3 frames later kept ~0.75 at the 5th)."""

_MIN_SIDE = 12  # frame pixels: a smaller box carries no picture worth matching


@dataclass(frozen=True, slots=True)
class FacePatch:
    """A face as the detector last saw it: its box and a little surround, shrunk so the face
    is :data:`PATCH_FACE_PX` wide."""

    image: Image
    width: int  # the face box's size in the frame
    height: int
    pad: int  # frame pixels of surround in the patch on each side of the face box

    @classmethod
    def cut(cls, grey: Image, box: Box) -> FacePatch | None:
        """The patch of ``box`` in a grey frame; None when the box is too small, too close
        to the frame's edge, or flat."""
        frame_h, frame_w = grey.shape[:2]
        if box.width < _MIN_SIDE or box.height < _MIN_SIDE:
            return None
        pad = round(box.width * CONTEXT)
        outer = Box(box.left - pad, box.top - pad, box.right + pad, box.bottom + pad)
        if outer.clipped(frame_w, frame_h) != outer:
            return None  # at the frame's edge: the patch would be part face, part nothing
        scale = PATCH_FACE_PX / box.width
        size = (round(outer.width * scale), round(outer.height * scale))
        crop = grey[outer.top : outer.bottom, outer.left : outer.right]
        small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        if float(np.std(small)) < 2.0:  # a flat patch (a blank frame) matches anything
            return None
        return cls(np.ascontiguousarray(small, dtype=np.uint8), box.width, box.height, pad)

    def find(self, grey: Image, predicted: Box) -> tuple[Box, float] | None:
        """Where this face is in ``grey``, near ``predicted`` (a box of the patch's size):
        the box and how well it matched, or None below :data:`MIN_MATCH`."""
        frame_h, frame_w = grey.shape[:2]
        scale = PATCH_FACE_PX / self.width
        pad = math.ceil(self.width * SEARCH_FACE_WIDTHS)
        cx, cy = predicted.center
        left = round(cx - self.width / 2) - pad - self.pad
        top = round(cy - self.height / 2) - pad - self.pad
        span_w, span_h = self.width + 2 * (pad + self.pad), self.height + 2 * (pad + self.pad)
        region = Box(left, top, left + span_w, top + span_h)
        region = region.clipped(frame_w, frame_h)
        size = (round(region.width * scale), round(region.height * scale))
        patch_h, patch_w = self.image.shape[:2]
        if size[0] < patch_w or size[1] < patch_h:
            return None
        crop = grey[region.top : region.bottom, region.left : region.right]
        small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        result = cv2.matchTemplate(small, self.image, cv2.TM_CCOEFF_NORMED)
        _, peak, _, (x, y) = cv2.minMaxLoc(result)
        if not math.isfinite(peak) or peak < MIN_MATCH:
            return None
        # Half a patch pixel more precise: a parabola through the peak and its neighbours.
        dx = _vertex(result, x, y, axis=1)
        dy = _vertex(result, x, y, axis=0)
        found_left = region.left + round((x + dx) / scale) + self.pad
        found_top = region.top + round((y + dy) / scale) + self.pad
        box = Box(found_left, found_top, found_left + self.width, found_top + self.height)
        return box, float(peak)

    def __repr__(self) -> str:
        return f"<FacePatch {self.width}x{self.height} px>"


def _vertex(result: np.ndarray, x: int, y: int, *, axis: int) -> float:
    """Offset (-0.5..0.5) of the peak of a parabola through the peak and its two neighbours
    along ``axis``; 0 at the border."""
    if axis == 1:
        if not 0 < x < result.shape[1] - 1:
            return 0.0
        a, b, c = result[y, x - 1], result[y, x], result[y, x + 1]
    else:
        if not 0 < y < result.shape[0] - 1:
            return 0.0
        a, b, c = result[y - 1, x], result[y, x], result[y + 1, x]
    curve = float(a - 2 * b + c)
    if curve >= 0:
        return 0.0
    return float(np.clip(0.5 * (a - c) / curve, -0.5, 0.5))
