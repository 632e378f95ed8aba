"""``hadir server ...``: run the sync server and a few admin helpers that work on the database.

edge/cli.py, where the ``hadir`` command is composed, adds these with
``add_server_parser(sub)``; ``python -m sync_server`` runs the same commands without
the rest of the ``hadir`` CLI. Importing this module
needs none of the server's dependencies (a terminal's ``hadir --help`` must work
without them); the commands import them when they run.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.config import load_config
from edge.credentials import read_first_line
from edge.errors import ConfigError, HadirError
from edge.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE, print_error, run_handler
from sync_server.config import ServerConfig, resolve_admin_token

if TYPE_CHECKING:
    from sync_server.db import Database

# Where scripts/install-server.sh writes the config and the service reads it: commands run
# from a shell find the server's database without being told.
DEFAULT_CONFIG = Path("/etc/hadir/server.toml")
CONFIG_ENV = "HADIR_SERVER_CONFIG"
DATABASE_URL_ENV = "HADIR_DATABASE_URL"
_PEER_REFUSED = re.compile(r'Peer authentication failed for user "([^"]+)"')


class DatabaseMissingError(ConfigError, FileNotFoundError):
    """The SQLite file the settings name does not exist, and this command may not create it."""


@dataclass(frozen=True)
class Loaded:
    """The settings and where they came from."""

    config: ServerConfig
    path: Path | None  # the TOML file read; None: built-in defaults
    # The admin named the config (--config, $HADIR_SERVER_CONFIG) or the database
    # ($HADIR_DATABASE_URL): only then may run/migrate create a new SQLite file.
    explicit: bool

    @property
    def source(self) -> str:
        return str(self.path) if self.path is not None else "built-in defaults"


def _load(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Loaded:
    """--config, else $HADIR_SERVER_CONFIG, else /etc/hadir/server.toml if it exists."""
    env = os.environ if environ is None else environ
    path: Path | None = args.config
    explicit = path is not None
    if path is None and env.get(CONFIG_ENV):
        path, explicit = Path(env[CONFIG_ENV]), True
    default: Path = args.default_config
    if path is None and default.exists():
        path = default
    config = load_config(ServerConfig, path, environ=env)
    return Loaded(config, path, explicit or bool(env.get(DATABASE_URL_ENV)))


def open_database(loaded: Loaded, args: argparse.Namespace, *, may_create: bool) -> Database:
    """The database, connected once; one-line errors for a missing file or a refused login.

    A SQLite file that does not exist is created only by ``run``/``migrate`` with settings
    the admin named: ``add-admin`` run from the wrong folder used to make a stray empty
    database there and report success.
    """
    from sync_server.db import Database, DatabaseUnavailableError, sqlite_file

    url = loaded.config.database_url
    path = sqlite_file(url)
    if path is not None and not path.exists() and not (may_create and loaded.explicit):
        raise DatabaseMissingError(_missing_database(path, loaded, args, may_create))
    db = Database.from_url(url, pool_size=1)
    try:
        db.check_connection()
    except DatabaseUnavailableError as exc:
        db.dispose()
        refused = _PEER_REFUSED.search(exc.cause)
        if refused is None:
            raise
        hint = _run_as(refused.group(1), loaded, args)
        raise DatabaseUnavailableError(exc.url, f"{exc.cause}; {hint}") from exc
    return db


def _missing_database(
    path: Path, loaded: Loaded, args: argparse.Namespace, may_create: bool
) -> str:
    source = loaded.source
    if loaded.path is None:
        source += f"; no {args.default_config}"
    where = f"no database at {path.absolute()} (database_url from {source})"
    if may_create:
        return (
            f"{where}; to create it there, name the settings: hadir server "
            f"{args.server_command} --config FILE (or set {CONFIG_ENV} or {DATABASE_URL_ENV})"
        )
    return (
        f"{where}: give the server's config with --config FILE (or {CONFIG_ENV}); "
        "a new database is created by hadir server migrate --config FILE"
    )


def _run_as(user: str, loaded: Loaded, args: argparse.Namespace) -> str:
    """How to run this very command as the OS user PostgreSQL's peer authentication expects.

    The service's user is made up by systemd (DynamicUser=), so ``sudo -u`` may not know the
    name; systemd-run makes it the same way the service does.
    """
    if sys.argv and sys.argv[0].endswith(".py"):  # python -m ...
        command = [sys.executable, *sys.orig_argv[1:]]
    else:
        command = [os.path.abspath(sys.argv[0]), *sys.argv[1:]]
    if args.config is None and loaded.path is not None and loaded.path != args.default_config:
        command += ["--config", str(loaded.path)]  # systemd-run does not pass our environment
    io = "--pty" if sys.stdin.isatty() else "--pipe"
    return (
        f"run it as the service user {user}: sudo systemd-run {io} --wait --collect "
        f"-p DynamicUser=yes -p User={user} {shlex.join(command)}"
    )


def run_server(config: ServerConfig, db: Database) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit code. Blocks. Disposes of ``db``."""
    import uvicorn

    from edge.logs import configure_logging
    from sync_server.app import SETTINGS_ENV, create_app, settings_json
    from sync_server.db import migrate
    from sync_server.limits import HeadTimeoutProtocol

    configure_logging(config.logging.level, config.logging.format)
    try:
        resolve_admin_token(config)  # a bad credential file should stop us before we bind
        if config.migrate_on_start:
            # Once here, so worker processes find the schema ready.
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
        # Slow or too many clients: each holds a file descriptor for as long as it takes.
        # Beyond limit_concurrency a request gets 503 at once; the head and the body each
        # have a deadline (sync_server.limits); an idle kept-alive connection is closed.
        "limit_concurrency": config.listen.max_connections,
        "timeout_keep_alive": config.listen.keep_alive_s,
        "h11_max_incomplete_event_size": config.listen.max_header_bytes,
        "http": functools.partial(
            HeadTimeoutProtocol, head_timeout_s=config.listen.header_timeout_s
        ),
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
    from edge.logs import configure_logging, log_fatal

    try:
        loaded = _load(args)
        configure_logging(loaded.config.logging.level, loaded.config.logging.format)
        return run_server(loaded.config, open_database(loaded, args, may_create=True))
    except HadirError as exc:
        # Under systemd the reason it stopped is a JSON record like every other journal line.
        if not log_fatal("server_start_failed", str(exc)):
            raise
        return EXIT_USAGE


def cmd_migrate(args: argparse.Namespace) -> int:
    from sync_server.db import head_revision, migrate, schema_revision

    db = open_database(_load(args), args, may_create=True)
    try:
        migrate(db)
        print(f"database schema at {schema_revision(db)} (head {head_revision()})")
    finally:
        db.dispose()
    return EXIT_OK


def cmd_add_terminal(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from edge.clock import utc_now
    from sync_server.auth import hash_token, new_token
    from sync_server.db import migrate, terminals

    db = open_database(_load(args), args, may_create=False)
    token = new_token()
    try:
        migrate(db)
        with db.write() as conn:
            exists = conn.execute(sa.select(terminals.c.id).where(terminals.c.id == args.id))
            if exists.first() is not None:
                print_error(f"terminal {args.id!r} already exists")
                return EXIT_FAILED
            conn.execute(
                sa.insert(terminals).values(
                    id=args.id,
                    group_name=args.group,
                    description=args.description,
                    token_hash=hash_token(token),
                    created_at=utc_now(),
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
    from sync_server.db import migrate
    from sync_server.web.accounts import AccountError, set_account

    # The database first: a wrong user or folder is told before the password is typed.
    db = open_database(_load(args), args, may_create=False)
    try:
        password = _read_password(args)
        migrate(db)
        created = set_account(db, args.username, password, reset=args.reset)
    except AccountError as exc:
        print_error(str(exc))
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


def _add_commands(parser: argparse.ArgumentParser, default_config: Path = DEFAULT_CONFIG) -> None:
    sub = parser.add_subparsers(dest="server_command", metavar="COMMAND", required=True)

    def config_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--config",
            type=Path,
            default=None,
            help=f"server TOML config (default: ${CONFIG_ENV}, else {default_config} if it "
            "exists, else built-in defaults; HADIR_* variables override any of them)",
        )
        p.set_defaults(default_config=default_config)

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


def main(argv: Sequence[str] | None = None, *, default_config: Path = DEFAULT_CONFIG) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sync_server", description="The hadir sync server (hadir server ...)."
    )
    _add_commands(parser, default_config)
    return run_handler(parser.parse_args(argv))
