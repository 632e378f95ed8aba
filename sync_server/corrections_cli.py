"""``hadir corrections ...`` (issue 15; being written)."""

from __future__ import annotations

from typing import Any


def add_corrections_parsers(sub: Any) -> None:
    """Add the corrections commands to the ``hadir`` command."""
