"""Request body size limits, enforced before any handler runs.

A declared Content-Length over the limit is refused at once; a body without one
(chunked) is counted as it streams and refused the moment it passes the limit.
Handlers read the whole body before touching the database, so a refused body
never leaves anything written.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.responses import JSONResponse

from sync_server.errors import ApiError
from sync_server.metrics import ASGIApp, Message, Receive, Scope, Send


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
                    await self._refuse(scope, send, 400, "bad_request", "invalid Content-Length")
                    return
                if int(value) > limit:
                    await self._refuse(
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
            await self._refuse(scope, send, 413, "body_too_large", str(exc.detail))

    @staticmethod
    async def _refuse(scope: Scope, send: Send, status: int, reason: str, detail: str) -> None:
        response = JSONResponse({"reason": reason, "detail": detail}, status_code=status)
        await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def path_matcher(*patterns: str) -> Callable[[str], bool]:
    compiled = [re.compile(p) for p in patterns]
    return lambda path: any(c.fullmatch(path) for c in compiled)
