"""``hadir server ...``: run the sync server and a few admin helpers that work on the database.

edge/cli.py hooks this in with ``add_server_parser(sub)``; ``python -m sync_server``
runs the same commands without the rest of the ``hadir`` CLI. Importing this module
needs none of the server's dependencies (a terminal's ``hadir --help`` must work
without them); the commands import them when they run.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edge.config import load_config
from edge.credentials import read_first_line
from edge.errors import ConfigError, HadirError
from sync_server.config import ServerConfig, resolve_admin_token

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _load(args: argparse.Namespace) -> ServerConfig:
    path = args.config or os.environ.get("HADIR_CONFIG") or None
    return load_config(ServerConfig, path)


def run_server(config: ServerConfig) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit code. Blocks."""
    import uvicorn

    from edge.logs import configure_logging
    from sync_server.app import SETTINGS_ENV, create_app, settings_json
    from sync_server.db import Database, migrate

    configure_logging(config.logging.level, config.logging.format)
    resolve_admin_token(config)  # a bad credential file should stop us before we bind
    if config.migrate_on_start:
        # Once here, so worker processes find the schema ready.
        db = Database.from_url(config.database_url, pool_size=1)
        try:
            migrate(db)
        finally:
            db.dispose()
    trusted = config.listen.trusted_proxies
    options: dict[str, Any] = {
        "host": config.listen.host,
        "port": config.listen.port,
        "log_config": None,
        "access_log": False,
        "server_header": False,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": ",".join(trusted) if trusted else None,
        "timeout_graceful_shutdown": 10,
    }
    if config.listen.workers == 1:
        uvicorn.run(create_app(config), **options)
    else:
        os.environ[SETTINGS_ENV] = settings_json(config)
        uvicorn.run(
            "sync_server.app:create_app_from_environment",
            factory=True,
            workers=config.listen.workers,
            **options,
        )
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    return run_server(_load(args))


def cmd_migrate(args: argparse.Namespace) -> int:
    from sync_server.db import Database, head_revision, migrate, schema_revision

    config = _load(args)
    db = Database.from_url(config.database_url, pool_size=1)
    try:
        migrate(db)
        print(f"database schema at {schema_revision(db)} (head {head_revision()})")
    finally:
        db.dispose()
    return EXIT_OK


def cmd_add_terminal(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from sync_server.auth import hash_token, new_token
    from sync_server.db import Database, migrate, terminals, utcnow

    config = _load(args)
    db = Database.from_url(config.database_url, pool_size=1)
    token = new_token()
    try:
        migrate(db)
        with db.write() as conn:
            exists = conn.execute(sa.select(terminals.c.id).where(terminals.c.id == args.id))
            if exists.first() is not None:
                print(f"hadir: terminal {args.id!r} already exists", file=sys.stderr)
                return EXIT_FAILED
            conn.execute(
                sa.insert(terminals).values(
                    id=args.id,
                    group_name=args.group,
                    description=args.description,
                    token_hash=hash_token(token),
                    created_at=utcnow(),
                    revoked_at=None,
                    reset_below=0,
                )
            )
    finally:
        db.dispose()
    # Only the token on stdout, so scripts can capture it; it is not shown again.
    print(token)
    return EXIT_OK


def _read_password(args: argparse.Namespace) -> str:
    """From --password-file, else typed twice at a terminal, else the first line of stdin."""
    if args.password_file is not None:
        return read_first_line(args.password_file, "password")
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass(f"password for {args.username}: ")
        if getpass.getpass("again: ") != first:
            raise ConfigError("the two passwords differ")
        return first
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def cmd_add_admin(args: argparse.Namespace) -> int:
    from sync_server.db import Database, migrate
    from sync_server.web.accounts import AccountError, set_account

    config = _load(args)
    password = _read_password(args)
    db = Database.from_url(config.database_url, pool_size=1)
    try:
        migrate(db)
        created = set_account(db, args.username, password, reset=args.reset)
    except AccountError as exc:
        print(f"hadir: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        db.dispose()
    what = "created" if created else "password changed, account unlocked, sessions ended"
    print(f"admin {args.username}: {what}")
    return EXIT_OK


def add_server_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``server`` with its subcommands to an argparse subparsers object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "server",
        help="run or manage the central sync server",
        description="The central sync server: ingest, enrolment feed, admin API.",
    )
    _add_commands(parser)
    return parser


def _add_commands(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="server_command", metavar="COMMAND", required=True)

    def config_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--config",
            type=Path,
            default=None,
            help="server TOML config (default: $HADIR_CONFIG, else built-in defaults; "
            "HADIR_* variables override either)",
        )

    p = sub.add_parser(
        "run",
        help="serve the API (uvicorn) until SIGTERM",
        description="Bring the database schema up to date, then serve the HTTP API.",
    )
    config_arg(p)
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser(
        "migrate",
        help="bring the database schema up to date and exit",
        description="Apply pending database migrations (safe while servers run).",
    )
    config_arg(p)
    p.set_defaults(handler=cmd_migrate)

    p = sub.add_parser(
        "add-terminal",
        help="create a terminal and print its token (once)",
        description="Create a terminal directly in the database (no admin token needed) and "
        "print its bearer token on stdout. The server stores only a hash.",
    )
    config_arg(p)
    p.add_argument("id", help="device id (the terminal's device.id)")
    p.add_argument("--group", default="default", help="group/site (default: default)")
    p.add_argument("--description", default="", help="free text, e.g. where it hangs")
    p.set_defaults(handler=cmd_add_terminal)

    p = sub.add_parser(
        "add-admin",
        help="create an admin account for the web pages (or reset its password)",
        description="Create a login for the admin web pages (/admin) directly in the database. "
        "The password is read from --password-file, typed twice at a terminal, or taken from "
        "the first line of stdin; never from the command line.",
    )
    config_arg(p)
    p.add_argument("username", help="login name (letters, digits, . _ @ -)")
    p.add_argument(
        "--password-file", type=Path, default=None, help="file whose first line is the password"
    )
    p.add_argument(
        "--reset",
        action="store_true",
        help="the account exists: set a new password, unlock it and end its sessions",
    )
    p.set_defaults(handler=cmd_add_admin)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sync_server", description="The hadir sync server (hadir server ...)."
    )
    _add_commands(parser)
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
        return code
    except ConfigError as exc:
        print(f"hadir: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except HadirError as exc:
        print(f"hadir: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
