"""Fixtures of the store tests: a hand-driven clock and a store factory.

Time is never patched: every clock the store reads is injected, and tests
move :class:`tests.support.clock.FakeClock` by hand (wall and monotonic
separately when a test needs the wall clock to jump).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.protocol import EnrolmentPage, PersonDelete, PersonUpsert, encode_template
from edge.store import EdgeStore, StoreConfig
from tests.support.clock import FakeClock

OpenStore = Callable[..., EdgeStore]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def open_store(clock: FakeClock) -> Iterator[OpenStore]:
    """``open_store(path=":memory:", timezone="UTC", **config)``; closes everything at the end."""
    opened: list[EdgeStore] = []

    def _open(
        path: Path | str = ":memory:",
        *,
        timezone: str = "UTC",
        device_id: str = "gate-1",
        **config: Any,
    ) -> EdgeStore:
        store = EdgeStore.open(
            path,
            StoreConfig(**config),
            device_id=device_id,
            timezone=timezone,
            now=clock.now,
            monotonic=clock.monotonic,
            boot_id=clock.boot_id,
            clock_synced=clock.clock_synced,
        )
        opened.append(store)
        return store

    yield _open
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: OpenStore) -> EdgeStore:
    """An in-memory store (durability is not the point of the tests that use it)."""
    return open_store()


@pytest.fixture
def file_store(open_store: OpenStore, tmp_path: Path) -> EdgeStore:
    return open_store(tmp_path / "edge.sqlite3")


def template(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=128) * 0.07).astype(np.float32)


def upsert(version: int, person_id: str, *seeds: int, name: str | None = None) -> PersonUpsert:
    return PersonUpsert(
        version=version,
        person_id=person_id,
        name=name or person_id.title(),
        templates=[encode_template(template(s)) for s in (seeds or (version,))],
    )


def delete(version: int, person_id: str) -> PersonDelete:
    return PersonDelete(version=version, person_id=person_id)


def page(
    since: int,
    *changes: PersonUpsert | PersonDelete,
    version: int | None = None,
    reset: bool = False,
) -> EnrolmentPage:
    last = max((c.version for c in changes), default=since)
    return EnrolmentPage(
        since=since,
        version=version if version is not None else last,
        more=False,
        changes=list(changes),
        reset=reset,
    )
