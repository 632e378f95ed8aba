"""Real server processes on loopback ports: shutdown, crash safety, two processes on one DB."""

from __future__ import annotations

import signal
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.protocol import API_PREFIX
from sync_server.process import ServerProcess
from tests.server.helpers import ADMIN, ADMIN_TOKEN, batch, bearer, event, heartbeat, table_counts
from tests.server.helpers import template as make_template

pytestmark = pytest.mark.slow


def _create_terminal(client: httpx.Client, terminal_id: str) -> str:
    response = client.post(f"{API_PREFIX}/admin/terminals", json={"id": terminal_id}, headers=ADMIN)
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def test_real_server_round_trip_and_clean_shutdown(db_url: str, tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, db_url, ADMIN_TOKEN).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            token = _create_terminal(client, "t1")
            body = batch("t1", [event("t1") for _ in range(50)])
            first = client.post(f"{API_PREFIX}/events", json=body, headers=bearer(token))
            assert first.status_code == 200
            assert {r["status"] for r in first.json()["results"]} == {"accepted"}
            second = client.post(f"{API_PREFIX}/events", json=body, headers=bearer(token))
            assert {r["status"] for r in second.json()["results"]} == {"duplicate"}
            beat = client.post(
                f"{API_PREFIX}/heartbeat", json=heartbeat("t1"), headers=bearer(token)
            )
            assert beat.status_code == 200
            assert client.get("/openapi.json").status_code == 200
            assert "hadir_server_events_total" in client.get("/metrics").text
    finally:
        code = server.terminate()
    # uvicorn finishes the shutdown, then re-raises SIGTERM (systemd counts that as clean).
    assert code in (0, -signal.SIGTERM), server.log()
    assert '"event": "server_stopped"' in server.log()
    assert table_counts(db_url)["events"] == 50


def test_sigkill_mid_ingest_loses_nothing_answered(db_url: str, tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, db_url, ADMIN_TOKEN, name="victim").start()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        token = _create_terminal(client, "t1")
    batches = [batch("t1", [event("t1") for _ in range(100)]) for _ in range(40)]
    answered: list[set[str]] = []

    def push() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for body in batches:
                try:
                    response = client.post(f"{API_PREFIX}/events", json=body, headers=bearer(token))
                except httpx.TransportError:
                    return
                answered.append({r["id"] for r in response.json()["results"]})

    pusher = threading.Thread(target=push)
    pusher.start()
    while len(answered) < 5:
        threading.Event().wait(0.01)
    server.kill()  # SIGKILL: no shutdown, no flush
    pusher.join()

    # Everything the server answered for survived the kill.
    stored_after_kill = table_counts(db_url)["events"]
    assert stored_after_kill >= sum(len(a) for a in answered)

    # The terminal retries everything; each event ends up stored exactly once.
    statuses: Counter[str] = Counter()
    with (
        ServerProcess(tmp_path, db_url, ADMIN_TOKEN, name="restarted") as again,
        httpx.Client(base_url=again.url, timeout=30) as client,
    ):
        for body in batches:
            response = client.post(f"{API_PREFIX}/events", json=body, headers=bearer(token))
            statuses.update(r["status"] for r in response.json()["results"])
    assert statuses["rejected"] == 0
    assert statuses["duplicate"] == stored_after_kill
    assert table_counts(db_url)["events"] == 40 * 100


def test_two_server_processes_share_one_database(db_url: str, tmp_path: Path) -> None:
    servers = [
        ServerProcess(tmp_path, db_url, ADMIN_TOKEN, name="a").start(),
        ServerProcess(tmp_path, db_url, ADMIN_TOKEN, name="b").start(),
    ]
    try:
        _two_servers(servers)
    finally:
        for server in servers:
            assert server.terminate() in (0, -signal.SIGTERM), server.log()


def _two_servers(servers: list[ServerProcess]) -> None:
    clients = [httpx.Client(base_url=s.url, timeout=60) for s in servers]
    terminals = [f"t{n}" for n in range(3)]
    tokens = {t: _create_terminal(clients[n % 2], t) for n, t in enumerate(terminals)}
    reader_token = _create_terminal(clients[1], "reader")
    events = {t: [event(t, f"p{n % 7}") for n in range(600)] for t in terminals}
    answers: list[dict[str, Any]] = []
    answers_lock = threading.Lock()

    def push(terminal_id: str, server_index: int, backwards: bool) -> None:
        # Windows of 200 stepping by 100: every event goes out in two batches, and the same
        # windows go to the other server at the same time from another thread.
        client = clients[server_index]
        windows = [events[terminal_id][s : s + 200] for s in range(0, 600, 100)]
        for window in reversed(windows) if backwards else windows:
            response = client.post(
                f"{API_PREFIX}/events",
                json=batch(terminal_id, window),
                headers=bearer(tokens[terminal_id]),
            )
            assert response.status_code == 200, response.text
            with answers_lock:
                answers.append(response.json())

    people_per_writer = 25

    def enrol(server_index: int) -> None:
        client = clients[server_index]
        for n in range(people_per_writer):
            person = f"w{server_index}-{n:02d}"
            created = client.post(
                f"{API_PREFIX}/admin/people",
                json={"id": person, "name": person, "consent": {}},
                headers=ADMIN,
            )
            assert created.status_code == 201, created.text
            imported = client.post(
                f"{API_PREFIX}/admin/people/{person}/templates",
                json={"templates": [make_template(server_index * 1000 + n)]},
                headers=ADMIN,
            )
            assert imported.status_code == 201, imported.text

    writers_done = threading.Event()
    seen_versions: list[int] = []

    def read_feed() -> None:
        version = 0
        turn = 0
        while True:
            finished = writers_done.is_set()
            while True:
                turn += 1
                response = clients[turn % 2].get(
                    f"{API_PREFIX}/enrolment/changes",
                    params={"since": version, "limit": 7},
                    headers=bearer(reader_token),
                )
                assert response.status_code == 200, response.text
                page = response.json()
                for change in page["changes"]:
                    # Never a version at or below one already passed: no late commits.
                    assert change["version"] > version, (change, version)
                    seen_versions.append(change["version"])
                assert page["version"] >= version
                version = page["version"]
                if not page["more"]:
                    break
            if finished:
                return

    with ThreadPoolExecutor(max_workers=10) as pool:
        reader = pool.submit(read_feed)
        jobs = [pool.submit(enrol, 0), pool.submit(enrol, 1)]
        for n, terminal_id in enumerate(terminals):
            jobs.append(pool.submit(push, terminal_id, n % 2, False))
            jobs.append(pool.submit(push, terminal_id, (n + 1) % 2, True))
        for job in jobs:
            job.result()
        writers_done.set()
        reader.result()
    for client in clients:
        client.close()

    # Each event stored once, and accepted exactly once across both servers.
    total = sum(len(v) for v in events.values())
    counts = table_counts(servers[0].database_url)
    assert counts["events"] == total
    statuses: Counter[str] = Counter()
    accepted: Counter[str] = Counter()
    for answer in answers:
        for result in answer["results"]:
            statuses[result["status"]] += 1
            if result["status"] == "accepted":
                accepted[result["id"]] += 1
    assert statuses["rejected"] == 0
    assert len(accepted) == total
    assert set(accepted.values()) == {1}
    assert statuses["accepted"] + statuses["duplicate"] == 4 * total - 200 * len(terminals)

    # One change per person, each version used once, none skipped, seen in order.
    assert seen_versions == sorted(seen_versions)
    assert seen_versions == list(range(1, 2 * people_per_writer + 1))


def test_uvicorn_workers_share_the_database(db_url: str, tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, db_url, ADMIN_TOKEN, name="workers", workers=2).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as admin:
            token = _create_terminal(admin, "t1")
        body = batch("t1", [event("t1") for _ in range(20)])
        statuses: Counter[str] = Counter()
        for _ in range(6):
            # A new connection each time, so both workers get requests.
            with httpx.Client(base_url=server.url, timeout=30) as client:
                response = client.post(f"{API_PREFIX}/events", json=body, headers=bearer(token))
                statuses.update(r["status"] for r in response.json()["results"])
    finally:
        assert server.terminate() in (0, -signal.SIGTERM), server.log()
    assert statuses == {"accepted": 20, "duplicate": 100}
    # Workers log JSON like the parent (they are spawned, so they configure logging anew).
    assert server.log().count('"event": "server_ready"') == 2
