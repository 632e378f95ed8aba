"""Migrations: the schema they build is the schema the code expects; concurrent starts are safe."""

from __future__ import annotations

import threading
from pathlib import Path

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


def test_first_connections_to_a_new_sqlite_file_wait_for_the_switch_to_wal(tmp_path: Path) -> None:
    # Several server processes starting at once each open the brand-new file. Switching it
    # to WAL needs the file alone, and SQLite refuses that at once ("database is locked")
    # instead of waiting, so each connection must wait its turn itself. Without that one
    # round in six failed here; forty rounds make a miss all but certain.
    for attempt in range(40):
        url = f"sqlite:///{tmp_path / f'server-{attempt}.db'}"
        errors: list[BaseException] = []
        start = threading.Barrier(4)

        def write(
            url: str = url, errors: list[BaseException] = errors, start: threading.Barrier = start
        ) -> None:
            db = Database.from_url(url)
            try:
                start.wait()
                with db.write() as conn:
                    conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS starts (n INTEGER)")
                    conn.exec_driver_sql("INSERT INTO starts VALUES (1)")
            except BaseException as exc:
                errors.append(exc)
            finally:
                db.dispose()

        threads = [threading.Thread(target=write) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [], f"round {attempt}"
        db = Database.from_url(url)
        try:
            with db.read() as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert conn.exec_driver_sql("SELECT count(*) FROM starts").scalar() == 4
        finally:
            db.dispose()
