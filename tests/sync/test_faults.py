"""Fault tests on real parts: a server process on a loopback port, real store files,
a proxy that loses replies, SIGKILLed servers and terminals.

Exactly-once is checked at the end of each test against the server's database:
every event of the terminal's store is there, once, and the outbox is empty.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.store import EdgeStore
from tests.support.wait import wait_until
from tests.sync.helpers import (
    RealServer,
    make_service,
    open_store,
    record_events,
    store_event_ids,
)
from tests.sync.proxy import Action, FaultProxy, Request, forward_all

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def assert_exactly_once(server: RealServer, store: EdgeStore, device_id: str) -> None:
    stored = server.event_ids(device_id)
    local = store_event_ids(store)
    assert len(stored) == len(set(stored)), "an event stored twice"
    missing = set(local) - set(stored)
    extra = set(stored) - set(local)
    assert not missing, f"{len(missing)} events lost"
    assert not extra, f"{len(extra)} events the terminal never recorded"
    assert store.backlog().count == 0
    assert store.rejected() == []


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RealServer]:
    """A server this test may stop and kill."""
    server = RealServer(tmp_path / "server").start()
    yield server
    server.kill()


def test_outage_of_10000_events_then_every_event_exactly_once(
    own_server: RealServer, tmp_path: Path
) -> None:
    device, token = own_server.create_terminal()
    own_server.stop()  # down: nothing listens on its port
    with open_store(tmp_path / "edge.db", device) as store:
        service = make_service(store, own_server.url, token)
        service.start()
        try:
            for _ in range(10_000):
                store.record("emp-001", distance=0.35, margin=0.2)
                service.request_push()  # as the daemon does; offline it only sets a flag
            assert wait_until(lambda: service.status().tasks["push"].consecutive_failures >= 3)
            status = service.status()
            assert status.link_up is False
            assert store.backlog().count == 10_000
            own_server.start()  # back, on the same port
            assert wait_until(lambda: store.backlog().count == 0, timeout=60), service.status()
        finally:
            service.stop()
        assert_exactly_once(own_server, store, device)
        assert service.status().events_synced == 10_000


def test_server_sigkilled_during_a_drain(own_server: RealServer, tmp_path: Path) -> None:
    device, token = own_server.create_terminal()
    with open_store(tmp_path / "edge.db", device) as store:
        record_events(store, 6000)
        service = make_service(store, own_server.url, token, batch_size=100)
        service.start()
        try:
            assert wait_until(lambda: len(own_server.event_ids(device)) >= 300, interval=0.002)
            own_server.kill()  # SIGKILL while batches are in flight
            arrived = len(own_server.event_ids(device))
            assert arrived < 6000, "the drain ended before the kill"
            assert wait_until(lambda: service.status().tasks["push"].consecutive_failures >= 1)
            own_server.start()
            assert wait_until(lambda: store.backlog().count == 0, timeout=60), service.status()
        finally:
            service.stop()
        assert_exactly_once(own_server, store, device)


def _every_other_event_post(action: Action) -> tuple[Action, object]:
    posts = 0

    def policy(request: Request) -> Action:
        nonlocal posts
        if request.method == "POST" and request.path.endswith("/events"):
            posts += 1
            if posts % 2 == 1:
                return action
        return Action.FORWARD

    return action, policy


def _every_third_request(request: Request) -> Action:
    return Action.FAIL_500 if request.number % 3 == 0 else Action.FORWARD


def _first_two_event_posts_held() -> object:
    posts = 0

    def policy(request: Request) -> Action:
        nonlocal posts
        if request.method == "POST" and request.path.endswith("/events"):
            posts += 1
            if posts <= 2:
                return Action.HOLD_REPLY
        return Action.FORWARD

    return policy


@pytest.mark.parametrize(
    ("fault", "committed_first"),
    [
        ("drop_reply", True),
        ("fail_500_after", True),
        ("timeout", True),
        ("fail_500", False),
    ],
)
def test_lost_and_failed_replies(
    server: RealServer, tmp_path: Path, fault: str, committed_first: bool
) -> None:
    """The server stores a batch and the reply never arrives (dropped, replaced by a 500,
    too late for the client's timeout), or a 500 comes before the server saw anything."""
    device, token = server.create_terminal()
    action: Action
    if fault == "drop_reply":
        action, policy = _every_other_event_post(Action.DROP_REPLY)
    elif fault == "fail_500_after":
        action, policy = _every_other_event_post(Action.FAIL_500_AFTER)
    elif fault == "timeout":
        action, policy = Action.HOLD_REPLY, _first_two_event_posts_held()
    else:
        action, policy = Action.FAIL_500, _every_third_request
    assert server.port is not None
    with (
        FaultProxy(server.port, policy, hold_s=1.5) as proxy,  # type: ignore[arg-type]
        open_store(tmp_path / "edge.db", device) as store,
    ):
        record_events(store, 2000)
        service = make_service(store, proxy.url, token, batch_size=250, timeout_s=0.5)
        service.start()
        try:
            assert wait_until(lambda: store.backlog().count == 0, timeout=60), service.status()
        finally:
            service.stop()
        assert proxy.actions[action] >= 1, f"the {fault} fault never happened"
        assert_exactly_once(server, store, device)
        duplicates = service.status().events_duplicate
        if committed_first:
            # The resent batches were already stored: the server said "duplicate".
            assert duplicates >= 250
        else:
            assert duplicates == 0


def _spawn_worker(
    store_path: Path, device: str, url: str, token_file: Path
) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.sync.push_worker",
            str(store_path),
            device,
            url,
            str(token_file),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def test_terminal_sigkilled_during_a_push(server: RealServer, tmp_path: Path) -> None:
    device, token = server.create_terminal()
    token_file = tmp_path / "terminal_token"
    token_file.write_text(token + "\n")
    store_path = tmp_path / "edge.db"
    with open_store(store_path, device, boot_id="worker") as store:
        record_events(store, 3000)

    def first_post_held(request: Request) -> Action:
        return Action.HOLD_REPLY if request.number == 1 else Action.FORWARD

    assert server.port is not None
    with FaultProxy(server.port, first_post_held, hold_s=60) as proxy:
        # 1. Killed after the server committed the first batch, before the reply arrived.
        worker = _spawn_worker(store_path, device, proxy.url, token_file)
        try:
            assert proxy.upstream_replied.wait(30), "the first batch never reached the server"
        finally:
            worker.kill()
            worker.wait(10)
        assert len(server.event_ids(device)) == 200
        with open_store(store_path, device, boot_id="worker") as store:
            assert store.backlog().count == 3000  # the terminal never learnt of them
        # 2. Killed at a random moment of the drain.
        proxy.policy = forward_all
        worker = _spawn_worker(store_path, device, proxy.url, token_file)
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
        time.sleep(random.Random(os.environ.get("HADIR_CRASH_SEED")).uniform(0.05, 0.4))
        worker.kill()
        worker.wait(10)
        # 3. Started again: it finishes the drain.
        worker = _spawn_worker(store_path, device, proxy.url, token_file)
        out, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0, out
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["rejected"] == 0
    with open_store(store_path, device, boot_id="worker") as store:
        assert_exactly_once(server, store, device)
