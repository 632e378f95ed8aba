"""Shared pieces of the sync tests: stores, a real server, an in-memory fake server."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

from edge.protocol import API_PREFIX, encode_template
from edge.recognize.matcher import Matcher
from edge.store import EdgeStore, StoreConfig
from edge.sync import SyncClient, SyncConfig, SyncService
from sync_server.process import ServerProcess
from tests.support.clock import FakeClock

ADMIN_TOKEN = "sync-test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BOOT_ID = "test-boot-1"


def open_store(
    path: Path | str, device_id: str, clock: FakeClock | None = None, **options: Any
) -> EdgeStore:
    """A real store; no cooldown (tests record the same people often) and fast commits."""
    config = StoreConfig(cooldown_s=0, synchronous="normal")
    kwargs: dict[str, Any] = {"boot_id": BOOT_ID, "clock_synced": lambda: True}
    if clock is not None:
        kwargs.update(now=clock.now, monotonic=clock.monotonic)
    kwargs.update(options)
    return EdgeStore.open(path, config, device_id=device_id, **kwargs)


def record_events(store: EdgeStore, count: int, people: int = 50) -> list[str]:
    ids = []
    for n in range(count):
        result = store.record(f"emp-{n % people:03d}", distance=0.35, margin=0.2)
        ids.append(str(result.event.id))
    return ids


def store_event_ids(store: EdgeStore) -> list[str]:
    return [str(e.id) for e in store.events(limit=1_000_000)]


def sync_config(url: str = "http://server.test", **overrides: Any) -> SyncConfig:
    values: dict[str, Any] = {
        "server_url": url,
        "token": "terminal-token",
        "push_interval_s": 0.2,
        "pull_interval_s": 0.5,
        "heartbeat_interval_s": 0.5,
        "tick_s": 0.05,
        "timeout_s": 5.0,
        "backoff": {"initial_delay": 0.05, "max_delay": 0.5, "jitter": 0.2},
    }
    values.update(overrides)
    return SyncConfig(**values)


def unit_vectors(seed: int, count: int) -> npt.NDArray[np.float32]:
    """Random 128-D unit vectors: any two are about 1.4 apart, far beyond any threshold."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(count, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


# -- a real server -------------------------------------------------------------------------


class RealServer:
    """``python -m sync_server run`` on a SQLite file; restartable on the same port."""

    def __init__(self, workdir: Path, name: str = "server") -> None:
        self.workdir = workdir
        self.db_path = workdir / f"{name}.db"
        self.database_url = f"sqlite:///{self.db_path}"
        self._name = name
        self._starts = 0
        self.proc: ServerProcess | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        assert self.port is not None
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RealServer:
        self._starts += 1
        proc = ServerProcess(
            self.workdir,
            self.database_url,
            ADMIN_TOKEN,
            name=f"{self._name}-{self._starts}",
            port=self.port,
        )
        self.proc = proc.start()
        self.port = proc.port
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush."""
        if self.proc is not None:
            self.proc.kill()

    def stop(self) -> None:
        if self.proc is not None and self.proc.running:
            self.proc.terminate()

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method, f"{self.url}{API_PREFIX}/admin{path}", headers=ADMIN, timeout=30, **kwargs
        )

    def create_terminal(
        self, device_id: str | None = None, group: str = "default"
    ) -> tuple[str, str]:
        device_id = device_id or f"t-{uuid.uuid4().hex[:10]}"
        response = self.admin("POST", "/terminals", json={"id": device_id, "group": group})
        assert response.status_code == 201, response.text
        return device_id, str(response.json()["token"])

    def enrol(
        self, person_id: str, vectors: Iterable[npt.ArrayLike], group: str = "default"
    ) -> int:
        created = self.admin(
            "POST",
            "/people",
            json={"id": person_id, "name": person_id.title(), "group": group, "consent": {}},
        )
        assert created.status_code == 201, created.text
        imported = self.admin(
            "POST",
            f"/people/{person_id}/templates",
            json={"templates": [encode_template(v) for v in vectors]},
        )
        assert imported.status_code == 201, imported.text
        return int(imported.json()["version"])

    def delete_person(self, person_id: str) -> int:
        response = self.admin("DELETE", f"/people/{person_id}")
        assert response.status_code == 200, response.text
        return int(response.json()["version"])

    def event_ids(self, device_id: str) -> list[str]:
        """Every event stored for the terminal, read from the database file itself."""
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30) as db:
            rows = db.execute("SELECT id FROM events WHERE device_id = ?", (device_id,))
            return [str(uuid.UUID(str(r[0]))) for r in rows]

    def rejected_ids(self, device_id: str) -> list[str]:
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30) as db:
            rows = db.execute(
                "SELECT event_id FROM rejected_events WHERE device_id = ?", (device_id,)
            )
            return [str(uuid.UUID(str(r[0]))) for r in rows]

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob("*.log")))


def make_service(
    store: EdgeStore,
    url: str,
    token: str,
    matcher: Matcher | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    **config: Any,
) -> SyncService:
    cfg = sync_config(url, token=token, **config)
    client = SyncClient(url, token, transport=transport, timeout=cfg.timeout_s)
    return SyncService(store, matcher or Matcher(store.load_gallery()), client, cfg)


# -- an in-memory fake of the server's terminal API, for MockTransport ------------------------


@dataclass
class FakeServer:
    """Just enough of the server for unit tests: idempotent ingest, a scripted feed, heartbeats.

    ``faults`` is consumed one per request: an int answers that status, an exception is
    raised by the transport (as httpx would), ``None`` serves normally.
    """

    device_id: str = "t1"
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    batches: list[dict[str, Any]] = field(default_factory=list)
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    pages: list[dict[str, Any]] = field(default_factory=list)
    reject: dict[str, str] = field(default_factory=dict)
    faults: list[int | Exception | None] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    enrolment_version: int = 0
    clock_offset_s: float = 0.0

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix(API_PREFIX)
        self.requests.append((request.method, path))
        if self.faults:
            fault = self.faults.pop(0)
            if isinstance(fault, Exception):
                raise fault
            if fault is not None:
                return httpx.Response(fault, json={"reason": "injected", "detail": "test fault"})
        if path == "/events":
            return self._events(json.loads(request.content))
        if path == "/heartbeat":
            body = json.loads(request.content)
            self.heartbeats.append(body)
            return httpx.Response(
                200,
                json={
                    "server_time": datetime.now(UTC).isoformat(),
                    "clock_offset_s": self.clock_offset_s,
                    "enrolment_version": self.enrolment_version,
                },
            )
        if path == "/enrolment/changes":
            since = int(request.url.params["since"])
            for page in self.pages:
                if page["since"] == since or page.get("reset"):
                    if page.get("once"):
                        self.pages.remove(page)
                    return httpx.Response(200, json={k: v for k, v in page.items() if k != "once"})
            return httpx.Response(
                200, json={"since": since, "version": since, "more": False, "changes": []}
            )
        if path == "/terminal":
            return httpx.Response(
                200,
                json={
                    "id": self.device_id,
                    "group": "default",
                    "server_time": datetime.now(UTC).isoformat(),
                },
            )
        if request.url.path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        return httpx.Response(404, json={"reason": "not_found", "detail": path})

    def _events(self, body: dict[str, Any]) -> httpx.Response:
        self.batches.append(body)
        results = []
        for event in body["events"]:
            key = event["id"]
            if key in self.reject:
                results.append({"id": key, "status": "rejected", "reason": self.reject[key]})
            elif key in self.events:
                results.append({"id": key, "status": "duplicate"})
            else:
                self.events[key] = event
                results.append({"id": key, "status": "accepted"})
        return httpx.Response(
            200, json={"results": results, "server_time": datetime.now(UTC).isoformat()}
        )
