"""Alembic migrations of the server database (run by :func:`sync_server.db.migrate`)."""
