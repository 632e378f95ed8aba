"""Errors of the sync client: every httpx failure is translated into one of these.

Each leaf also subclasses the builtin a caller would naturally catch, like the
rest of :mod:`edge.errors`: ``except ConnectionError`` sees an unreachable server,
``except PermissionError`` a refused token, ``except ValueError`` a malformed answer.
"""

from __future__ import annotations

from edge.errors import HadirError


class SyncError(HadirError):
    """Root of everything that can go wrong talking to the server."""


class ServerUnreachableError(SyncError, ConnectionError):
    """No answer: connection refused or reset, DNS failure, the reply cut off.

    The request may or may not have been processed; resending is safe because
    every call is idempotent (events by id, the feed by version).
    """


class SyncTimeoutError(ServerUnreachableError, TimeoutError):
    """The server did not answer within the configured timeout."""


class HTTPStatusError(SyncError):
    """The server answered with an error status. ``reason`` is its error code."""

    def __init__(
        self, message: str, *, status: int, reason: str = "", detail: object = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.detail = detail


class AuthError(HTTPStatusError, PermissionError):
    """401/403: the token is missing, unknown or revoked, or names another terminal.

    Retrying soon cannot help (and each refusal counts towards the server's limit for
    that token), so the jobs wait the longest backoff.
    """


class ServerError(HTTPStatusError):
    """5xx, or a status the protocol does not define: the server's problem; retry later."""


class RateLimitedError(ServerError):
    """429: too many recent failures with this credential (or from this address); wait
    ``retry_after_s``."""

    def __init__(
        self, message: str, *, retry_after_s: float, reason: str = "", detail: object = None
    ) -> None:
        super().__init__(message, status=429, reason=reason, detail=detail)
        self.retry_after_s = retry_after_s


class RequestRefusedError(HTTPStatusError, ValueError):
    """4xx for the request itself (422 validation, 413 too large): resending it unchanged fails
    again. ``event_indexes`` names the events of a batch a 422 pointed at."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        reason: str = "",
        detail: object = None,
        event_indexes: frozenset[int] = frozenset(),
    ) -> None:
        super().__init__(message, status=status, reason=reason, detail=detail)
        self.event_indexes = event_indexes


class ProtocolError(SyncError, ValueError):
    """The server's answer is malformed: not JSON, not the model, ids that do not match."""


__all__ = [
    "AuthError",
    "HTTPStatusError",
    "ProtocolError",
    "RateLimitedError",
    "RequestRefusedError",
    "ServerError",
    "ServerUnreachableError",
    "SyncError",
    "SyncTimeoutError",
]
