"""Alembic environment: always run in-process with a connection handed over by the server.

:func:`sync_server.db.migrate` opens the connection (and, on PostgreSQL, takes an advisory
lock so that server processes starting together take turns) and puts it in
``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from sync_server.db import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through sync_server.db.migrate (hadir server migrate), "
        "not the alembic command"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things; batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
