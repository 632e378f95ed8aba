"""Credentials: 401 vs 403, hashed tokens, revocation, and the shared bad-credential limit.

The limit never refuses a valid credential, counts a stale token against its own hash,
and is one atomic statement per count (issue 10, item 5).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from starlette.requests import Request

from edge.clock import utc_now
from sync_server.auth import (
    Authenticator,
    FailureLimiter,
    address_key,
    credential_key,
    hash_token,
    new_token,
)
from sync_server.config import AuthConfig
from sync_server.db import Database, auth_failures, migrate, terminals
from sync_server.errors import ApiError
from sync_server.metrics import Metrics
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
        blocked = app.as_terminal(f"guess-{id(app)}", "GET", "/terminal")
        assert blocked.status_code == 429
        assert int(blocked.headers["Retry-After"]) >= 1
        # The guesser is slowed, but the right credentials from the same address still work:
        # a neighbour behind the same NAT (or proxy) must not lock anyone out.
        assert app.as_terminal(token, "GET", "/terminal").status_code == 200
        assert app.client.get("/api/v1/admin/terminals", headers=ADMIN).status_code == 200
    assert first.client.get("/healthz").status_code == 200


def test_a_stale_token_is_counted_against_itself(make_api: Callable[..., Api]) -> None:
    api = make_api(auth=AuthConfig(max_failures=3, failure_window_s=60))
    token = api.create_terminal("t1")
    answers = [api.as_terminal("stale-token", "GET", "/terminal").status_code for _ in range(5)]
    assert answers == [401, 401, 401, 429, 429]
    # Repeating one token is not guessing: other bad tokens from this address still get 401.
    assert api.as_terminal("another-bad-token", "GET", "/terminal").status_code == 401
    assert api.as_terminal(token, "GET", "/terminal").status_code == 200
    db = Database.from_url(api.config.database_url)
    try:
        with db.read() as conn:
            keys = {row.client: row.failures for row in conn.execute(sa.select(auth_failures))}
    finally:
        db.dispose()
    # Counted by hash, never by the token itself; the address once per different token.
    assert keys[credential_key("stale-token")] == 5
    assert keys[address_key("testclient")] == 2
    assert not any("stale-token" in key for key in keys)


def _request(token: str, client: str) -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/api/v1/terminal",
            "headers": [(b"authorization", f"Bearer {token}".encode())],
            "client": (client, 40000),
        }
    )


def _status(check: Callable[[Request], object], request: Request) -> int:
    try:
        check(request)
    except ApiError as exc:
        return exc.status_code
    return 200


@pytest.mark.parametrize("same_token", [False, True], ids=["many-tokens", "one-token"])
def test_concurrent_bad_credentials_let_exactly_the_limit_through(
    db_url: str, same_token: bool
) -> None:
    # Threads sharing one database stand in for concurrent requests in one or more processes.
    db = Database.from_url(db_url, pool_size=16)
    try:
        migrate(db)
        auth = Authenticator(
            db, ADMIN_TOKEN, AuthConfig(max_failures=20, failure_window_s=300), Metrics()
        )
        start = threading.Barrier(16)
        answers: list[int] = []
        lock = threading.Lock()

        def burst(worker: int) -> None:
            start.wait()
            for n in range(5):
                # Many tokens from one address, or one token from many addresses.
                token = "stale" if same_token else f"guess-{worker}-{n}"
                client = f"10.0.{worker}.{n}" if same_token else "10.0.0.1"
                status = _status(auth.terminal, _request(token, client))
                with lock:
                    answers.append(status)

        threads = [threading.Thread(target=burst, args=(w,)) for w in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(answers) == [401] * 20 + [429] * 60
        # The valid token and the admin token pass from the blocked address.
        token = new_token()
        with db.write() as conn:
            conn.execute(
                sa.insert(terminals).values(
                    id="t1",
                    group_name="default",
                    description="",
                    token_hash=hash_token(token),
                    created_at=utc_now(),
                    revoked_at=None,
                    reset_below=0,
                )
            )
        assert auth.terminal(_request(token, "10.0.0.1")).id == "t1"
        assert _status(auth.admin, _request(ADMIN_TOKEN, "10.0.0.1")) == 200
    finally:
        db.dispose()


def test_the_window_ends(db_url: str) -> None:
    db = Database.from_url(db_url, pool_size=1)
    try:
        migrate(db)
        limiter = FailureLimiter(db, AuthConfig(max_failures=2, failure_window_s=60))
        start = utc_now()
        waits = [limiter.record("10.0.0.1", f"guess-{n}", now=start) for n in range(3)]
        assert waits[:2] == [None, None]
        assert waits[2] is not None
        assert 59 <= waits[2] <= 61
        later = start + timedelta(seconds=61)
        assert limiter.record("10.0.0.1", "guess-new", now=later) is None
    finally:
        db.dispose()


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
