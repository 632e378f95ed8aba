"""``hadir calendar ...`` (issue 15; being written)."""

from __future__ import annotations

from typing import Any


def add_calendar_parsers(sub: Any) -> None:
    """Add the calendar commands to the ``hadir`` command."""
