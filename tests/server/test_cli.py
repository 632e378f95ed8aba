"""The CLI hooks: ``add_server_parser`` for ``hadir server``, and its database helpers."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import pytest
import sqlalchemy as sa

from sync_server.cli import add_server_parser, main
from sync_server.db import Database, head_revision, terminals


def test_parser_hooks_into_a_parent_cli() -> None:
    parser = argparse.ArgumentParser(prog="hadir")
    sub = parser.add_subparsers(dest="command", required=True)
    add_server_parser(sub)
    args = parser.parse_args(["server", "run", "--config", "/etc/hadir/server.toml"])
    assert args.config == Path("/etc/hadir/server.toml")
    assert callable(args.handler)
    args = parser.parse_args(["server", "add-terminal", "door-1", "--group", "hq"])
    assert (args.id, args.group) == ("door-1", "hq")


def _write_config(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "server.toml"
    path.write_text(f'database_url = "{db_url}"\n')
    return path


def test_migrate_and_add_terminal(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write_config(tmp_path, db_url)
    assert main(["migrate", "--config", str(config)]) == 0
    head = head_revision()
    assert f"database schema at {head} (head {head})" in capsys.readouterr().out

    assert main(["add-terminal", "door-1", "--group", "hq", "--config", str(config)]) == 0
    token = capsys.readouterr().out.strip()
    db = Database.from_url(db_url)
    try:
        with db.read() as conn:
            row = conn.execute(sa.select(terminals)).one()
    finally:
        db.dispose()
    assert (row.id, row.group_name) == ("door-1", "hq")
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()

    assert main(["add-terminal", "door-1", "--config", str(config)]) == 1


def test_config_error_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "server.toml"
    path.write_text("nonsense = 1\n")
    assert main(["migrate", "--config", str(path)]) == 2
    assert "nonsense: unknown key" in capsys.readouterr().err


def test_importing_the_cli_needs_no_server_dependencies() -> None:
    # A terminal installs hadir without the [server] extra; `hadir --help` must still work.
    import subprocess
    import sys

    code = (
        "import sys, sync_server.cli; "
        "print(sorted(m for m in ('sqlalchemy', 'fastapi', 'uvicorn', 'alembic', 'psycopg') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
