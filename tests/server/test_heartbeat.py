"""Heartbeats: stored as the terminal's latest state, shown in the admin terminal list."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

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


def _store_gauges(api: Api) -> dict[tuple[str, str], float]:
    """``{(metric, device_id): value}`` of the terminal store gauges on /metrics."""
    text = api.client.get("/metrics").text
    found = re.findall(
        r'^(hadir_terminal_store_(?:ok|errors))\{device_id="([^"]+)"\} (\S+)$', text, re.M
    )
    return {(name, device): float(value) for name, device, value in found}


def test_store_health_is_stored_listed_and_exported(api: Api) -> None:
    failing = api.create_terminal("t1")
    healthy = api.create_terminal("t2")
    old = api.create_terminal("t3")
    error = "StoreFullError: record an event: /var/lib/hadir/hadir-edge.sqlite3: no space left"
    beat = heartbeat("t1", store_state="error", store_errors=17, store_last_error=error)
    assert api.as_terminal(failing, "POST", "/heartbeat", json=beat).status_code == 200
    beat = heartbeat("t2", store_state="ok", store_errors=0, store_last_error=None)
    assert api.as_terminal(healthy, "POST", "/heartbeat", json=beat).status_code == 200
    # A terminal older than the store fields still gets its heartbeat stored.
    assert api.as_terminal(old, "POST", "/heartbeat", json=heartbeat("t3")).status_code == 200

    terminals = api.admin("GET", "/admin/terminals").json()["terminals"]
    listed = {t["id"]: t["heartbeat"] for t in terminals}
    assert (listed["t1"]["store_state"], listed["t1"]["store_errors"]) == ("error", 17)
    assert listed["t1"]["store_last_error"] == error
    assert (listed["t2"]["store_state"], listed["t2"]["store_errors"]) == ("ok", 0)
    assert (listed["t3"]["store_state"], listed["t3"]["store_errors"]) == (None, None)

    # Read from the database at scrape time: the same in every server process.
    assert _store_gauges(api) == {
        ("hadir_terminal_store_ok", "t1"): 0.0,
        ("hadir_terminal_store_errors", "t1"): 17.0,
        ("hadir_terminal_store_ok", "t2"): 1.0,
        ("hadir_terminal_store_errors", "t2"): 0.0,
    }
    # Recovered: ok again, the count kept; a revoked terminal leaves the metrics.
    beat = heartbeat("t1", store_state="ok", store_errors=17, store_last_error=error)
    assert api.as_terminal(failing, "POST", "/heartbeat", json=beat).status_code == 200
    assert api.admin("POST", "/admin/terminals/t2/revoke").status_code == 200
    assert _store_gauges(api) == {
        ("hadir_terminal_store_ok", "t1"): 1.0,
        ("hadir_terminal_store_errors", "t1"): 17.0,
    }


@pytest.mark.parametrize(
    "overrides",
    [
        {"store_state": "broken"},
        {"store_errors": -1},
        {"store_last_error": "x" * 201},
    ],
)
def test_store_health_fields_are_bounded(api: Api, overrides: dict[str, Any]) -> None:
    token = api.create_terminal("t1")
    response = api.as_terminal(token, "POST", "/heartbeat", json=heartbeat("t1", **overrides))
    assert response.status_code == 422, response.text
    assert next(iter(overrides)) in response.text
    assert api.counts()["heartbeats"] == 0
