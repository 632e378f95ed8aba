"""Credentials: 401 vs 403, hashed tokens, revocation, and the shared bad-credential limit."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from sync_server.config import AuthConfig
from sync_server.db import Database, terminals
from tests.server.helpers import ADMIN, ADMIN_TOKEN, Api, batch, bearer, event, heartbeat

TERMINAL_ENDPOINTS = [
    ("POST", "/events", {"json": batch("t1", [])}),
    ("GET", "/enrolment/changes", {"params": {"since": 0}}),
    ("POST", "/heartbeat", {"json": heartbeat("t1")}),
    ("GET", "/terminal", {}),
]
ADMIN_ENDPOINTS = [
    ("GET", "/admin/terminals", {}),
    ("POST", "/admin/terminals", {"json": {"id": "new"}}),
    ("GET", "/admin/people", {}),
    ("POST", "/admin/people", {"json": {"id": "x", "name": "X"}}),
    ("DELETE", "/admin/people/x", {}),
    ("GET", "/admin/events", {}),
    ("GET", "/admin/events/rejected", {}),
]


def test_missing_and_unknown_credentials_are_401(api: Api) -> None:
    api.create_terminal("t1")
    before = api.counts()
    for method, path, kwargs in TERMINAL_ENDPOINTS + ADMIN_ENDPOINTS:
        missing = api.client.request(method, "/api/v1" + path, **kwargs)
        assert missing.status_code == 401, (method, path)
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        assert missing.json()["reason"] == "missing_credentials"
        wrong = api.as_terminal("not-a-token", method, path, **kwargs)
        assert wrong.status_code == 401, (method, path)
        assert wrong.json()["reason"] == "invalid_token"
    basic = api.client.get("/api/v1/admin/people", headers={"Authorization": "Basic YTpi"})
    assert basic.status_code == 401
    assert api.counts() == before


def test_wrong_role_is_403(api: Api) -> None:
    token = api.create_terminal("t1")
    for method, path, kwargs in ADMIN_ENDPOINTS:
        response = api.as_terminal(token, method, path, **kwargs)
        assert response.status_code == 403, (method, path)
        assert response.json()["reason"] == "admin_only"
    for method, path, kwargs in TERMINAL_ENDPOINTS:
        response = api.client.request(method, "/api/v1" + path, headers=ADMIN, **kwargs)
        assert response.status_code == 403, (method, path)
        assert response.json()["reason"] == "terminal_only"


def test_token_is_shown_once_and_stored_hashed(api: Api) -> None:
    created = api.admin("POST", "/admin/terminals", json={"id": "t1", "group": "site-a"}).json()
    token = created["token"]
    assert len(token) >= 40
    listed = api.admin("GET", "/admin/terminals").json()["terminals"]
    assert [t["id"] for t in listed] == ["t1"]
    assert "token" not in listed[0]
    assert "token" not in api.admin("GET", "/admin/terminals/t1").json()
    db = Database.from_url(api.config.database_url)
    try:
        with db.read() as conn:
            stored = conn.execute(sa.select(terminals.c.token_hash)).scalar_one()
    finally:
        db.dispose()
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored
    me = api.as_terminal(token, "GET", "/terminal").json()
    assert (me["id"], me["group"]) == ("t1", "site-a")


def test_duplicate_terminal_is_409(api: Api) -> None:
    api.create_terminal("t1")
    response = api.admin("POST", "/admin/terminals", json={"id": "t1"})
    assert response.status_code == 409
    assert response.json()["reason"] == "terminal_exists"


def test_revoked_terminal_is_403_everywhere_and_rotation_restores(api: Api) -> None:
    token = api.create_terminal("t1")
    assert api.post_batch(token, batch("t1", [event("t1")])).status_code == 200
    revoked = api.admin("POST", "/admin/terminals/t1/revoke")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    before = api.counts()
    for method, path, kwargs in TERMINAL_ENDPOINTS:
        response = api.as_terminal(token, method, path, **kwargs)
        assert response.status_code == 403, (method, path)
        assert response.json()["reason"] == "terminal_revoked"
    assert api.counts() == before

    rotated = api.admin("POST", "/admin/terminals/t1/token").json()
    assert rotated["revoked_at"] is None
    assert api.as_terminal(token, "GET", "/terminal").status_code == 401
    assert api.as_terminal(rotated["token"], "GET", "/terminal").status_code == 200


def test_unknown_terminal_is_404(api: Api) -> None:
    assert api.admin("POST", "/admin/terminals/nope/revoke").status_code == 404
    assert api.admin("GET", "/admin/terminals/nope").json()["reason"] == "unknown_terminal"


def test_no_admin_token_configured_refuses_admin_calls(make_api: Callable[..., Api]) -> None:
    api = make_api(admin_token=None)
    response = api.admin("GET", "/admin/terminals")
    assert response.status_code == 401


def test_bad_credentials_are_limited_across_processes(make_api: Callable[..., Api]) -> None:
    # Two apps on one database stand in for two server processes: the count is shared.
    limit = AuthConfig(max_failures=5, failure_window_s=60)
    first = make_api(auth=limit)
    second = make_api(auth=limit)
    token = first.create_terminal("t1")
    for n in range(5):
        app = first if n % 2 else second
        assert app.as_terminal(f"guess-{n}", "GET", "/terminal").status_code == 401
    for app in (first, second):
        blocked = app.as_terminal("guess-x", "GET", "/terminal")
        assert blocked.status_code == 429
        assert int(blocked.headers["Retry-After"]) >= 1
        # Once blocked, even a right answer is refused: guessing must not pay off.
        assert app.as_terminal(token, "GET", "/terminal").status_code == 429
        assert app.client.get("/api/v1/admin/terminals", headers=ADMIN).status_code == 429
    # Other addresses are unaffected, and health stays reachable.
    assert first.client.get("/healthz").status_code == 200


@pytest.mark.parametrize("header", ["Bearer", "Bearer  ", "Token abc", "bearer " + "x" * 600])
def test_malformed_authorization_header_is_401(api: Api, header: str) -> None:
    response = api.client.get("/api/v1/terminal", headers={"Authorization": header})
    assert response.status_code == 401


def test_admin_token_is_case_sensitive(api: Api) -> None:
    response = api.client.get("/api/v1/admin/people", headers=bearer(ADMIN_TOKEN.upper()))
    assert response.status_code == 401


def test_credentials_are_checked_before_the_body(api: Api) -> None:
    # Unauthenticated garbage gets 401, not a 422 that would describe the schema.
    for path in ("/events", "/heartbeat", "/admin/people", "/admin/people/x/photos"):
        response = api.client.post(
            "/api/v1" + path,
            content=b"{not json",
            headers={"Content-Type": "application/json", "Authorization": "Bearer nope"},
        )
        assert response.status_code == 401, path
    token = api.create_terminal("t1")
    wrong_role = api.as_terminal(
        token, "POST", "/admin/people", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert wrong_role.status_code == 403
