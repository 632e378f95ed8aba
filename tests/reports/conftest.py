"""Report tests reuse the server fixtures: every database test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.server.conftest import (  # noqa: F401  (fixtures, found by name)
    api,
    db_url,
    make_api,
    pg_admin_engine,
    pg_url,
    settings,
)
