"""Fixtures of the corrections and audit tests: a logged-in admin web client (alice) of an app
in a given site zone, outside tests/web (whose conftest the hr tests do not see).

The fixtures are registered under their ``name``; a test module imports the functions
(``from tests.hr.corrections_support import hr_web_fixture  # noqa: F401``) and asks for
``hr_web`` / ``make_hr_web``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sync_server.app import create_app
from sync_server.config import ServerConfig
from sync_server.db import Database, migrate
from sync_server.web.accounts import set_account
from tests.web.conftest import ADMIN_PASSWORD, ADMIN_USER, Web

SITE_ZONE = "Asia/Jakarta"


@pytest.fixture(name="make_hr_web")
def make_hr_web_fixture(settings: ServerConfig) -> Iterator[Callable[..., Web]]:
    """A fresh client (own cookie jar) of an app with the account alice, logged in."""
    db = Database.from_url(settings.database_url, pool_size=1)
    try:
        migrate(db)
        set_account(db, ADMIN_USER, ADMIN_PASSWORD)
    finally:
        db.dispose()
    clients: list[TestClient] = []

    def make(login: bool = True, **overrides: Any) -> Web:
        config = settings.model_copy(update={"site_timezone": SITE_ZONE, **overrides})
        client = TestClient(create_app(config, environ={}), base_url="http://testserver")
        client.__enter__()
        clients.append(client)
        web = Web(client, config)
        if login:
            assert web.login().status_code == 303
        return web

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture(name="hr_web")
def hr_web_fixture(make_hr_web: Callable[..., Web]) -> Web:
    """Logged in as alice, site zone Asia/Jakarta."""
    return make_hr_web()
