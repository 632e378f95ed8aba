"""Health, readiness, metrics and the generated OpenAPI description."""

from __future__ import annotations

from collections.abc import Callable

from edge.protocol import MAX_BATCH
from tests.server.helpers import Api, batch, event


def test_healthz_and_readyz(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok", "detail": ""}
    assert api.client.get("/readyz").json() == {"status": "ok", "detail": ""}


def test_readyz_fails_without_schema(make_api: Callable[..., Api]) -> None:
    api = make_api(migrate_on_start=False)
    response = api.client.get("/readyz")
    assert response.status_code == 503
    assert "schema" in response.json()["detail"]
    assert api.client.get("/healthz").status_code == 200


def test_metrics_count_events_and_requests(api: Api) -> None:
    token = api.create_terminal("t1")
    body = batch("t1", [event("t1") for _ in range(4)])
    api.post_batch(token, body)
    api.post_batch(token, body)
    api.as_terminal("bad", "GET", "/terminal")
    text = api.client.get("/metrics").text
    assert 'hadir_server_events_total{status="accepted"} 4.0' in text
    assert 'hadir_server_events_total{status="duplicate"} 4.0' in text
    assert "hadir_server_event_batches_total 2.0" in text
    assert 'hadir_server_auth_failures_total{reason="invalid"} 1.0' in text
    assert (
        'hadir_server_request_duration_seconds_count{method="POST",route="/api/v1/events",'
        'status="200"} 2.0' in text
    )
    # Raw paths never become labels.
    api.client.get("/no/such/path/123")
    assert "/no/such/path" not in api.client.get("/metrics").text


def test_each_app_has_its_own_registry(make_api: Callable[..., Api]) -> None:
    first = make_api()
    second = make_api()
    token = first.create_terminal("t1")
    first.post_batch(token, batch("t1", [event("t1")]))
    assert 'status="accepted"} 1.0' in first.client.get("/metrics").text
    assert 'status="accepted"}' not in second.client.get("/metrics").text


def test_openapi_describes_the_api(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/v1/events",
        "/api/v1/enrolment/changes",
        "/api/v1/heartbeat",
        "/api/v1/terminal",
        "/api/v1/admin/terminals",
        "/api/v1/admin/terminals/{terminal_id}/revoke",
        "/api/v1/admin/people",
        "/api/v1/admin/people/{person_id}",
        "/api/v1/admin/people/{person_id}/photos",
        "/api/v1/admin/people/{person_id}/templates",
        "/api/v1/admin/events/rejected",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in paths, path
    schemas = spec["components"]["schemas"]
    assert schemas["EventBatch"]["properties"]["events"]["maxItems"] == MAX_BATCH
    for name in ("BatchResult", "EnrolmentPage", "Heartbeat", "HeartbeatAck", "ErrorBody"):
        assert name in schemas
    photo_body = paths["/api/v1/admin/people/{person_id}/photos"]["post"]["requestBody"]
    assert "multipart/form-data" in photo_body["content"]
    assert "image/jpeg" in photo_body["content"]
    assert {"terminalToken", "adminToken"} <= set(spec["components"]["securitySchemes"])
    events_op = paths["/api/v1/events"]["post"]
    assert {"401", "403", "413", "422"} <= set(events_op["responses"])
