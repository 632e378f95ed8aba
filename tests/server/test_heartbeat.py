"""Heartbeats: stored as the terminal's latest state, shown in the admin terminal list."""

from __future__ import annotations

from datetime import timedelta

from tests.server.helpers import Api, heartbeat, utcnow


def test_heartbeat_is_stored_and_listed(api: Api) -> None:
    token = api.create_terminal("t1")
    api.enrol("a", 1)
    ahead = utcnow() + timedelta(seconds=30)
    beat = heartbeat(
        "t1",
        wall_time=ahead.isoformat(),
        backlog=42,
        backlog_oldest_age_s=310.0,
        camera_state="reconnecting",
        fps=3.5,
        recognition_latency_ms=250.0,
        enrolment_version=0,
        software_version="0.2.0",
        clock_synced=False,
    )
    response = api.as_terminal(token, "POST", "/heartbeat", json=beat)
    assert response.status_code == 200, response.text
    ack = response.json()
    assert 29 < ack["clock_offset_s"] < 31
    assert ack["enrolment_version"] == 1

    (info,) = api.admin("GET", "/admin/terminals").json()["terminals"]
    assert info["last_seen_at"] is not None
    seen = info["heartbeat"]
    assert seen["backlog"] == 42
    assert seen["backlog_oldest_age_s"] == 310.0
    assert seen["camera_state"] == "reconnecting"
    assert seen["fps"] == 3.5
    assert seen["recognition_latency_ms"] == 250.0
    assert seen["software_version"] == "0.2.0"
    assert seen["clock_synced"] is False
    assert 29 < seen["clock_offset_s"] < 31

    # Only the latest heartbeat is kept.
    api.as_terminal(token, "POST", "/heartbeat", json=heartbeat("t1", backlog=0))
    assert api.counts()["heartbeats"] == 1
    assert api.admin("GET", "/admin/terminals/t1").json()["heartbeat"]["backlog"] == 0


def test_heartbeat_for_another_device_is_403(api: Api) -> None:
    token = api.create_terminal("t1")
    api.create_terminal("t2")
    before = api.counts()
    response = api.as_terminal(token, "POST", "/heartbeat", json=heartbeat("t2"))
    assert response.status_code == 403
    assert api.counts() == before


def test_heartbeat_validation_names_the_field(api: Api) -> None:
    token = api.create_terminal("t1")
    response = api.as_terminal(token, "POST", "/heartbeat", json=heartbeat("t1", fps=-1))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "fps"]
    assert api.counts()["heartbeats"] == 0
