"""The base of every config section, on both roles (kept apart from edge.config, which imports
every section, to avoid import cycles; not to be confused with edge/recognize/models.py, the
face models)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are errors; values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)
