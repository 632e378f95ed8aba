"""URL path parameters shared by the API routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from edge.protocol import ID_MAX_LENGTH, ID_PATTERN

IdPath = Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
"""A person, terminal or group id in a URL: the same rule as in request bodies."""
