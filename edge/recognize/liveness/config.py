"""``[recognition.liveness]``: whether and how the presentation-attack check runs."""

from __future__ import annotations

import enum

from pydantic import Field

from edge.config_base import StrictModel


class LivenessMode(enum.StrEnum):
    OFF = "off"
    FLAG = "flag"
    REFUSE = "refuse"


class LivenessConfig(StrictModel):
    """The presentation-attack (liveness) check on each recognised face (docs/liveness.md)."""

    mode: LivenessMode = Field(
        LivenessMode.FLAG,
        description="off: no check; flag: an attack is recorded but marked 'needs review' at the "
        "server; refuse: an attack is never recorded and gets its own LED/buzzer pattern.",
    )
    threshold: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="A track whose fused liveness score is below this is treated as an attack.",
    )
    min_frames: int = Field(
        12,
        ge=2,
        le=120,
        description="Frames of a face the check looks at before it gives a verdict; a face "
        "that the matcher recognises sooner waits for them (up to max_wait_s).",
    )
    max_wait_s: float = Field(
        0.8,
        ge=0.0,
        le=10.0,
        description="Longest a recognised face waits for min_frames, counted from its first "
        "usable frame, before the verdict is given on what was seen: with the frame in flight, "
        "the person is answered within a second; a loop processing 15 frames/s or more still "
        "sees min_frames (12) in that time.",
    )
    prior: float = Field(
        2.0,
        ge=-5.0,
        le=5.0,
        description="Score (log-odds) of a face before any cue has spoken: positive leans "
        "live, so a person who gives little evidence is not refused for it.",
    )
    surround_weight: float = Field(
        4.0,
        ge=0.0,
        le=50.0,
        description="Weight of attached_background: the surround of the face (a border, the "
        "photo's own background) moves with it, where a live head moves in front of a still room.",
    )
    edges_weight: float = Field(
        8.0,
        ge=0.0,
        le=50.0,
        description="Weight of frame_edges: straight edges beside or above the face (the border "
        "of a photo, phone or tablet) move with it.",
    )
    flat_weight: float = Field(
        6.0,
        ge=0.0,
        le=50.0,
        description="Weight of flat_motion: the face turned, and its landmarks moved as one plane.",
    )
    still_weight: float = Field(
        4.0,
        ge=0.0,
        le=50.0,
        description="Weight of no_motion: the face did not move at all for min_frames (a picture "
        "on a stand or a frozen screen; a person at a wall always sways a little).",
    )
    still_travel: float = Field(
        0.004,
        ge=0.0,
        le=0.2,
        description="Largest face displacement (face widths) that still counts as no motion.",
    )
    life_weight: float = Field(
        1.5,
        ge=0.0,
        le=50.0,
        description="Weight of signs of life (a blink, a mouth opening and closing): they lift an "
        "ambiguous face, never an attached surround, because a replayed video blinks too.",
    )
