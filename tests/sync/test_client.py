"""SyncClient: requests as the protocol says, every failure translated at the boundary."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import numpy as np
import pytest

from edge.protocol import (
    API_PREFIX,
    AttendanceEvent,
    EventBatch,
    EventKind,
    EventStatus,
    encode_template,
)
from edge.sync import (
    AuthError,
    ProtocolError,
    RateLimitedError,
    RequestRefusedError,
    ServerError,
    ServerUnreachableError,
    SyncClient,
    SyncError,
    SyncTimeoutError,
)

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def _event(n: int = 0) -> AttendanceEvent:
    return AttendanceEvent(
        id=uuid.uuid4(),
        device_id="t1",
        person_id=f"p{n}",
        kind=EventKind.IN,
        wall_time=NOW,
        clock_synced=True,
        monotonic=100.0 + n,
        boot_id="b",
        distance=0.3,
        margin=0.2,
    )


def _batch(count: int = 3) -> EventBatch:
    return EventBatch(
        device_id="t1",
        sent_wall_time=NOW,
        sent_monotonic=200.0,
        boot_id="b",
        clock_synced=True,
        events=[_event(n) for n in range(count)],
    )


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> SyncClient:
    return SyncClient("http://server.test/", "tok-1", transport=httpx.MockTransport(handler))


def _answer(status: int, body: object = None, **kwargs: object) -> SyncClient:
    def handler(_request: httpx.Request) -> httpx.Response:
        if isinstance(body, bytes):
            return httpx.Response(status, content=body, **kwargs)  # type: ignore[arg-type]
        return httpx.Response(status, json=body, **kwargs)  # type: ignore[arg-type]

    return _client(handler)


def _raising(exc: Exception) -> SyncClient:
    def handler(_request: httpx.Request) -> httpx.Response:
        raise exc

    return _client(handler)


def test_push_sends_the_batch_and_parses_the_answer() -> None:
    seen: list[httpx.Request] = []
    batch = _batch(3)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = json.loads(request.content)
        statuses = ["accepted", "duplicate", "rejected"]
        return httpx.Response(
            200,
            json={
                "results": [
                    {
                        "id": e["id"],
                        "status": s,
                        "reason": "future_time" if s == "rejected" else None,
                    }
                    for e, s in zip(body["events"], statuses, strict=True)
                ],
                "server_time": NOW.isoformat(),
            },
        )

    with _client(handler) as client:
        result = client.push(batch)
    request = seen[0]
    assert request.method == "POST"
    assert request.url.path == f"{API_PREFIX}/events"
    assert request.headers["Authorization"] == "Bearer tok-1"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("hadir-edge/")
    assert EventBatch.model_validate_json(request.content) == batch
    assert [r.status for r in result.results] == [
        EventStatus.ACCEPTED,
        EventStatus.DUPLICATE,
        EventStatus.REJECTED,
    ]


def test_changes_heartbeat_whoami_and_ping_paths() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        path = request.url.path
        if path.endswith("/enrolment/changes"):
            return httpx.Response(
                200, json={"since": 4, "version": 4, "more": False, "changes": []}
            )
        if path.endswith("/terminal"):
            return httpx.Response(
                200,
                json={"id": "t1", "group": "hq", "server_time": NOW.isoformat(), "new": 1},
            )
        return httpx.Response(200, json={"status": "ok"})

    with _client(handler) as client:
        assert client.changes(4, limit=50).version == 4
        identity = client.whoami()
        assert client.ping() >= 0
    assert (identity.id, identity.group) == ("t1", "hq")
    assert seen == [
        f"http://server.test{API_PREFIX}/enrolment/changes?since=4&limit=50",
        f"http://server.test{API_PREFIX}/terminal",
        "http://server.test/healthz",
    ]


@pytest.mark.parametrize(
    ("exc", "expected", "builtin"),
    [
        (httpx.ConnectError("refused"), ServerUnreachableError, ConnectionError),
        (httpx.ReadError("reset by peer"), ServerUnreachableError, ConnectionError),
        (httpx.RemoteProtocolError("cut off"), ServerUnreachableError, ConnectionError),
        (httpx.ConnectTimeout("slow"), SyncTimeoutError, TimeoutError),
        (httpx.ReadTimeout("slow"), SyncTimeoutError, ConnectionError),
    ],
)
def test_transport_failures_are_unreachable(
    exc: Exception, expected: type[Exception], builtin: type[Exception]
) -> None:
    with pytest.raises(expected) as info:
        _raising(exc).push(_batch())
    assert isinstance(info.value, builtin)
    assert isinstance(info.value, SyncError)
    assert info.value.__cause__ is exc


@pytest.mark.parametrize(
    ("status", "reason", "expected", "builtin"),
    [
        (401, "invalid_token", AuthError, PermissionError),
        (403, "terminal_revoked", AuthError, PermissionError),
        (500, "", ServerError, SyncError),
        (503, "", ServerError, SyncError),
        (404, "not_found", ServerError, SyncError),
        (413, "body_too_large", RequestRefusedError, ValueError),
    ],
)
def test_error_statuses(
    status: int, reason: str, expected: type[Exception], builtin: type[Exception]
) -> None:
    with pytest.raises(expected) as info:
        _answer(status, {"reason": reason, "detail": "because"}).push(_batch())
    assert isinstance(info.value, builtin)
    assert info.value.status == status  # type: ignore[attr-defined]
    assert info.value.reason == reason  # type: ignore[attr-defined]
    assert str(status) in str(info.value)


def test_rate_limit_carries_retry_after() -> None:
    client = _answer(429, {"reason": "too_many_failures"}, headers={"Retry-After": "17"})
    with pytest.raises(RateLimitedError) as info:
        client.whoami()
    assert info.value.retry_after_s == 17
    garbled = _answer(429, {"reason": "x"}, headers={"Retry-After": "soon"})
    with pytest.raises(RateLimitedError) as info:
        garbled.whoami()
    assert info.value.retry_after_s == 60


def test_validation_error_names_the_events() -> None:
    detail = [
        {"loc": ["body", "events", 2, "wall_time"], "msg": "bad", "type": "x"},
        {"loc": ["body", "events", 0, "margin"], "msg": "bad", "type": "x"},
        {"loc": ["body", "events", 99, "margin"], "msg": "out of range", "type": "x"},
        {"loc": ["body", "sent_wall_time"], "msg": "bad", "type": "x"},
    ]
    with pytest.raises(RequestRefusedError) as info:
        _answer(422, {"detail": detail}).push(_batch(3))
    assert info.value.event_indexes == frozenset({0, 2})
    assert info.value.reason == "invalid_request"


def test_redirects_are_not_followed() -> None:
    client = _answer(307, b"", headers={"Location": "http://elsewhere.test/api/v1/events"})
    with pytest.raises(ServerError, match="unexpected status 307"):
        client.push(_batch())


@pytest.mark.parametrize(
    "body",
    [
        b"<html>proxy error</html>",
        b'{"results": "nope"}',
        b'{"results": [], "server_time": "2026-11-25T08:00:00Z"}',
    ],
)
def test_malformed_push_answers(body: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        _answer(200, body).push(_batch(2))
    assert isinstance(info.value, ValueError)


def test_answer_for_other_ids_is_refused() -> None:
    batch = _batch(2)
    other = {
        "results": [{"id": str(uuid.uuid4()), "status": "accepted"} for _ in batch.events],
        "server_time": NOW.isoformat(),
    }
    with pytest.raises(ProtocolError, match="one per event"):
        _answer(200, other).push(batch)


def _page_with(template: str) -> dict[str, object]:
    return {
        "since": 0,
        "version": 2,
        "more": False,
        "changes": [
            {"op": "upsert", "version": 1, "person_id": "ok", "name": "Ok",
             "templates": [encode_template(np.ones(128) / 11.3)]},
            {"op": "upsert", "version": 2, "person_id": "bad", "name": "Bad",
             "templates": [template]},
        ],
    }  # fmt: skip


@pytest.mark.parametrize(
    "template",
    [
        base64.b64encode(np.full(128, np.nan, dtype="<f4").tobytes()).decode(),
        base64.b64encode(np.zeros(127, dtype="<f4").tobytes()).decode(),
        "not base64 at all!",
    ],
    ids=["nan", "127-d", "not-base64"],
)
def test_corrupt_templates_fail_the_whole_page(template: str) -> None:
    with pytest.raises(ProtocolError, match="EnrolmentPage"):
        _answer(200, _page_with(template)).changes(0)
