"""Slow and excess clients against a real server process (issue 10, item 4).

A client sending its request a byte at a time must be cut off after the head or body
deadline; a connection beyond ``listen.max_connections`` must get 503 at once. The
waits below are hang guards far above the configured deadlines, not timings.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sync_server.process import ServerProcess
from tests.server.helpers import ADMIN_TOKEN

HANG_GUARD_S = 60.0


@pytest.fixture
def server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[ServerProcess]:
    # The child inherits the environment: HADIR_LISTEN__* set the limits under test.
    for key, value in request.param.items():
        monkeypatch.setenv(f"HADIR_LISTEN__{key.upper()}", str(value))
    proc = ServerProcess(tmp_path, f"sqlite:///{tmp_path / 'server.db'}", ADMIN_TOKEN)
    with proc:
        yield proc


def _connect(server: ServerProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=HANG_GUARD_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def _read_response(sock: socket.socket) -> bytes:
    """One whole response (head and Content-Length body) from a kept-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def _trickle(sock: socket.socket, payload: bytes, every_s: float) -> bytes:
    """Send ``payload`` a byte at a time until the server answers or closes; its answer."""
    for byte in payload:
        readable, _, _ = select.select([sock], [], [], every_s)
        if readable:
            return _read_until_closed(sock)
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return b""
    pytest.fail("the server read the whole slow request without cutting it off")


SLOW = {"header_timeout_s": 1, "body_timeout_s": 1}


@pytest.mark.parametrize("server", [SLOW], indirect=True)
def test_a_slow_head_is_cut_off(server: ServerProcess) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: " + b"s" * 200 + b"\r\n\r\n"
    with _connect(server) as sock:
        # A byte every 0.1 s would take 20 s; the head deadline is 1 s from the connection.
        assert _trickle(sock, head, 0.1) == b""
    with _connect(server) as sock:
        # Connecting and sending nothing holds nothing either.
        assert _read_until_closed(sock) == b""
    assert "slow_client_cut" in server.log()
    # The server still answers others.
    assert httpx.get(server.url + "/healthz").status_code == 200


@pytest.mark.parametrize("server", [SLOW], indirect=True)
def test_a_slow_head_after_a_kept_alive_response_is_cut_off(server: ServerProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_response(sock).startswith(b"HTTP/1.1 200")
        # The next request on the same connection trickles: the deadline applies again.
        assert _trickle(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"x" * 100, 0.1) == b""


@pytest.mark.parametrize("server", [SLOW], indirect=True)
def test_a_slow_body_is_cut_off(server: ServerProcess) -> None:
    form = b"username=alice&password=" + b"p" * 200 + b"&csrf_token=x"
    head = (
        b"POST /admin/login HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: " + str(len(form)).encode() + b"\r\n\r\n"
    )
    with _connect(server) as sock:
        sock.sendall(head)
        answer = _trickle(sock, form, 0.1)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"connection: close" in answer.lower()
    assert b"body_timeout" in answer
    # The API too: a terminal's batch that trickles.
    body = b'{"device_id": "t1", "events": []}' * 10
    with _connect(server) as sock:
        sock.sendall(
            b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer nope\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
        )
        answer = _trickle(sock, body, 0.1)
    # Credentials are checked before the body is read: refused at once, and closed.
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]


CAPPED = {"max_connections": 4, "header_timeout_s": 120, "body_timeout_s": 120}


@pytest.mark.parametrize("server", [CAPPED], indirect=True)
def test_connections_beyond_the_cap_get_503_at_once(server: ServerProcess) -> None:
    held = []
    try:
        for _ in range(4):
            sock = _connect(server)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
            held.append(sock)
        time.sleep(0.5)  # let the server accept them (not a timing assertion)
        with _connect(server) as extra:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = _read_until_closed(extra)
        # Refused and closed by the server, not held until the others finish.
        assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
    finally:
        for sock in held:
            sock.close()
    # Capacity comes back when the slow clients go.
    deadline = time.monotonic() + HANG_GUARD_S
    while httpx.get(server.url + "/healthz").status_code != 200:
        assert time.monotonic() < deadline, "capacity never came back"
        time.sleep(0.2)
