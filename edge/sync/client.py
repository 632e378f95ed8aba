"""HTTP client of the sync protocol: the one place the terminal touches httpx.

Every failure leaves this module as a :class:`~edge.sync.errors.SyncError` leaf
(``raise ... from`` the httpx or pydantic error), and every answer is parsed into
the shared wire models of :mod:`edge.protocol`, so the jobs never see a raw
response. ``transport`` is the test seam: an ``httpx.MockTransport`` in unit
tests, nothing (a real socket) against a real server.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from edge import __version__
from edge.errors import ConfigError
from edge.protocol import (
    API_PREFIX,
    BatchResult,
    EnrolmentPage,
    EventBatch,
    Heartbeat,
    HeartbeatAck,
)
from edge.sync.config import SyncConfig, resolve_token, tls_trust
from edge.sync.errors import (
    AuthError,
    ProtocolError,
    RateLimitedError,
    RequestRefusedError,
    ServerError,
    ServerUnreachableError,
    SyncTimeoutError,
)

M = TypeVar("M", bound=BaseModel)

_REFUSED_STATUSES = frozenset({400, 413, 422})
_DEFAULT_RETRY_AFTER_S = 60.0


class TerminalIdentity(BaseModel):
    """``GET /api/v1/terminal``: who the token belongs to (diagnostics only)."""

    # Diagnostics should survive the server adding a field here.
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    group: str
    server_time: datetime


class SyncClient:
    """One terminal's connection to the server (keep-alive; thread-safe like httpx.Client)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": f"hadir-edge/{__version__}",
            },
            timeout=httpx.Timeout(timeout),
            transport=transport,
            verify=verify,
            # The API never redirects; following one could send the token elsewhere.
            follow_redirects=False,
        )

    @classmethod
    def from_config(
        cls,
        config: SyncConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> SyncClient:
        """Build from ``[sync]``; :class:`ConfigError` when the URL or the token is missing."""
        if config.server_url is None:
            raise ConfigError("sync.server_url is not set: sync is disabled")
        token = resolve_token(config, environ)
        if token is None:
            raise ConfigError(
                "sync.server_url is set but no terminal token is configured: set sync.token_file, "
                "HADIR_SYNC__TOKEN, or systemd LoadCredential=terminal_token"
            )
        return cls(
            config.server_url,
            token,
            transport=transport,
            timeout=config.timeout_s,
            verify=tls_trust(config),
        )

    # -- the protocol --------------------------------------------------------------------

    def push(self, batch: EventBatch) -> BatchResult:
        """``POST /events``; the answer is checked to list exactly the batch's ids, in order.

        An event without liveness evidence is sent without the field, not with ``null``:
        a server older than the field forbids unknown fields, and a terminal with the
        check off must still be able to sync with it.
        """
        without = {i: {"liveness"} for i, e in enumerate(batch.events) if e.liveness is None}
        response = self._request(
            "POST",
            f"{API_PREFIX}/events",
            content=batch.model_dump_json(exclude={"events": without}).encode(),
            batch=batch,
        )
        result = self._parse(BatchResult, response)
        sent = [e.id for e in batch.events]
        answered = [r.id for r in result.results]
        if answered != sent:
            # Acting on a partial or foreign answer could mark an unsent event as synced.
            raise ProtocolError(
                f"the server answered {len(answered)} results for a batch of {len(sent)} "
                "events, not one per event in request order"
            )
        return result

    def changes(self, since: int, limit: int | None = None) -> EnrolmentPage:
        """``GET /enrolment/changes``; templates are fully decoded and checked while parsing."""
        params: dict[str, int] = {"since": since}
        if limit is not None:
            params["limit"] = limit
        response = self._request("GET", f"{API_PREFIX}/enrolment/changes", params=params)
        return self._parse(EnrolmentPage, response)

    def heartbeat(self, beat: Heartbeat) -> HeartbeatAck:
        response = self._request(
            "POST", f"{API_PREFIX}/heartbeat", content=beat.model_dump_json().encode()
        )
        return self._parse(HeartbeatAck, response)

    def whoami(self) -> TerminalIdentity:
        """``GET /terminal``: checks reachability and the token in one call."""
        return self._parse(TerminalIdentity, self._request("GET", f"{API_PREFIX}/terminal"))

    def ping(self) -> float:
        """``GET /healthz`` (no credentials); returns the round trip in seconds."""
        start = time.perf_counter()
        self._request("GET", "/healthz")
        return time.perf_counter() - start

    # -- plumbing ------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        params: Mapping[str, int] | None = None,
        batch: EventBatch | None = None,
    ) -> httpx.Response:
        headers = {"Content-Type": "application/json"} if content is not None else None
        what = f"{method} {self.base_url}{path}"
        try:
            response = self._http.request(
                method, path, content=content, params=params, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise SyncTimeoutError(f"{what}: no answer within {self.timeout:g} s") from exc
        except httpx.TransportError as exc:
            raise ServerUnreachableError(f"{what}: {type(exc).__name__}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise ProtocolError(f"{what}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise _status_error(what, response, batch)
        if response.status_code != 200:
            raise ServerError(
                f"{what}: unexpected status {response.status_code}", status=response.status_code
            )
        return response

    @staticmethod
    def _parse(model: type[M], response: httpx.Response) -> M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            errors = exc.errors()
            where = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
            message = errors[0]["msg"] if errors else str(exc)
            raise ProtocolError(
                f"{response.request.method} {response.request.url.path}: malformed "
                f"{model.__name__} ({len(errors)} problem(s); first at "
                f"{where or 'top level'}: {message})"
            ) from exc

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SyncClient {self.base_url} timeout={self.timeout:g}s>"


def _status_error(what: str, response: httpx.Response, batch: EventBatch | None) -> Exception:
    status = response.status_code
    body = _json_or_none(response)
    reason = ""
    detail: Any = None
    if isinstance(body, dict):
        reason = str(body.get("reason") or "")
        detail = body.get("detail")
    message = f"{what}: {status} {reason or response.reason_phrase}"
    if isinstance(detail, str):
        message += f": {detail}"
    if status in (401, 403):
        return AuthError(message, status=status, reason=reason, detail=detail)
    if status == 429:
        return RateLimitedError(
            message,
            retry_after_s=_retry_after(response.headers.get("Retry-After")),
            reason=reason,
            detail=detail,
        )
    if status in _REFUSED_STATUSES:
        indexes = _event_indexes(detail, batch) if status == 422 else frozenset()
        if status == 422 and not reason:
            reason = "invalid_request"
        return RequestRefusedError(
            message, status=status, reason=reason, detail=detail, event_indexes=indexes
        )
    return ServerError(message, status=status, reason=reason, detail=detail)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _retry_after(value: str | None) -> float:
    try:
        seconds = float(value) if value is not None else _DEFAULT_RETRY_AFTER_S
    except ValueError:
        return _DEFAULT_RETRY_AFTER_S
    return min(max(seconds, 0.0), 3600.0)


def _event_indexes(detail: Any, batch: EventBatch | None) -> frozenset[int]:
    """Which events a 422 names: FastAPI's ``loc`` is ``["body", "events", i, field]``."""
    if batch is None or not isinstance(detail, list):
        return frozenset()
    found: set[int] = set()
    for item in detail:
        loc = item.get("loc") if isinstance(item, dict) else None
        if (
            isinstance(loc, list)
            and len(loc) >= 3
            and loc[:2] == ["body", "events"]
            and isinstance(loc[2], int)
            and 0 <= loc[2] < len(batch.events)
        ):
            found.add(loc[2])
    return frozenset(found)


__all__ = ["SyncClient", "TerminalIdentity"]
