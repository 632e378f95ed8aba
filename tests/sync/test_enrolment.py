"""Enrolment reaches the matcher: people added and deleted at a real server are recognised
and forgotten after the next pull, with no restart; corrupt pages change nothing."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from edge.protocol import encode_template
from edge.recognize.config import MatchingConfig
from edge.recognize.matcher import Matcher
from edge.store import EdgeStore, EnrolmentPageError
from edge.sync import ProtocolError, SyncClient, SyncService
from tests.support.clock import FakeClock
from tests.support.wait import wait_until
from tests.sync.helpers import (
    FakeServer,
    RealServer,
    make_service,
    open_store,
    sync_config,
    unit_vectors,
)

RULES = MatchingConfig()


def _recognised(matcher: Matcher, probe: np.ndarray[Any, Any]) -> str | None:
    match = matcher.match(probe)
    return match.person_id if match.accepted(RULES) else None


def _near(vector: np.ndarray[Any, Any], seed: int) -> np.ndarray[Any, Any]:
    """Another look at the same face: a small step away from the template."""
    noise = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return (vector + 0.15 * noise / np.linalg.norm(noise)).astype(np.float32)


@pytest.mark.slow
def test_people_added_and_deleted_at_the_server_reach_the_running_matcher(
    server: RealServer, tmp_path: Path
) -> None:
    group = f"g-{uuid.uuid4().hex[:8]}"  # its own group: other tests share the server
    device, token = server.create_terminal(group=group)
    ada, bob = unit_vectors(101, 2), unit_vectors(202, 1)
    ada_id, bob_id = f"ada-{group}", f"bob-{group}"
    with open_store(tmp_path / "edge.db", device) as store:
        matcher = Matcher(store.load_gallery())
        service = make_service(store, server.url, token, matcher)
        service.start()
        try:
            server.enrol(ada_id, ada, group)
            assert wait_until(lambda: _recognised(matcher, _near(ada[0], 1)) == ada_id)
            assert _recognised(matcher, _near(bob[0], 2)) is None

            server.enrol(bob_id, bob, group)
            assert wait_until(lambda: _recognised(matcher, _near(bob[0], 3)) == bob_id)
            assert _recognised(matcher, _near(ada[1], 4)) == ada_id

            version = server.delete_person(ada_id)
            assert wait_until(lambda: store.enrolment_version() >= version)
            assert wait_until(lambda: ada_id not in matcher.gallery.person_ids)
            assert _recognised(matcher, _near(ada[0], 5)) is None
            assert _recognised(matcher, _near(bob[0], 6)) == bob_id
        finally:
            service.stop()
        # The same matcher object all along: the daemon never restarted or rebuilt it.
        assert matcher.generation >= 3
        assert store.people() == {bob_id: bob_id.title()}


# -- corrupt pages (MockTransport) ----------------------------------------------------------


def _template(seed: int) -> str:
    return encode_template(unit_vectors(seed, 1)[0])


def _upsert(person: str, version: int, template: str) -> dict[str, Any]:
    return {
        "op": "upsert",
        "version": version,
        "person_id": person,
        "name": person.title(),
        "templates": [template],
    }


NAN = base64.b64encode(np.full(128, np.nan, dtype="<f4").tobytes()).decode()
SHORT = base64.b64encode(np.zeros(127, dtype="<f4").tobytes()).decode()

CORRUPT_PAGES = {
    "nan-template": (
        {"since": 5, "version": 7, "more": False,
         "changes": [_upsert("bea", 6, _template(6)), _upsert("cid", 7, NAN)]},
        ProtocolError,
    ),
    "127-d-template": (
        {"since": 5, "version": 7, "more": False,
         "changes": [_upsert("bea", 6, _template(6)), _upsert("cid", 7, SHORT)]},
        ProtocolError,
    ),
    "version-going-back": (
        {"since": 5, "version": 3, "more": False, "changes": [_upsert("bea", 3, _template(6))]},
        EnrolmentPageError,
    ),
    "change-not-after-since": (
        {"since": 5, "version": 8, "more": False,
         "changes": [_upsert("bea", 8, _template(6)), _upsert("cid", 4, _template(7))]},
        EnrolmentPageError,
    ),
    "wrong-since": (
        {"since": 2, "version": 8, "more": False, "changes": [_upsert("bea", 8, _template(6))]},
        EnrolmentPageError,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CORRUPT_PAGES))
def test_corrupt_page_is_rejected_whole_and_the_gallery_kept(
    tmp_path: Path, clock: FakeClock, name: str
) -> None:
    page, error = CORRUPT_PAGES[name]
    server = FakeServer()
    server.pages = [
        {"since": 0, "version": 5, "more": False, "changes": [_upsert("ada", 5, _template(5))]}
    ]
    with open_store(tmp_path / "edge.db", "t1", clock) as store:
        service = _service(store, server, clock)
        assert service.pull_once()
        gallery = service.matcher.gallery
        generation = service.matcher.generation

        served: list[dict[str, Any]] = [page]

        def corrupt(request: httpx.Request) -> httpx.Response:
            server.requests.append((request.method, request.url.path))
            return httpx.Response(200, json=served[0])

        service.client = SyncClient("http://s", "t", transport=httpx.MockTransport(corrupt))
        with pytest.raises(error):
            service.pull_once()
        _assert_unchanged(store, service, gallery, generation)

        # Through the scheduler's path: logged, backed off, no exception, still unchanged.
        clock.advance(60)
        service.tick()
        status = service.status().tasks["pull"]
        assert status.consecutive_failures == 1
        assert status.next_attempt_in_s > 0
        assert error.__name__ in (status.last_error or "")
        _assert_unchanged(store, service, gallery, generation)

        # The server is fixed: the next attempt applies the real change.
        served[0] = {
            "since": 5,
            "version": 6,
            "more": False,
            "changes": [_upsert("bea", 6, _template(6))],
        }
        clock.advance(status.next_attempt_in_s)
        service.tick()
        assert service.status().tasks["pull"].consecutive_failures == 0
        assert service.matcher.gallery.person_ids == ("ada", "bea")
        assert store.enrolment_version() == 6


def test_a_corrupt_second_page_keeps_the_first(tmp_path: Path, clock: FakeClock) -> None:
    server = FakeServer()
    server.pages = [
        {"since": 0, "version": 5, "more": True, "changes": [_upsert("ada", 5, _template(5))]},
        {"since": 5, "version": 7, "more": False, "changes": [_upsert("bob", 7, NAN)]},
    ]
    with open_store(tmp_path / "edge.db", "t1", clock) as store:
        service = _service(store, server, clock)
        with pytest.raises(ProtocolError):
            service.pull_once()
        # Page one was applied atomically on its own and the matcher follows the store.
        assert store.enrolment_version() == 5
        assert service.matcher.gallery.person_ids == ("ada",)


def _service(store: EdgeStore, server: FakeServer, clock: FakeClock) -> SyncService:
    return SyncService(
        store,
        Matcher(store.load_gallery()),
        SyncClient("http://s", "t", transport=server.transport()),
        sync_config(pull_interval_s=30, push_interval_s=30, heartbeat_interval_s=30),
        monotonic=clock.monotonic,
        now=clock.now,
        boot_id="b",
        random=lambda: 0.5,
    )


def _assert_unchanged(
    store: EdgeStore, service: SyncService, gallery: Any, generation: int
) -> None:
    assert store.enrolment_version() == 5
    assert store.people() == {"ada": "Ada"}
    assert service.matcher.gallery is gallery
    assert service.matcher.generation == generation
