"""Migrations: the schema they build is the schema the code expects; concurrent starts are safe."""

from __future__ import annotations

import threading

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from sync_server.db import (
    Database,
    alembic_config,
    head_revision,
    metadata,
    migrate,
    schema_revision,
)


def test_migrations_match_the_tables(db_url: str) -> None:
    db = Database.from_url(db_url)
    try:
        migrate(db)
        assert schema_revision(db) == head_revision()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            counter = conn.execute(sa.text("SELECT value FROM counters")).scalar_one()
            assert counter == 0
    finally:
        db.dispose()


def test_migrate_is_idempotent_and_reversible(db_url: str) -> None:
    db = Database.from_url(db_url)
    try:
        migrate(db)
        migrate(db)
        config = alembic_config()
        with db.write() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        assert schema_revision(db) is None
        migrate(db)
        assert schema_revision(db) == head_revision()
    finally:
        db.dispose()


def test_concurrent_migrations_take_turns(db_url: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        db = Database.from_url(db_url)
        try:
            migrate(db)
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db = Database.from_url(db_url)
    try:
        assert schema_revision(db) == head_revision()
    finally:
        db.dispose()
