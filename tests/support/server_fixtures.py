"""Server test fixtures: every database test runs on SQLite and on PostgreSQL.

A plugin (``pytest_plugins`` in tests/conftest.py), so the server, web and report tests
share these by name without importing them. PostgreSQL comes from
``HADIR_TEST_POSTGRES_URL`` (``scripts/pg_test_cluster.sh`` prints one); each test gets a
fresh database in that cluster. Without the URL the PostgreSQL half skips locally and
fails under ``CI=true``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support import in_ci

# Loaded for every test session (pytest_plugins): the server, its web framework and
# SQLAlchemy are imported by the fixtures that need them, so an edge-only run never pays
# for them.
if TYPE_CHECKING:
    import sqlalchemy as sa
    from fastapi.testclient import TestClient

    from sync_server.config import ServerConfig
    from sync_server.db import Database
    from tests.server.helpers import Api

PG_ENV = "HADIR_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def pg_admin_engine() -> Iterator[sa.Engine]:
    import sqlalchemy as sa

    from sync_server.db import normalise_url

    base = os.environ.get(PG_ENV)
    if not base:
        message = f"PostgreSQL tests need {PG_ENV} (scripts/pg_test_cluster.sh prints one)"
        if in_ci():
            pytest.fail(message + "; CI requires PostgreSQL")
        pytest.skip(message)
    engine = sa.create_engine(normalise_url(base), isolation_level="AUTOCOMMIT", pool_size=1)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        pytest.fail(f"{PG_ENV}={base}: cannot connect ({exc.orig})")
    yield engine
    engine.dispose()


def fresh_pg_database(engine: sa.Engine) -> Iterator[str]:
    import sqlalchemy as sa

    name = f"hadir_test_{uuid.uuid4().hex[:12]}"
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield engine.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new database in the PostgreSQL cluster."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'server.db'}"
        return
    engine: sa.Engine = request.getfixturevalue("pg_admin_engine")
    yield from fresh_pg_database(engine)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """``db_url``'s database, migrated, for tests of the server's operations without HTTP."""
    from sync_server.db import Database, migrate

    database = Database.from_url(db_url)
    migrate(database)
    yield database
    database.dispose()


@pytest.fixture
def pg_url(pg_admin_engine: sa.Engine) -> Iterator[str]:
    """A fresh PostgreSQL database, for tests that only make sense there."""
    yield from fresh_pg_database(pg_admin_engine)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> ServerConfig:
    from sync_server.config import ServerConfig
    from tests.server.helpers import ADMIN_TOKEN

    return ServerConfig(
        database_url=db_url,
        admin_token=ADMIN_TOKEN,
        data_dir=tmp_path / "data",
        # Plain templates: these tests check the API, not template quality, and ten jittered
        # passes cost most of a second per uploaded photo. tests/recognize/test_jitter.py covers
        # the jittered enrolment; the demo and the subprocess tests run the default.
        enrolment_jitters=0,
    )


@pytest.fixture
def make_api(settings: ServerConfig) -> Iterator[Callable[..., Api]]:
    """Build an app (with setting overrides) and a client for it; closed after the test."""
    from fastapi.testclient import TestClient

    from sync_server.app import create_app
    from tests.server.helpers import Api

    clients: list[TestClient] = []

    def make(**overrides: Any) -> Api:
        config = settings.model_copy(update=overrides) if overrides else settings
        client = TestClient(create_app(config, environ={}))
        client.__enter__()
        clients.append(client)
        return Api(client, config)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()
