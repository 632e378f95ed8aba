"""Request limits, enforced before any handler runs: body size, body time, head time.

A declared Content-Length over the limit is refused at once; a body without one
(chunked) is counted as it streams and refused the moment it passes the limit.
Handlers read the whole body before touching the database, so a refused body
never leaves anything written.

Slow clients: a connection costs a file descriptor for as long as its client takes,
and uvicorn waits for a request's head and body as long as the client likes. The
head gets a deadline in :class:`HeadTimeoutProtocol` (uvicorn's h11 protocol plus a
timer), the body one in :class:`BodyTimeoutMiddleware`; uvicorn's own
``limit_concurrency`` answers 503 beyond the connection cap (see ``cli.run_server``).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

import structlog
from starlette.responses import JSONResponse
from uvicorn.protocols.http.h11_impl import H11Protocol

from sync_server.errors import ApiError
from sync_server.metrics import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger(__name__)


class BodyTooLargeError(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, "body_too_large", f"request body is larger than {limit:,} bytes")


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        default_limit: int,
        large_limit: int,
        large_paths: Callable[[str], bool],
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.large_limit = large_limit
        self.large_paths = large_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.large_limit if self.large_paths(scope["path"]) else self.default_limit
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if not value.isdigit():
                    await _refuse(scope, send, 400, "bad_request", "invalid Content-Length")
                    return
                if int(value) > limit:
                    await _refuse(
                        scope, send, 413, "body_too_large", BodyTooLargeError(limit).detail
                    )
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException: FastAPI's body parser re-raises those unchanged.
                    raise BodyTooLargeError(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLargeError as exc:
            if started:
                raise
            await _refuse(scope, send, 413, "body_too_large", str(exc.detail))


async def _refuse(
    scope: Scope,
    send: Send,
    status: int,
    reason: str,
    detail: str,
    headers: dict[str, str] | None = None,
) -> None:
    body = {"reason": reason, "detail": detail}
    response = JSONResponse(body, status_code=status, headers=headers)
    await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


class BodyTimeoutError(ApiError):
    def __init__(self, timeout_s: float) -> None:
        super().__init__(
            408,
            "body_timeout",
            f"the request body did not arrive within {timeout_s:g} s",
            headers={"Connection": "close"},
        )


class BodyTimeoutMiddleware:
    """Refuses a request whose whole body has not arrived ``timeout_s`` after its head.

    One deadline for the whole body, not per chunk: a byte every few seconds must not
    keep a connection forever. Whatever the app answers after the deadline (408 from
    here, or its own error when it caught ours), the answer says ``Connection: close``,
    so uvicorn drops the connection instead of reading the rest of the trickle.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        timeout_s: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self._monotonic = monotonic

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = self._monotonic() + self.timeout_s
        body_done = False
        timed_out = False
        started = False

        async def timed_receive() -> Message:
            nonlocal body_done, timed_out
            if body_done:
                # After the body only a disconnect can come, and waiting for it is allowed.
                return await receive()
            try:
                remaining = deadline - self._monotonic()
                if remaining <= 0:
                    raise TimeoutError
                message = await asyncio.wait_for(receive(), remaining)
            except TimeoutError:
                timed_out = True
                client = scope.get("client")
                log.warning(
                    "slow_client_cut",
                    stage="body",
                    client=client[0] if client else None,
                    timeout_s=self.timeout_s,
                )
                raise BodyTimeoutError(self.timeout_s) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def closing_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if timed_out:
                    headers = [
                        (name, value)
                        for name, value in message.get("headers", [])
                        if name.lower() != b"connection"
                    ]
                    message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, timed_receive, closing_send)
        except BodyTimeoutError as exc:
            if started:
                raise
            await _refuse(scope, send, 408, exc.reason, str(exc.detail), {"Connection": "close"})


class HeadTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, plus a deadline for each request's line and headers.

    uvicorn closes a kept-alive connection that stays silent, but a client sending its
    head a byte at a time (or one that connects and sends nothing) is waited for
    forever. The deadline runs from the connection's start, and again from the end of
    each response on a kept-alive connection; the bytes that trickle in do not reset
    it. A body the app answered without reading (a 401 before the upload) counts as
    part of the wait for the next head. Built by ``functools.partial(HeadTimeoutProtocol,
    head_timeout_s=...)`` as uvicorn's ``http`` option.
    """

    def __init__(self, *args: Any, head_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timeout_s = head_timeout_s
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._between_requests():
            self._stop_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._between_requests() and not self.transport.is_closing():
            self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def _between_requests(self) -> bool:
        # No request the app is working on: a head is awaited (or an unread body drains).
        return self.cycle is None or self.cycle.response_complete

    def _await_head(self) -> None:
        self._stop_head_timer()
        self._head_timer = self.loop.call_later(self._head_timeout_s, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._between_requests() and not self.transport.is_closing():
            log.warning(
                "slow_client_cut",
                stage="head",
                client=self.client[0] if self.client else None,
                timeout_s=self._head_timeout_s,
            )
            self.transport.close()


def path_matcher(*patterns: str) -> Callable[[str], bool]:
    compiled = [re.compile(p) for p in patterns]
    return lambda path: any(c.fullmatch(path) for c in compiled)
