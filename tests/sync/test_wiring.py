"""attach_sync and the real EdgeDaemon: the push after each recording, heartbeat health, and
end to end on the real clip with a real server (enrolled by photo at the server, recognised at
the terminal)."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from edge.capture import CaptureHealth, CaptureState, ReplayCameraConfig, create_source
from edge.config import EdgeConfig
from edge.daemon.runner import EdgeDaemon
from edge.errors import ConfigError
from edge.feedback import create_feedback
from edge.protocol import API_PREFIX, EventStatus, LivenessEvidence
from edge.recognize.loop import Decision, Verdict
from edge.recognize.matcher import Match
from edge.recognize.timing import StageTimings
from edge.store import EdgeStore, RecordResult
from edge.sync import CREDENTIAL_NAME, HeartbeatHealth, SyncConfig, attach_sync, heartbeat_health
from tests.support.wait import wait_until
from tests.sync.helpers import (
    ADMIN,
    FakeServer,
    RealServer,
    make_service,
    open_store,
    sync_config,
)


def _daemon(tmp_path: Path, source_path: Path, store: EdgeStore | None = None) -> EdgeDaemon:
    config = EdgeConfig.model_validate({"device": {"id": "door-1"}, "data_dir": str(tmp_path)})
    store = store or EdgeStore.open(":memory:", config.store, device_id="door-1")
    return EdgeDaemon(
        config,
        store=store,
        source=create_source(ReplayCameraConfig(path=source_path, pace="fast")),
        feedback=create_feedback(config.feedback),
    )


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[EdgeDaemon]:
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "frame_000000.png"), np.zeros((48, 64, 3), np.uint8))
    made = _daemon(tmp_path, frames)
    yield made
    made.close()


def _health(daemon: EdgeDaemon) -> HeartbeatHealth:
    return heartbeat_health(daemon.grabber.health(), daemon.timings.snapshot())


def test_no_server_no_sync(daemon: EdgeDaemon) -> None:
    assert attach_sync(daemon.store, daemon.matcher, SyncConfig()) is None
    assert daemon.enable_sync() is None
    assert daemon.sync is None
    assert daemon.recorded_listeners == []


def test_a_server_without_a_token_is_a_config_error(daemon: EdgeDaemon) -> None:
    with pytest.raises(ConfigError, match="token"):
        attach_sync(daemon.store, daemon.matcher, SyncConfig(server_url="http://s"), environ={})


def test_attach_builds_the_service_on_the_parts_and_reports_their_health(
    daemon: EdgeDaemon, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / CREDENTIAL_NAME).write_text("tok-from-systemd\n")
    server = FakeServer(device_id="door-1")
    seen_tokens: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen_tokens.append(request.headers["Authorization"])
        return server.handle(request)

    service = attach_sync(
        daemon.store,
        daemon.matcher,
        SyncConfig(server_url="http://s"),
        health=lambda: _health(daemon),
        transport=httpx.MockTransport(handler),
        environ={"CREDENTIALS_DIRECTORY": str(credentials)},
    )
    assert service is not None
    assert service.matcher is daemon.matcher
    assert service.store is daemon.store
    assert not service.running  # the daemon starts it once it is ready

    result = daemon.store.record("p1", distance=0.3, margin=0.2)
    service.request_push()  # not started: only a flag, no request, no exception
    assert server.requests == []
    service.heartbeat_once()
    service.push_once()
    beat = server.heartbeats[-1]
    assert (beat["camera_state"], beat["fps"], beat["recognition_latency_ms"]) == (
        "starting",
        0.0,
        None,
    )
    assert beat["backlog"] == 1
    assert list(server.events) == [str(result.event.id)]
    assert set(seen_tokens) == {"Bearer tok-from-systemd"}
    service.stop()


def _accepted(person_id: str) -> Decision:
    match = Match(person_id=person_id, distance=0.3, runner_up_id=None, runner_up_distance=1.0)
    return Decision(
        verdict=Verdict.ACCEPTED,
        track_id=1,
        person_id=person_id,
        match=match,
        frame_index=1,
        monotonic=1.0,
        looks=2,
    )


def test_the_daemon_wires_its_parts_and_pushes_each_recorded_event_at_once(
    tmp_path: Path,
) -> None:
    """enable_sync hands the store, the matcher and the daemon's health to the jobs; after
    a recording the daemon itself asks for the push: it goes at once, not after the 60 s
    interval, and no listener is involved."""
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "frame_000000.png"), np.zeros((48, 64, 3), np.uint8))
    config = EdgeConfig.model_validate(
        {
            "device": {"id": "door-1"},
            "data_dir": str(tmp_path),
            "sync": {
                "server_url": "http://s",
                "token": "t",
                "push_interval_s": 60,
                "pull_interval_s": 60,
                "heartbeat_interval_s": 60,
                "tick_s": 30,
            },
        }
    )
    server = FakeServer(device_id="door-1")
    pushed = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        response = server.handle(request)
        if request.url.path.endswith("/events"):
            pushed.set()
        return response

    daemon = EdgeDaemon(
        config,
        store=EdgeStore.open(":memory:", config.store, device_id="door-1"),
        source=create_source(ReplayCameraConfig(path=frames, pace="fast")),
        feedback=create_feedback(config.feedback),
    )
    try:
        service = daemon.enable_sync(transport=httpx.MockTransport(handler))
        assert service is not None
        assert daemon.sync is service
        assert (service.store, service.matcher) == (daemon.store, daemon.matcher)
        assert daemon.recorded_listeners == []
        service.start()
        assert wait_until(lambda: bool(server.heartbeats))  # the first tick's last task
        assert service.status().link_up is True
        assert (server.heartbeats[-1]["camera_state"], server.heartbeats[-1]["fps"]) == (
            "starting",
            0.0,
        )
        daemon._act(_accepted("p1"))
        (event,) = daemon.store.events()
        assert pushed.wait(5), "the recorded event was not pushed at once"
        assert wait_until(lambda: str(event.id) in server.events)
    finally:
        daemon.close()


def _capture(state: CaptureState, fps: float | None) -> CaptureHealth:
    return CaptureHealth(
        state=state,
        source="test",
        frames_total=10,
        frames_delivered=10,
        frames_dropped=0,
        fps=fps,
        last_frame_age=0.1,
        consecutive_failures=0,
        reconnects=0,
        last_error=None,
        state_age=5.0,
    )


def test_heartbeat_health_prefers_a_decision_stage() -> None:
    timings = StageTimings()
    for stage, seconds in (("detect", 0.010), ("descriptor", 0.080), ("match", 0.001)):
        timings.add(stage, seconds)
    health = heartbeat_health(_capture(CaptureState.OK, 14.5), timings.snapshot())
    assert (health.camera_state, health.fps) == ("ok", 14.5)
    assert health.recognition_latency_ms == pytest.approx(91.0)
    timings.add("decision", 0.250)
    ok = _capture(CaptureState.OK, 14.5)
    assert heartbeat_health(ok, timings.snapshot()).recognition_latency_ms == pytest.approx(250.0)
    reconnecting = _capture(CaptureState.RECONNECTING, None)
    assert heartbeat_health(reconnecting, timings.snapshot()).camera_state == "reconnecting"


@pytest.mark.faces
@pytest.mark.slow
def test_end_to_end_enrolled_at_the_server_recognised_and_pushed(
    server: RealServer, faces_dir: Path, tmp_path: Path
) -> None:
    """Enrol by photo at the server; the running terminal pulls it, recognises him in the
    clip, records the event and pushes it at once."""
    group = f"g-{uuid.uuid4().hex[:8]}"  # its own group: other tests share the server
    device, token = server.create_terminal(group=group)
    person = f"lmm-{group}"
    created = server.admin(
        "POST",
        "/people",
        json={"id": person, "name": "Lin-Manuel", "group": group, "consent": {}},
    )
    assert created.status_code == 201, created.text
    photo = faces_dir / "people/lin_manuel_miranda/lmm1.png"
    uploaded = httpx.post(
        f"{server.url}{API_PREFIX}/admin/people/{person}/photos",
        files={"photo": (photo.name, photo.read_bytes(), "image/png")},
        headers=ADMIN,
        timeout=60,
    )
    assert uploaded.status_code == 201, uploaded.text

    config = EdgeConfig.model_validate(
        {
            "device": {"id": device},
            "data_dir": str(tmp_path),
            "sync": sync_config(server.url, token=token, push_interval_s=60),
        }
    )
    store = EdgeStore.open(tmp_path / "edge.db", config.store, device_id=device)
    daemon = EdgeDaemon(
        config,
        store=store,
        source=create_source(
            ReplayCameraConfig(path=faces_dir / "video/short_hamilton_clip.mp4", pace="fast")
        ),
        feedback=create_feedback(config.feedback),
    )
    assert daemon.matcher.gallery.person_ids == ()
    service = daemon.enable_sync()
    assert service is not None
    arrived = threading.Event()

    def wait_for_server(result: RecordResult) -> None:
        # The test's listener runs after the daemon asked for the push: it holds the clip
        # until the push landed.
        if wait_until(lambda: str(result.event.id) in server.event_ids(device), timeout=10):
            arrived.set()

    daemon.recorded_listeners.append(wait_for_server)
    service.start()
    try:
        assert wait_until(lambda: daemon.matcher.gallery.person_ids == (person,))
        assert daemon.run() == 0
    finally:
        service.stop()
    assert [d.person_id for d in daemon.counters.decisions if d.person_id] == [person]
    assert arrived.is_set(), "the event was not pushed while the daemon ran"
    assert service.status().events_synced == 1


def test_liveness_evidence_reaches_a_real_server_and_a_resend_is_a_duplicate(
    server: RealServer, tmp_path: Path
) -> None:
    device, token = server.create_terminal()
    flagged = LivenessEvidence(score=0.25, passed=False, reasons=["frame_edges", "flat_motion"])
    live = LivenessEvidence(score=0.875, passed=True)
    with open_store(tmp_path / "edge.db", device) as store:
        ids = [
            str(store.record("alice", distance=0.3, margin=0.2, liveness=flagged).event.id),
            str(store.record("bob", distance=0.3, margin=0.2).event.id),
            str(store.record("carol", distance=0.3, margin=0.2, liveness=live).event.id),
        ]
        events = store.pending()
        service = make_service(store, server.url, token)
        try:
            assert service.push_once() == 3
            assert service.status().events_synced == 3
            # At-least-once: the same events again, as after a lost answer, read back from
            # the store, must be duplicates, never conflicts (their content did not change).
            again = service.client.push(service._batch(store.events()))
        finally:
            service.stop()
            service.client.close()
        assert [e.liveness for e in events] == [flagged, None, live]
    assert [r.status for r in again.results] == [EventStatus.DUPLICATE] * 3
    with sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True, timeout=30) as db:
        rows = {
            str(uuid.UUID(str(r[0]))): tuple(r[1:])
            for r in db.execute(
                "SELECT id, liveness_score, liveness_passed, liveness_reasons FROM events "
                "WHERE device_id = ?",
                (device,),
            )
        }
    assert [rows[i] for i in ids] == [
        (0.25, 0, "frame_edges,flat_motion"),
        (None, None, None),
        (0.875, 1, ""),
    ]
