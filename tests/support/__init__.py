"""Helpers shared by every test package: hand-driven clocks, polling, the server fixtures.

One definition each, imported by every user (``tests.support.clock.FakeClock``,
``tests.support.wait.wait_until``); the server fixtures are a plugin that the top-level
conftest loads for the whole suite (``pytest_plugins``).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def in_ci() -> bool:
    """Under CI, data and services that would skip locally are mandatory (a failure)."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}
