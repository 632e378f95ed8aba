"""``[recognition.liveness]``: whether and how the presentation-attack check runs."""

from __future__ import annotations

import enum

from pydantic import Field

from edge.model import StrictModel


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
