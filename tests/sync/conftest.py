"""Fixtures of the sync tests: one real server for the session, fake clocks, fresh stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.store import EdgeStore
from tests.support.clock import FakeClock
from tests.sync.helpers import FakeServer, RealServer, open_store


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    """A real server process shared by the tests that never stop it (each uses its own
    terminal); tests that kill a server start their own."""
    real = RealServer(tmp_path_factory.mktemp("sync-server")).start()
    yield real
    real.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 25, 8, 0, tzinfo=UTC))


@pytest.fixture
def fake_server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[EdgeStore]:
    """A real store file driven by the fake clock, device ``t1``."""
    with open_store(tmp_path / "edge.db", "t1", clock) as opened:
        yield opened
