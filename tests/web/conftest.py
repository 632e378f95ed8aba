"""Admin web fixtures: an app with an admin account, and a browser-like client that logs in.

Every database test runs on SQLite and on PostgreSQL (the server fixtures).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from sync_server.app import create_app
from sync_server.config import ServerConfig
from sync_server.db import Database, migrate
from sync_server.web.accounts import set_account
from tests.server.helpers import Api

ADMIN_USER = "alice"
ADMIN_PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "no CSRF field in the page"
    return found.group(1)


class Web:
    """A cookie-keeping client of the admin pages, plus the JSON API of the same app."""

    def __init__(self, client: TestClient, config: ServerConfig) -> None:
        self.client = client
        self.config = config
        self.api = Api(client, config)
        self.csrf = ""

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.client.get(path, **kwargs)
        return response

    def login(
        self, username: str = ADMIN_USER, password: str = ADMIN_PASSWORD, **extra: str
    ) -> httpx.Response:
        form = self.client.get("/admin/login")
        assert form.status_code == 200
        response: httpx.Response = self.client.post(
            "/admin/login",
            data={"username": username, "password": password, "csrf_token": csrf_of(form.text)}
            | extra,
            follow_redirects=False,
        )
        if response.status_code == 303:
            self.csrf = csrf_of(self.client.get("/admin/").text)
        return response

    def post(self, path: str, data: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        body = {"csrf_token": self.csrf, **(data or {})}
        response: httpx.Response = self.client.post(
            path, data=body, follow_redirects=False, **kwargs
        )
        return response


@pytest.fixture
def make_web(settings: ServerConfig) -> Iterator[Callable[..., Web]]:
    """A fresh client (own cookie jar) of an app with the account alice; not logged in."""
    db = Database.from_url(settings.database_url, pool_size=1)
    try:
        migrate(db)
        set_account(db, ADMIN_USER, ADMIN_PASSWORD)
    finally:
        db.dispose()
    clients: list[TestClient] = []

    def make(**overrides: Any) -> Web:
        config = settings.model_copy(update=overrides) if overrides else settings
        client = TestClient(create_app(config, environ={}), base_url="http://testserver")
        client.__enter__()
        clients.append(client)
        return Web(client, config)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def web(make_web: Callable[..., Web]) -> Web:
    """Logged in as alice."""
    client = make_web()
    assert client.login().status_code == 303
    return client
