"""``hadir edge doctor`` sync checks against a real server (and a few MockTransport cases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from edge.config import EdgeConfig
from edge.sync import SyncConfig
from edge.sync.doctor import (
    SYNC_CHECKS,
    check_server,
    check_server_clock,
    check_token,
    probe_clock,
    probe_server,
    probe_token,
)
from sync_server.process import free_port
from tests.sync.helpers import FakeServer, RealServer


def _config(url: str, token: str | None = None, **extra: object) -> SyncConfig:
    return SyncConfig.model_validate({"server_url": url, "token": token, "timeout_s": 5, **extra})


def test_all_good_against_a_real_server(server: RealServer) -> None:
    device, token = server.create_terminal()
    config = _config(server.url, token)
    reachable = probe_server(config)
    assert reachable.ok, reachable.line()
    assert "reachable" in reachable.detail
    valid = probe_token(config, device)
    assert valid.ok, valid.line()
    assert device in valid.detail
    assert "default" in valid.detail
    clock = probe_clock(config, environ={}, clock_synced=lambda: True)
    assert clock.ok, clock.line()  # same host, same clock
    assert "ahead of" in clock.detail or "behind" in clock.detail


def test_unreachable_server(tmp_path: Path) -> None:
    result = probe_server(_config(f"http://127.0.0.1:{free_port()}", "t"))
    assert not result.ok
    assert not result.warning
    assert "not reachable" in result.detail


def test_refused_token_and_wrong_terminal(server: RealServer) -> None:
    device, token = server.create_terminal()
    refused = probe_token(_config(server.url, "not-a-real-token-at-all"), device)
    assert not refused.ok
    assert "401" in refused.detail
    assert "add-terminal" in refused.detail
    other = probe_token(_config(server.url, token), "someone-else")
    assert not other.ok
    assert repr(device) in other.detail
    assert "device.id" in other.detail


def test_missing_token(server: RealServer) -> None:
    result = probe_token(_config(server.url), "t1", environ={})
    assert not result.ok
    assert "token" in result.detail


@pytest.mark.parametrize(
    ("offset", "synced", "ok", "warning", "text"),
    [
        (timedelta(seconds=0.5), True, True, False, "ahead of"),
        (timedelta(minutes=-20), True, False, True, "check the NTP source"),
        (timedelta(days=3), False, False, True, "server corrects them"),
        (timedelta(minutes=10), True, False, False, "future_time"),
    ],
)
def test_clock_offset(offset: timedelta, synced: bool, ok: bool, warning: bool, text: str) -> None:
    server = FakeServer()
    result = probe_clock(
        _config("http://s", "t"),
        transport=server.transport(),
        now=lambda: datetime.now(UTC) + offset,
        clock_synced=lambda: synced,
    )
    assert (result.ok, result.warning) == (ok, warning), result.line()
    assert text in result.detail


def test_disabled_sync_and_the_doctor_signature() -> None:
    config = EdgeConfig()
    # [sync] without a server_url: a warning and skips.
    server = check_server(config)
    assert (server.ok, server.warning) == (False, True)
    assert "sync disabled" in server.detail
    assert check_token(config).ok
    assert check_server_clock(config).ok
    assert [c.__name__ for c in SYNC_CHECKS] == [
        "check_server",
        "check_token",
        "check_server_clock",
    ]


def test_healthz_is_asked_without_the_token() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json={"status": "ok"})

    result = probe_server(_config("http://s"), transport=httpx.MockTransport(handler), environ={})
    assert result.ok
    assert seen == ["/healthz"]
