"""Counts in words for people to read: "1 template", "2 templates", "1 person", "3 people".

One helper for every command line and page, so no message says "(1 templates)". Standard
library only: a terminal's ``hadir`` imports it too.
"""

from __future__ import annotations

# Nouns whose plural is not the singular + "s".
_IRREGULAR = {"person": "people", "entry": "entries"}


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and ``noun`` in the right number: ``plural(1, "row")`` is "1 row"."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {many or _IRREGULAR.get(noun, noun + 's')}"
