"""Server answers applied by the real terminal store (edge.store): the contract, end to end."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from edge.protocol import EventBatch, EventStatus
from tests.server.helpers import Api, template

store_module = pytest.importorskip("edge.store")


def _open_store(tmp_path: Path, device_id: str, clock_synced: bool = True) -> Any:
    return store_module.EdgeStore.open(
        tmp_path / f"{device_id}.db",
        device_id=device_id,
        boot_id="boot-compat",
        clock_synced=lambda: clock_synced,
    )


def _pull(api: Api, token: str, store: Any, limit: int | None = None) -> None:
    for _ in range(1000):
        page = api.changes(token, store.enrolment_version(), limit)
        store.apply_enrolment(page)
        if not page["more"]:
            return
    raise AssertionError("the feed never ended")


def test_store_mirrors_the_group_through_moves_and_deletes(api: Api, tmp_path: Path) -> None:
    token = api.create_terminal("door-1", group="site-a")
    api.enrol("alice", 1, group="site-a")
    api.enrol("bob", 2, group="site-a")
    for n in range(4):
        api.enrol(f"b{n}", 10 + n, group="site-b")
    with _open_store(tmp_path, "door-1") as store:
        _pull(api, token, store, limit=1)
        assert set(store.people()) == {"alice", "bob"}
        assert len(store.load_gallery()) == 2

        api.add_templates("alice", template(3))
        api.admin("DELETE", "/admin/people/bob")
        _pull(api, token, store)
        assert set(store.people()) == {"alice"}
        assert len(store.load_gallery()) == 2

        api.admin("PATCH", "/admin/terminals/door-1", json={"group": "site-b"})
        _pull(api, token, store, limit=3)
        assert set(store.people()) == {f"b{n}" for n in range(4)}


def test_store_outbox_drains_through_the_server(api: Api, tmp_path: Path) -> None:
    token = api.create_terminal("door-1")
    api.enrol("alice", 1)
    with _open_store(tmp_path, "door-1", clock_synced=False) as store:
        recorded = [store.record(f"p{n}", distance=0.4, margin=0.1) for n in range(5)]
        assert all(r.recorded for r in recorded)
        pending = store.pending(limit=500)
        batch = EventBatch(
            device_id="door-1",
            sent_wall_time=datetime.now(UTC),
            sent_monotonic=max(e.monotonic for e in pending) + 1.0,
            boot_id="boot-compat",
            clock_synced=True,
            events=pending,
        )
        body = batch.model_dump(mode="json")
        answer = api.post_batch(token, body).json()
        done = [r["id"] for r in answer["results"] if r["status"] != EventStatus.REJECTED]
        assert len(done) == 5
        store.mark_synced(done)
        assert store.backlog().count == 0
        # Resending after a lost answer: all duplicates, nothing stored twice.
        again = api.post_batch(token, body).json()
        assert {r["status"] for r in again["results"]} == {"duplicate"}
    stored = api.admin("GET", "/admin/events").json()["events"]
    assert len(stored) == 5
    assert {e["time_source"] for e in stored} == {"corrected_terminal"}
