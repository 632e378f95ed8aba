"""A loopback HTTP/1.1 proxy that misbehaves on purpose, between a terminal and a real server.

Each request is read whole (headers and ``Content-Length`` body), then a policy
decides what happens to it:

* ``FORWARD``: to the server and back, unchanged;
* ``DROP_REPLY``: to the server, which processes (commits) it; the reply is
  thrown away and the client's connection reset: the terminal never learns;
* ``FAIL_500``: answered 500 here, the server never sees it;
* ``FAIL_500_AFTER``: to the server (committed), the reply replaced by a 500;
* ``HOLD_REPLY``: to the server (committed), the reply held for ``hold_s`` before
  it is sent (a client with a shorter timeout gives up first);
* ``RESET``: the client's connection reset before anything is forwarded.

With no upstream (``upstream_port = None``) every connection is reset: the
server is "down" while the proxy keeps the terminal's URL stable across server
restarts on other ports.
"""

from __future__ import annotations

import contextlib
import enum
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType


class Action(enum.Enum):
    FORWARD = "forward"
    DROP_REPLY = "drop_reply"
    FAIL_500 = "fail_500"
    FAIL_500_AFTER = "fail_500_after"
    HOLD_REPLY = "hold_reply"
    RESET = "reset"


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    number: int
    """1-based count of requests the proxy has seen."""


Policy = Callable[[Request], Action]

_ERROR_BODY = b'{"reason":"proxy_fault","detail":"injected by the test proxy"}'
_SERVER_ERROR = (
    b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\n"
    b"content-length: " + str(len(_ERROR_BODY)).encode() + b"\r\n\r\n" + _ERROR_BODY
)


def forward_all(_request: Request) -> Action:
    return Action.FORWARD


class FaultProxy:
    """Listens on 127.0.0.1 (a free port); ``url`` is what the terminal talks to."""

    def __init__(
        self, upstream_port: int | None, policy: Policy = forward_all, hold_s: float = 2.0
    ) -> None:
        self.upstream_port = upstream_port
        self.policy = policy
        self.hold_s = hold_s
        self.actions: Counter[Action] = Counter()
        self.upstream_replied = threading.Event()
        """Set whenever the server answered a request (it has committed it)."""
        self._lock = threading.Lock()
        self._count = 0
        self._closing = threading.Event()
        self._clients: set[socket.socket] = set()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self._thread.start()

    @property
    def requests(self) -> int:
        with self._lock:
            return self._count

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._clients.add(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        buffer = b""
        try:
            while not self._closing.is_set():
                request, buffer = _read_message(client, buffer)
                if request is None:
                    return
                head = request.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
                with self._lock:
                    self._count += 1
                    number = self._count
                action = self.policy(Request(head[0], head[1], number))
                with self._lock:
                    self.actions[action] += 1
                if action is Action.RESET:
                    _reset(client)
                    return
                if action is Action.FAIL_500:
                    client.sendall(_SERVER_ERROR)
                    continue
                reply = self._upstream(request)
                if reply is None:
                    _reset(client)
                    return
                self.upstream_replied.set()
                if action is Action.DROP_REPLY:
                    _reset(client)
                    return
                if action is Action.FAIL_500_AFTER:
                    client.sendall(_SERVER_ERROR)
                    continue
                if action is Action.HOLD_REPLY and self._closing.wait(self.hold_s):
                    return
                client.sendall(reply)
        except OSError:
            pass
        finally:
            with self._lock:
                self._clients.discard(client)
            with contextlib.suppress(OSError):
                client.close()

    def _upstream(self, request: bytes) -> bytes | None:
        port = self.upstream_port
        if port is None:
            return None
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as upstream:
                upstream.sendall(request)
                reply, _ = _read_message(upstream, b"")
        except OSError:
            return None
        return reply

    def close(self) -> None:
        self._closing.set()
        # close() alone does not wake a thread blocked in accept(); shutdown() does.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _read_message(sock: socket.socket, buffer: bytes) -> tuple[bytes | None, bytes]:
    """One HTTP/1.1 message (head + Content-Length body); ``None`` at a clean EOF."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        buffer += chunk
    head, rest = buffer.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        elif name.strip().lower() == b"transfer-encoding":
            raise OSError("chunked bodies are not supported by the test proxy")
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        rest += chunk
    return head + b"\r\n\r\n" + rest[:length], rest[length:]


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): the peer sees 'connection reset', not a clean end."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()
