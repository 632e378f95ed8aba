"""The one server-process helper (``sync_server.process``) that the demo and the tests use."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from edge.errors import HadirError
from edge.protocol import API_PREFIX
from sync_server.process import ServerProcess, ServerStartError
from tests.server.helpers import ADMIN, ADMIN_TOKEN

pytestmark = pytest.mark.slow


def _server(
    tmp_path: Path, name: str = "server", port: int | None = None, extra_toml: str = ""
) -> ServerProcess:
    return ServerProcess(
        tmp_path / "srv",
        f"sqlite:///{tmp_path / 'srv.db'}",
        ADMIN_TOKEN,
        name=name,
        port=port,
        extra_toml=extra_toml,
    )


def test_a_server_that_exits_at_start_is_one_error_with_the_end_of_its_log(
    tmp_path: Path,
) -> None:
    server = _server(tmp_path, extra_toml="no_such_key = 1")
    with pytest.raises(ServerStartError) as caught:
        server.start()
    assert isinstance(caught.value, HadirError)
    assert isinstance(caught.value, RuntimeError)
    message = str(caught.value)
    assert "exited at start" in message
    assert str(server.log_path) in message
    assert "no_such_key" in message
    assert not server.running


def test_a_server_not_ready_in_time_is_killed_not_left_behind(tmp_path: Path) -> None:
    server = _server(tmp_path)
    with pytest.raises(ServerStartError, match="did not become ready"):
        server.start(timeout=0)
    assert server.proc is not None
    assert server.proc.poll() is not None
    assert not server.running


def test_a_restart_on_the_same_port_serves_the_same_database(tmp_path: Path) -> None:
    with _server(tmp_path, name="first") as first:
        created = httpx.post(
            f"{first.url}{API_PREFIX}/admin/terminals",
            headers=ADMIN,
            json={"id": "gate-1", "group": "default"},
            timeout=30,
        )
        assert created.status_code == 201, created.text
    assert not first.running
    with _server(tmp_path, name="second", port=first.port) as second:
        assert second.url == first.url
        listed = httpx.get(
            f"{second.url}{API_PREFIX}/admin/terminals",
            headers=ADMIN,
            timeout=30,
        )
        assert listed.status_code == 200, listed.text
        assert "gate-1" in listed.text
    assert (tmp_path / "srv" / "second.log").is_file()
