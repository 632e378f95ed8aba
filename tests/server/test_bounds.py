"""Bad but well-formed input is a 422 naming the field, never a 500 (issue 10, items 2 and 3).

A terminal retries every 5xx, so a value the server cannot handle used to be resent forever.
Every number and time is bounded at the protocol edge (edge.protocol, "Limits" in
docs/protocol.md); the 422 body never echoes the value, which JSON may not be able to hold.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from edge.protocol import API_PREFIX
from sync_server.db import Database, clock_refs
from tests.server.helpers import ADMIN, Api, batch, bearer, event, heartbeat, utcnow

JSON = {"Content-Type": "application/json"}


def _raw(body: dict[str, Any], old: str, new: str) -> bytes:
    """The body as JSON text with one token replaced: NaN, Infinity, 1e309 and lone
    surrogates cannot be produced by a JSON encoder, but a hostile client sends them."""
    text = json.dumps(body)
    assert old in text, old
    return text.replace(old, new, 1).encode("utf-8", "surrogatepass")


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def _post(api: Api, token: str, path: str, content: bytes) -> Any:
    headers = {**bearer(token), **JSON}
    return api.client.post(API_PREFIX + path, content=content, headers=headers)


def _assert_422_at(response: Any, loc: list[str | int]) -> None:
    assert response.status_code == 422, (loc, response.status_code, response.text)
    body = response.json()
    assert body["reason"] == "invalid_request"
    assert loc in [problem["loc"] for problem in body["detail"]], body
    for problem in body["detail"]:
        # Never the value itself: it may be what JSON cannot hold.
        assert sorted(problem) == ["loc", "msg", "type"]
        assert problem["msg"]


def _unsynced(**kw: Any) -> dict[str, Any]:
    return batch("t1", [event("t1", clock_synced=False, **kw)], clock_synced=False)


def test_event_values_json_cannot_echo_are_422_naming_the_field(api: Api) -> None:
    token = api.create_terminal("t1")
    before = api.counts()
    plain = batch("t1", [event("t1", boot_id="ev-boot")])
    cases: list[tuple[bytes, list[str | int]]] = [
        (_raw(plain, '"distance": 0.3', '"distance": NaN'), ["body", "events", 0, "distance"]),
        (_raw(plain, '"distance": 0.3', '"distance": Infinity'), ["body", "events", 0, "distance"]),
        (_raw(plain, '"distance": 0.3', '"distance": 1e309'), ["body", "events", 0, "distance"]),
        (_raw(plain, '"margin": 0.2', '"margin": NaN'), ["body", "events", 0, "margin"]),
        (
            _raw(plain, '"person_id": "p1"', '"person_id": "\\ud800"'),
            ["body", "events", 0, "person_id"],
        ),
        (
            _raw(plain, '"boot_id": "ev-boot"', '"boot_id": "\\udfff"'),
            ["body", "events", 0, "boot_id"],
        ),
        (
            _raw(plain, '"sent_monotonic": 2000.0', '"sent_monotonic": -Infinity'),
            ["body", "sent_monotonic"],
        ),
    ]
    for content, loc in cases:
        _assert_422_at(_post(api, token, "/events", content), loc)
    assert api.counts() == before


def test_times_and_clocks_that_would_overflow_correction_are_422(api: Api) -> None:
    token = api.create_terminal("t1")
    before = api.counts()
    year_1 = "0001-01-01T00:00:00+14:00"
    cases: list[tuple[bytes, list[str | int]]] = [
        (_json(_unsynced(monotonic=1e15)), ["body", "events", 0, "monotonic"]),
        (
            _raw(_unsynced(monotonic=7.5), '"monotonic": 7.5', '"monotonic": Infinity'),
            ["body", "events", 0, "monotonic"],
        ),
        (
            _json(batch("t1", [event("t1", clock_synced=False)], sent_monotonic=1e300)),
            ["body", "sent_monotonic"],
        ),
    ]
    for sent in ("0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00", "2026-11-25T08:00:00"):
        body = _unsynced()
        body["sent_wall_time"] = sent
        cases.append((_json(body), ["body", "sent_wall_time"]))
    for wall in (year_1, "1969-12-31T23:59:59Z", "2200-01-01T00:00:00Z", 1764576000, "0.5"):
        body = batch("t1", [event("t1")])
        body["events"][0]["wall_time"] = wall
        cases.append((_json(body), ["body", "events", 0, "wall_time"]))
    for content, loc in cases:
        _assert_422_at(_post(api, token, "/events", content), loc)
    assert api.counts() == before

    # The edges of the range are fine.
    edge = batch("t1", [event("t1", wall_time=datetime(1970, 1, 1, tzinfo=UTC))])
    assert api.post_batch(token, edge).json()["results"][0]["status"] == "accepted"


def test_heartbeat_numbers_and_times_past_the_columns_are_422(api: Api) -> None:
    token = api.create_terminal("t1")
    before = api.counts()
    beat = heartbeat("t1")
    cases: list[tuple[bytes, list[str | int]]] = [
        (_json(heartbeat("t1", wall_time="0001-01-01T00:00:00+14:00")), ["body", "wall_time"]),
        (_json(heartbeat("t1", wall_time="2026-11-25T08:00:00")), ["body", "wall_time"]),
        (_json(heartbeat("t1", backlog=2**63)), ["body", "backlog"]),
        (_json(heartbeat("t1", backlog=2**31)), ["body", "backlog"]),
        (_json(heartbeat("t1", enrolment_version=2**63)), ["body", "enrolment_version"]),
        (_json(heartbeat("t1", monotonic=1e300)), ["body", "monotonic"]),
        (_raw(beat, '"fps": 14.5', '"fps": NaN'), ["body", "fps"]),
        (
            _raw(beat, '"backlog_oldest_age_s": 12.5', '"backlog_oldest_age_s": Infinity'),
            ["body", "backlog_oldest_age_s"],
        ),
        (
            _raw(beat, '"recognition_latency_ms": 180.0', '"recognition_latency_ms": 1e309'),
            ["body", "recognition_latency_ms"],
        ),
        (
            _raw(beat, '"software_version": "0.1.0"', '"software_version": "\\ud800"'),
            ["body", "software_version"],
        ),
    ]
    for content, loc in cases:
        _assert_422_at(_post(api, token, "/heartbeat", content), loc)
    assert api.counts() == before


def test_a_heartbeat_cannot_poison_its_boots_clock_reference(api: Api) -> None:
    """Item 3: an infinite monotonic reading stored as a boot's reference made every later
    batch with an unsynced event of that boot fail with 500, forever."""
    token = api.create_terminal("t1")
    poison = _raw(
        heartbeat("t1", clock_synced=False, boot_id="b1", monotonic=7.5),
        '"monotonic": 7.5',
        '"monotonic": Infinity',
    )
    _assert_422_at(_post(api, token, "/heartbeat", poison), ["body", "monotonic"])
    assert api.counts()["clock_refs"] == 0

    late = event("t1", clock_synced=False, boot_id="b1", monotonic=100.0)
    response = api.post_batch(token, batch("t1", [late], boot_id="b2"))
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["status"] == "accepted"


def test_a_reference_poisoned_before_the_bounds_is_ignored(api: Api) -> None:
    """A database written by an older server may already hold an infinite reading."""
    token = api.create_terminal("t1")
    db = Database.from_url(api.config.database_url, pool_size=1)
    try:
        with db.write() as conn:
            conn.execute(
                sa.insert(clock_refs).values(
                    device_id="t1",
                    boot_id="b1",
                    ref_wall=utcnow(),
                    ref_monotonic=float("inf"),
                    synced=True,
                    updated_at=utcnow(),
                )
            )
    finally:
        db.dispose()
    late = event("t1", clock_synced=False, boot_id="b1", monotonic=100.0)
    response = api.post_batch(token, batch("t1", [late], boot_id="b2"))
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["status"] == "accepted"
    (stored,) = api.admin("GET", "/admin/events").json()["events"]
    assert stored["time_source"] == "unsynced"


def test_admin_values_json_cannot_echo_are_422(api: Api) -> None:
    headers = {**ADMIN, **JSON}
    cases: list[tuple[str, bytes, list[str | int]]] = [
        ("/admin/people", b'{"id": "x1", "name": "\\ud800"}', ["body", "name"]),
        ("/admin/people", b'{"id": "x1", "name": "' + b"\\ud800" * 300 + b'"}', ["body", "name"]),
        ("/admin/people", b'{"id": "\\udc00", "name": "X"}', ["body", "id"]),
        ("/admin/terminals", b'{"id": NaN}', ["body", "id"]),
        ("/admin/terminals", b'{"id": "t9", "description": "\\ud800"}', ["body", "description"]),
        # A key pydantic cannot even read is reported at the body.
        ("/admin/terminals", b'{"id": "t9", "\\ud800": 1}', ["body"]),
    ]
    for path, content, loc in cases:
        response = api.client.post(API_PREFIX + path, content=content, headers=headers)
        _assert_422_at(response, loc)
    assert api.counts()["people"] == 0
    assert api.counts()["terminals"] == 0


def test_report_and_event_dates_are_bounded(api: Api) -> None:
    cases: list[tuple[str, list[str | int]]] = [
        ("/admin/reports/export.csv?from=0001-01-01&to=0001-01-02", ["query", "from"]),
        ("/admin/reports/export.csv?from=2026-01-01&to=9999-12-31", ["query", "to"]),
        ("/admin/reports/hrms-checkins?from=9999-12-30&to=9999-12-31", ["query", "from"]),
        ("/admin/reports/day?date=0001-01-01", ["query", "date"]),
        ("/admin/reports/day?date=9999-12-31", ["query", "date"]),
        ("/admin/reports/month?month=0001-01", ["query", "month"]),
        ("/admin/reports/month?month=9999-12", ["query", "month"]),
        ("/admin/events?start=2026-11-25T08:00:00", ["query", "start"]),
        ("/admin/events?end=0001-01-01T00:00:00%2B14:00", ["query", "end"]),
        # Numbers are not times or days, though pydantic would read them as Unix seconds.
        ("/admin/events?start=0.5", ["query", "start"]),
        ("/admin/reports/day?date=0", ["query", "date"]),
        ("/admin/reports/export.csv?from=1&to=2026-01-01", ["query", "from"]),
        ("/admin/shifts/99999999999", ["path", "shift_id"]),
    ]
    for path, loc in cases:
        _assert_422_at(api.admin("GET", path), loc)
    assert api.admin("GET", "/admin/reports/day?date=1970-01-01").status_code == 200
    assert api.admin("GET", "/admin/reports/month?month=2199-12").status_code == 200
    response = api.admin("PUT", "/admin/groups/default/shift", json={"shift_id": 2**40})
    _assert_422_at(response, ["body", "shift_id"])


def test_enrolment_version_past_bigint_is_422(api: Api) -> None:
    token = api.create_terminal("t1")
    response = api.as_terminal(token, "GET", "/enrolment/changes", params={"since": 2**63})
    _assert_422_at(response, ["query", "since"])


def test_a_body_that_is_not_utf8_is_422_like_malformed_json(api: Api) -> None:
    token = api.create_terminal("t1")
    _assert_422_at(_post(api, token, "/events", b'{"device_id": "\xff\xfe"}'), ["body"])
    response = api.client.post(
        API_PREFIX + "/admin/people", content=b"\xc3\x28", headers={**ADMIN, **JSON}
    )
    _assert_422_at(response, ["body"])


def test_405_lists_every_method_of_the_path(api: Api) -> None:
    for path, allowed in (
        ("/admin/people", "GET, POST"),
        ("/admin/shifts/1", "DELETE, GET, PATCH"),
        ("/events", "POST"),
    ):
        response = api.client.request("OPTIONS", API_PREFIX + path, headers=ADMIN)
        assert response.status_code == 405
        assert response.headers["Allow"] == allowed
        assert response.json()["reason"] == "method_not_allowed"


def test_openapi_documents_the_422_really_sent(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    assert "HTTPValidationError" not in components
    assert components["ValidationErrorBody"]["required"] == ["reason", "detail"]
    assert set(components["ValidationProblem"]["properties"]) == {"loc", "msg", "type"}
    documented = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            answer = operation["responses"].get("422")
            if answer is None:
                continue
            documented += 1
            shape = answer["content"]["application/json"]["schema"]
            refs = [shape.get("$ref")] + [s["$ref"] for s in shape.get("anyOf", [])]
            assert "#/components/schemas/ValidationErrorBody" in refs, (method, path)
    assert documented > 20
    # A multipart body the form parser cannot read is a 400, documented where one is taken.
    photos = schema["paths"][API_PREFIX + "/admin/people/{person_id}/photos"]["post"]
    assert photos["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    # An operation that refuses content itself after validation documents both shapes.
    refused = schema["paths"][API_PREFIX + "/admin/reports/export.csv"]["get"]["responses"]["422"]
    assert len(refused["content"]["application/json"]["schema"]["anyOf"]) == 2
