"""Builders for wire payloads and a thin client wrapper for the server tests."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import numpy as np
import sqlalchemy as sa
from fastapi.testclient import TestClient

from edge.clock import utc_now
from edge.protocol import API_PREFIX, encode_template
from sync_server.config import ServerConfig
from sync_server.db import Database, metadata

utcnow = utc_now  # the server tests' name for the one clock helper (edge/clock.py)

ADMIN_TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
DATA_TABLES = (
    "events",
    "rejected_events",
    "people",
    "templates",
    "changes",
    "terminals",
    "heartbeats",
    "clock_refs",
    "counters",
)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def event(
    device_id: str,
    person_id: str = "p1",
    *,
    event_id: uuid.UUID | None = None,
    wall_time: datetime | None = None,
    clock_synced: bool = True,
    monotonic: float = 1000.0,
    boot_id: str = "boot-1",
    kind: str = "in",
    distance: float = 0.3,
    margin: float = 0.2,
    liveness: dict[str, Any] | None = None,
) -> dict[str, Any]:
    extra = {} if liveness is None else {"liveness": liveness}
    return extra | {
        "id": str(event_id or uuid.uuid4()),
        "device_id": device_id,
        "person_id": person_id,
        "kind": kind,
        "wall_time": (wall_time or utcnow() - timedelta(seconds=5)).isoformat(),
        "clock_synced": clock_synced,
        "monotonic": monotonic,
        "boot_id": boot_id,
        "distance": distance,
        "margin": margin,
    }


def batch(
    device_id: str,
    events: list[dict[str, Any]],
    *,
    sent_wall_time: datetime | None = None,
    sent_monotonic: float = 2000.0,
    boot_id: str = "boot-1",
    clock_synced: bool = True,
) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "sent_wall_time": (sent_wall_time or utcnow()).isoformat(),
        "sent_monotonic": sent_monotonic,
        "boot_id": boot_id,
        "clock_synced": clock_synced,
        "events": events,
    }


def heartbeat(device_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "device_id": device_id,
        "wall_time": utcnow().isoformat(),
        "monotonic": 5000.0,
        "boot_id": "boot-1",
        "clock_synced": True,
        "software_version": "0.1.0",
        "enrolment_version": 0,
        "backlog": 3,
        "backlog_oldest_age_s": 12.5,
        "camera_state": "ok",
        "fps": 14.5,
        "recognition_latency_ms": 180.0,
    }
    body.update(overrides)
    return body


def template(seed: int) -> str:
    """A random descriptor-like template; different seeds are far apart (distance ~1.0)."""
    rng = np.random.default_rng(seed)
    vector = rng.normal(0, 0.09, 128).astype(np.float32)
    return encode_template(vector)


def table_counts(database_url: str) -> dict[str, int]:
    db = Database.from_url(database_url, pool_size=1)
    try:
        with db.read() as conn:
            return {
                name: int(
                    conn.execute(
                        sa.select(sa.func.count()).select_from(metadata.tables[name])
                    ).scalar_one()
                )
                for name in DATA_TABLES
            }
    finally:
        db.dispose()


class Api:
    """The test client plus the requests most tests repeat."""

    def __init__(self, client: TestClient, config: ServerConfig) -> None:
        self.client = client
        self.config = config

    def counts(self) -> dict[str, int]:
        return table_counts(self.config.database_url)

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**ADMIN, **kwargs.pop("headers", {})}
        response: httpx.Response = self.client.request(
            method, API_PREFIX + path, headers=headers, **kwargs
        )
        return response

    def as_terminal(self, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**bearer(token), **kwargs.pop("headers", {})}
        response: httpx.Response = self.client.request(
            method, API_PREFIX + path, headers=headers, **kwargs
        )
        return response

    def create_terminal(self, terminal_id: str, group: str = "default") -> str:
        response = self.admin("POST", "/admin/terminals", json={"id": terminal_id, "group": group})
        assert response.status_code == 201, response.text
        token: str = response.json()["token"]
        return token

    def create_person(
        self, person_id: str, group: str = "default", name: str = "", *, consent: bool = True
    ) -> None:
        """``consent``: with the person's consent on record (enrolment needs it)."""
        body: dict[str, Any] = {"id": person_id, "name": name or person_id.title(), "group": group}
        if consent:
            body["consent"] = {}
        response = self.admin("POST", "/admin/people", json=body)
        assert response.status_code == 201, response.text

    def add_templates(self, person_id: str, *templates: str) -> int:
        response = self.admin(
            "POST", f"/admin/people/{person_id}/templates", json={"templates": list(templates)}
        )
        assert response.status_code == 201, response.text
        version: int = response.json()["version"]
        return version

    def enrol(self, person_id: str, *seeds: int, group: str = "default") -> int:
        self.create_person(person_id, group)
        return self.add_templates(person_id, *(template(s) for s in seeds))

    def post_batch(self, token: str, body: dict[str, Any]) -> httpx.Response:
        return self.as_terminal(token, "POST", "/events", json=body)

    def changes(self, token: str, since: int, limit: int | None = None) -> dict[str, Any]:
        params: dict[str, int] = {"since": since}
        if limit is not None:
            params["limit"] = limit
        response = self.as_terminal(token, "GET", "/enrolment/changes", params=params)
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        return page


class Mirror:
    """What a terminal holds after applying pages: the reference terminal-side algorithm."""

    def __init__(self) -> None:
        self.version = 0
        self.people: dict[str, list[str]] = {}
        self.pages = 0

    def apply(self, page: dict[str, Any]) -> None:
        self.pages += 1
        if page["reset"]:
            self.people.clear()
            self.version = 0
            return
        versions = [c["version"] for c in page["changes"]]
        assert versions == sorted(versions)
        assert len(set(versions)) == len(versions)
        assert all(v > page["since"] for v in versions)
        for change in page["changes"]:
            if change["op"] == "upsert":
                self.people[change["person_id"]] = change["templates"]
            else:
                self.people.pop(change["person_id"], None)
        assert page["version"] >= self.version
        self.version = page["version"]

    def pull(self, api: Api, token: str, limit: int | None = None) -> Mirror:
        for _ in range(10_000):
            page = api.changes(token, self.version, limit)
            self.apply(page)
            if not page["more"]:
                return self
        raise AssertionError("the feed never ended")
