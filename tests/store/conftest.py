"""Fixtures of the store tests: a hand-driven clock and a store factory.

Time is never patched: every clock the store reads is injected, and tests
move :class:`FakeClock` by hand (wall and monotonic separately when a test
needs the wall clock to jump).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.protocol import EnrolmentPage, PersonDelete, PersonUpsert, encode_template
from edge.store import EdgeStore, StoreConfig

BOOT_A = "boot-a"
BOOT_B = "boot-b"


@dataclass
class FakeClock:
    """Wall clock (aware UTC), monotonic clock, boot id and NTP state, moved by hand."""

    wall: datetime = field(default_factory=lambda: datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    mono: float = 1000.0
    synced: bool = True
    boot_id: str = BOOT_A

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def clock_synced(self) -> bool:
        return self.synced

    def advance(self, seconds: float) -> None:
        """Both clocks move together, as in real life."""
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds

    def reboot(self, boot_id: str = BOOT_B, *, uptime_s: float = 5.0) -> None:
        """A new boot: the monotonic clock restarts near zero."""
        self.boot_id = boot_id
        self.mono = uptime_s


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
