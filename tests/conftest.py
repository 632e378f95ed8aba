"""Shared fixtures. Real faces come from ../shared/faces (or HADIR_FACES_DIR), never the repo.

The server fixtures (``db_url``, ``settings``, ``api``...) come from the plugin below, for every
package that needs them (server, web, reports); other shared helpers are in ``tests.support``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from edge.recognize.analyzer import FaceAnalyzer
from tests.support import ROOT, in_ci

pytest_plugins = ["tests.support.server_fixtures"]


def _faces_dir() -> Path:
    return Path(os.environ.get("HADIR_FACES_DIR") or ROOT.parent / "shared" / "faces")


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """Tests that run ``hadir`` in-process configure logging; don't leak it to the next test."""
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    """The real-face data folder; skips locally, fails in CI, when it is missing."""
    path = _faces_dir()
    if not (path / "people").is_dir():
        message = (
            f"real-face data not found at {path} "
            "(put the shared faces there or set HADIR_FACES_DIR)"
        )
        if in_ci():
            pytest.fail(message + "; CI requires it")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def analyzer() -> FaceAnalyzer:
    """One FaceAnalyzer for the session with default settings and upsample 1 for stills."""
    from edge.recognize.config import HogDetectorConfig, RecognitionConfig

    return FaceAnalyzer(RecognitionConfig(detector=HogDetectorConfig(upsample=1)))
