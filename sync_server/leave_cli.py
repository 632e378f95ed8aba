"""``hadir leave ...`` (issue 15; being written)."""

from __future__ import annotations

from typing import Any


def add_leave_parsers(sub: Any) -> None:
    """Add the leave commands to the ``hadir`` command."""
