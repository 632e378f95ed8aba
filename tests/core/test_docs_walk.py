"""The docs as written: README.md and docs/operations.md walked by their own commands.

Three kinds of checks keep the pages true to the code:

- every ``hadir ...`` command line in README.md and docs/*.md (code blocks and inline code)
  parses with the real CLI's argparse (no handler runs, no ``--help``);
- the blocks of docs/operations.md marked ``<!-- walk: NAME -->`` run as written in bash:
  backup and restore of SQLite and PostgreSQL, registering a terminal and rotating its
  token against a real server process on loopback (SQLite and PostgreSQL), after which a
  terminal reads the token file they produce and the server accepts it;
- they run both as root and as a "sudo user": the shell runs as ``nobody`` and only the
  ``sudo`` commands get root, so a redirection of the user's own shell into a root-only
  folder fails here as it does on a real machine.

What stands in for what this machine lacks (each documented where it is made):

- ``sudo`` is not installed here; a stand-in on PATH hands its command, working directory
  and file descriptors to a root broker in this test process, which runs it like sudo
  (root, or ``-u USER``; a reset environment). Other sudo options are refused.
- There is no Debian cluster with peer authentication: commands run through ``sudo`` get
  ``PGHOST``/``PGPORT``/``PGUSER`` pointing at ``HADIR_TEST_POSTGRES_URL``'s cluster.
- Absolute ``/var/...`` and ``/etc/hadir`` paths live below a scratch folder; the database
  and role are renamed (the cluster is shared); the docs' example date is today's; the user
  ``hadir`` is ``nobody``; ``systemctl`` only logs; ``scp``/``ssh`` to a terminal copy to
  and run in a folder standing for that terminal.

Each substitution must match at least once: a doc that changes beyond it fails here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import re
import shlex
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from edge.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "docs/operations.md"
DOC_DATE = "2026-11-25"  # the example date in the docs' restore commands
WALK_MARK = re.compile(
    r"^ *<!-- walk: ([a-z0-9-]+) -->\n *```(?:sh|bash)\n(.*?)^ *```$", re.M | re.S
)
PG_ENV = "HADIR_TEST_POSTGRES_URL"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def walk_blocks(path: Path = OPERATIONS) -> dict[str, str]:
    # Blocks inside list items are indented: as typed, they are not.
    return {m.group(1): textwrap.dedent(m.group(2)) for m in WALK_MARK.finditer(path.read_text())}


def block(name: str) -> str:
    blocks = walk_blocks()
    assert name in blocks, f"docs/operations.md has no block marked <!-- walk: {name} -->"
    return blocks[name]


def substitute(text: str, *pairs: tuple[str, str], regex: bool = False) -> str:
    """Apply each (old, new); each must match, or the doc changed under the walk."""
    for old, new in pairs:
        count = len(re.findall(old, text)) if regex else text.count(old)
        assert count, f"the walk expects {old!r} in:\n{text}"
        text = re.sub(old, new, text) if regex else text.replace(old, new)
    return text


def today() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")


# ------------------------------------------------------------------------------ hadir lines


def _code_blocks(text: str) -> Iterator[str]:
    # Shell blocks only: plain ``` blocks hold program output and tables.
    for match in re.finditer(r"^ *```(?:sh|bash)\n(.*?)^ *```$", text, re.M | re.S):
        yield textwrap.dedent(match.group(1))


def _command_lines(code: str) -> Iterator[str]:
    for line in code.replace("\\\n", " ").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            yield line


SHELL_OPERATOR = set("|&;<>()")


def hadir_invocations(line: str) -> list[list[str]]:
    """The argument lists of every ``hadir`` (or ``.../bin/hadir``) command on a shell line."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        tokens = list(lexer)
    except ValueError:
        return []
    found: list[list[str]] = []
    for i, token in enumerate(tokens):
        previous = tokens[i - 1] if i else ""
        # In command position: first, after an operator, sudo or VAR=value; a path to the
        # venv's hadir is a command anywhere (systemd-run ... /opt/hadir/venv/bin/hadir).
        # Not "dropdb hadir", "sudo -u hadir sqlite3", "pip install hadir".
        command = token == "hadir" and (
            not previous
            or set(previous) <= SHELL_OPERATOR
            or previous in {"sudo", "exec", "--"}
            or re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", previous) is not None
        )
        if not (command or token.endswith("/bin/hadir")):
            continue
        args: list[str] = []
        for arg in tokens[i + 1 :]:
            if set(arg) <= SHELL_OPERATOR:  # |, &&, ;, >, < ...: the command ends
                break
            args.append(arg)
        found.append(args)
    return found


# Placeholders in inline spans that need a value of the right shape to parse.
PLACEHOLDERS = {
    "DATE": "2026-11-25",
    "D": "2026-11-25",
    "YYYY-MM": "2026-11",
    "EVENT_ID": "0190a0b0-0000-7000-8000-000000000000",
}


def _inline_invocation(span: str) -> list[str] | None:
    """`hadir config check FILE [--role edge\\|server]` -> the argv it stands for."""
    span = span.replace("\\|", "|")
    if not span.startswith("hadir "):
        return None
    words: list[str] = []
    for word in span.split()[1:]:
        word = word.strip("[]")
        word = word.split("|")[0]
        word = re.sub(r"^<(.+)>$", r"\1", word).removesuffix("...")
        if word:
            words.append(PLACEHOLDERS.get(word, word))
    return words or None


def documented_hadir_commands() -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text()
        where = path.relative_to(ROOT)
        for code in _code_blocks(text):
            for line in _command_lines(code):
                out += [(f"{where}: {line.strip()}", args) for args in hadir_invocations(line)]
        prose = re.sub(r"^```.*?^```$", "", text, flags=re.M | re.S)
        for span in re.findall(r"`([^`\n]+)`", prose):
            args = _inline_invocation(span)
            if args is not None:
                out.append((f"{where}: `{span}`", args))
    return out


def test_the_extractor_finds_commands_where_the_docs_put_them() -> None:
    line = "sudo -u hadir sqlite3 x && sudo /opt/hadir/venv/bin/hadir edge doctor --config f | jq"
    assert hadir_invocations(line) == [["edge", "doctor", "--config", "f"]]
    assert hadir_invocations("hadir terminal add door-1 --group hq > door-1.token  # x") == [
        ["terminal", "add", "door-1", "--group", "hq"]
    ]
    assert _inline_invocation("hadir config check FILE [--role edge\\|server]") == [
        "config", "check", "FILE", "--role", "edge",
    ]  # fmt: skip
    found = documented_hadir_commands()
    assert len(found) > 40, found
    assert any(args[:2] == ["terminal", "add"] for _, args in found)
    assert any(args[:2] == ["server", "add-admin"] for _, args in found)


def test_every_documented_hadir_command_parses() -> None:
    bad: list[str] = []
    for where, args in documented_hadir_commands():
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
                build_parser().parse_args(args)
        except SystemExit as exc:
            if exc.code == 0:
                continue
            error = stderr.getvalue().strip().splitlines()[-1]
            # Prose may name a command without all its arguments ("`hadir config check`
            # validates ..."); what it names must still exist. Code blocks run as written.
            mention = where.endswith("`") and (
                "arguments are required" in error or "expected one argument" in error
            )
            if not mention:
                bad.append(f"{where}\n    {error}")
    assert bad == [], "documented commands the CLI refuses:\n" + "\n".join(bad)


# ------------------------------------------------------------------------------ the machine

SHIM = """#!/usr/bin/env python3
# sudo stand-in (tests/core/test_docs_walk.py): the root broker runs the command.
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect({sock!r})
msg = json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd()}}).encode()
socket.send_fds(s, [msg], [0, 1, 2])
sys.exit(int(s.recv(16) or b"1"))
"""

LOGGER = """#!/bin/sh
echo "$(basename "$0") $*" >> {log}
"""

SCP = """#!/bin/sh
# scp FILE HOST: -> the folder standing for HOST
set -e
host=${{2%%:*}}
mkdir -p {hosts}/"$host"
cp "$1" {hosts}/"$host"/
"""

SSH = """#!/bin/sh
# ssh HOST COMMAND -> COMMAND in the folder standing for HOST
set -e
cd {hosts}/"$1"
shift
exec bash -c "$*"
"""


@dataclass
class Machine:
    """A scratch machine: folders for /var and /etc, a sudo broker, stand-in tools."""

    base: Path
    pg_env: dict[str, str] = field(default_factory=dict)
    extra_path: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.shims = self.base / "shims"  # on the user's PATH: sudo, scp, ssh
        self.tools = self.base / "tools"  # on the PATH of what sudo runs: systemctl
        self.hosts = self.base / "hosts"
        self.calls = self.base / "systemctl.log"
        for d in (self.shims, self.tools, self.hosts, self.base / "var/backups", self.base / "etc"):
            d.mkdir(parents=True)
        self.sock = str(self.base / "sudo.sock")
        self._write(self.shims / "sudo", SHIM.format(sock=self.sock))
        self._write(self.shims / "scp", SCP.format(hosts=shlex.quote(str(self.hosts))))
        self._write(self.shims / "ssh", SSH.format(hosts=shlex.quote(str(self.hosts))))
        self._write(self.tools / "systemctl", LOGGER.format(log=shlex.quote(str(self.calls))))
        self.calls.touch()
        self.calls.chmod(0o666)
        for path in (self.base, *self.base.rglob("*")):
            if path.is_dir():
                path.chmod(0o755)  # like / and /var: everyone may pass
        self.sudo_runs: list[list[str]] = []
        self._server = socket.socket(socket.AF_UNIX)
        self._server.bind(self.sock)
        os.chmod(self.sock, 0o777)
        self._server.listen(4)
        # Polled, and joined before the socket closes: a thread left blocked in accept()
        # on a closed socket went on to answer a later test's broker socket.
        self._server.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @staticmethod
    def _write(path: Path, text: str) -> None:
        path.write_text(text)
        path.chmod(0o755)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(None)
                msg, fds, _, _ = socket.recv_fds(conn, 65536, 3)
                try:
                    request = json.loads(msg)
                    code = self._sudo(request["argv"], request["cwd"], fds)
                finally:
                    for fd in fds:
                        os.close(fd)
                conn.sendall(str(code).encode())

    def _sudo(self, argv: list[str], cwd: str, fds: list[int]) -> int:
        user = None
        if argv[:1] == ["-u"]:
            user, argv = argv[1], argv[2:]
        if not argv or argv[0].startswith("-"):
            os.write(fds[2], f"sudo stand-in: unsupported: sudo {' '.join(argv)}\n".encode())
            return 1
        self.sudo_runs.append([*(["-u", user] if user else []), *argv])
        home = os.path.expanduser(f"~{user}") if user else "/root"
        env = {
            "PATH": f"{self.tools}:" + ":".join(self.extra_path) + ":/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": home,
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            **self.pg_env,
        }
        try:
            return subprocess.run(
                argv,
                stdin=fds[0],
                stdout=fds[1],
                stderr=fds[2],
                cwd=cwd,
                env=env,
                user=user,
                group=None if user is None else _primary_group(user),
                extra_groups=None if user is None else [],
                timeout=120,
                check=False,
            ).returncode
        except FileNotFoundError as exc:
            os.write(fds[2], f"sudo: {exc}\n".encode())
            return 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._server.close()

    def run(self, script: str, who: str, env: dict[str, str] | None = None) -> str:
        """Run a doc block in bash as root or as a sudo user; stops at the first failure."""
        prefix = [] if who == "root" else [
            "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
        ]  # fmt: skip
        shell_env = {
            "PATH": f"{self.shims}:" + ":".join(self.extra_path) + ":/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/root" if who == "root" else "/nonexistent",
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            **(env or {}),
        }
        result = subprocess.run(
            [*prefix, "bash", "-e", "-o", "pipefail", "-c", script],
            cwd=self.base,
            env=shell_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, (
            f"as {who}, this block failed (exit {result.returncode}):\n{script}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
        return result.stdout

    def rooted(self, text: str) -> str:
        """Absolute /var/... and /etc/hadir paths of a block, below this machine's folder."""
        return substitute(text, (r"(?<![\w/.-])/(var|etc)/", f"{self.base}/\\1/"), regex=True)

    def systemctl_calls(self) -> list[str]:
        return self.calls.read_text().splitlines()


def _primary_group(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid


@pytest.fixture
def machine() -> Iterator[Machine]:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        message = "the doc walk needs root (its sudo broker) and setpriv(1)"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    # Not below pytest's tmp_path: that is root-only, and the sudo user must pass through.
    base = Path(tempfile.mkdtemp(prefix="hadir-walk-"))
    box = Machine(base)
    try:
        yield box
    finally:
        box.close()
        shutil.rmtree(base, ignore_errors=True)


WHO = ["root", "sudo-user"]


# ------------------------------------------------------------------------------ SQLite


def _live_store(path: Path, rows: int) -> sqlite3.Connection:
    """A WAL database as a running service holds it: open, its commits still in -wal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, person_id TEXT)")
    conn.executemany(
        "INSERT INTO events (person_id) VALUES (?)", [(f"emp-{i}",) for i in range(rows)]
    )
    conn.commit()
    assert path.with_name(path.name + "-wal").stat().st_size > 0
    return conn


def _count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        (n,) = conn.execute("SELECT count(*) FROM events").fetchone()
        return int(n)
    finally:
        conn.close()


def _wipe(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM events")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("who", WHO)
def test_sqlite_backup_and_restore_as_written(machine: Machine, who: str) -> None:
    edge_db = machine.base / "var/lib/hadir/hadir-edge.sqlite3"
    private = machine.base / "var/lib/private/hadir-server"
    server_db = private / "hadir-server.db"
    services = [_live_store(edge_db, 3), _live_store(server_db, 5)]
    # DynamicUser's layout: /var/lib/hadir-server -> private/hadir-server (private/ is
    # root-only), owned by the made-up user (a uid no one has here).
    (machine.base / "var/lib/hadir-server").symlink_to("private/hadir-server")
    os.chown(private, 61234, 61234)
    private.parent.chmod(0o700)

    machine.run(machine.rooted(block("backup-folder")), who)
    backups = machine.base / "var/backups/hadir"
    assert stat.S_IMODE(backups.stat().st_mode) == 0o700
    assert backups.stat().st_uid == 0

    out = machine.run(
        machine.rooted(substitute(block("sqlite-backup"), (DOC_DATE, today()))), who
    )
    assert out.split() == ["ok"]
    assert _count(backups / f"edge-{today()}.sqlite3") == 3
    assert _count(backups / f"server-{today()}.db") == 5
    for conn in services:  # the services stop
        conn.close()

    # Lost since the backup, then restored as written.
    _wipe(edge_db)
    _wipe(server_db)
    restore = substitute(
        block("sqlite-restore"), (DOC_DATE, today()), ("-o hadir -g hadir", "-o nobody -g nogroup")
    )
    machine.run(machine.rooted(restore), who)
    assert _count(edge_db) == 3
    assert _count(server_db) == 5
    edge_stat, server_stat = edge_db.stat(), server_db.stat()
    assert (edge_stat.st_uid, stat.S_IMODE(edge_stat.st_mode)) == (65534, 0o640)
    assert (server_stat.st_uid, stat.S_IMODE(server_stat.st_mode)) == (61234, 0o640)
    assert machine.systemctl_calls() == [
        "systemctl stop hadir-edge",
        "systemctl start hadir-edge",
        "systemctl stop hadir-server",
        "systemctl start hadir-server",
    ]


# ------------------------------------------------------------------------------ PostgreSQL


@pytest.fixture
def pg_cluster() -> Iterator[tuple[dict[str, str], object]]:
    """libpq variables for the test cluster, and an admin engine on it."""
    import sqlalchemy as sa

    from sync_server.db import normalise_url

    base = os.environ.get(PG_ENV)
    if not base:
        message = f"the PostgreSQL walk needs {PG_ENV} (scripts/pg_test_cluster.sh prints one)"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    url = normalise_url(base)
    env = {"PGHOST": url.host or "127.0.0.1", "PGPORT": str(url.port or 5432)}
    env["PGUSER"] = url.username or "postgres"
    if url.password:
        env["PGPASSWORD"] = url.password
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", pool_size=1)
    yield env, engine
    engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("who", WHO)
def test_postgres_backup_and_restore_as_written(
    machine: Machine, who: str, pg_cluster: tuple[dict[str, str], object]
) -> None:
    import sqlalchemy as sa

    pg_env, engine = pg_cluster
    assert isinstance(engine, sa.Engine)
    machine.pg_env = pg_env
    suffix = uuid.uuid4().hex[:10]
    db, role = f"hadir_walk_{suffix}", f"hadir-walk-{suffix}"
    db_url = engine.url.set(database=db)
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{role}" NOLOGIN'))
        conn.execute(sa.text(f'CREATE DATABASE "{db}" OWNER "{role}"'))
    try:
        data = sa.create_engine(db_url, isolation_level="AUTOCOMMIT", pool_size=1)
        try:
            with data.connect() as conn:
                conn.execute(sa.text(f'SET ROLE "{role}"'))
                conn.execute(sa.text("CREATE TABLE people (id text PRIMARY KEY)"))
                conn.execute(sa.text("INSERT INTO people VALUES ('emp-17'), ('emp-18')"))
        finally:
            data.dispose()

        # The shared cluster's database and role stand for the docs' hadir and hadir-server.
        database = (r"(?<=[\s=])hadir(?=\s|$)", db)
        machine.run(machine.rooted(block("backup-folder")), who)
        backup = substitute(block("postgres-backup"), database, regex=True)
        out = machine.run(machine.rooted(backup), who)
        assert "TABLE public people" in out  # the check's table of contents
        dump = machine.base / f"var/backups/hadir/server-{today()}.dump"
        assert dump.stat().st_uid == 0

        data = sa.create_engine(db_url, isolation_level="AUTOCOMMIT", pool_size=1)
        try:
            with data.connect() as conn:  # lost since the backup
                conn.execute(sa.text("DELETE FROM people"))
        finally:
            data.dispose()

        restore = substitute(
            block("postgres-restore"),
            (DOC_DATE, today()),
            ("--owner hadir-server", f'--owner "{role}"'),
            ("--role=hadir-server", f'--role="{role}"'),
        )
        restore = substitute(restore, database, regex=True)
        machine.run(machine.rooted(restore), who)

        data = sa.create_engine(db_url, pool_size=1)
        try:
            with data.connect() as conn:
                rows = conn.execute(sa.text("SELECT id FROM people ORDER BY id")).scalars().all()
                owner = conn.execute(
                    sa.text("SELECT tableowner FROM pg_tables WHERE tablename = 'people'")
                ).scalar()
        finally:
            data.dispose()
        assert rows == ["emp-17", "emp-18"]
        assert owner == role
        calls = machine.systemctl_calls()
        assert calls == ["systemctl stop hadir-server", "systemctl start hadir-server"]
        assert any(r[:3] == ["-u", "postgres", "dropdb"] for r in machine.sudo_runs)
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))


# ------------------------------------------------------------------------------ terminals

ADMIN_TOKEN = "admin-token-for-the-doc-walk-0123"


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def server_db(request: pytest.FixtureRequest, machine: Machine) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{machine.base / 'server.db'}"
        return
    import sqlalchemy as sa

    from tests.support.server_fixtures import fresh_pg_database

    _, engine = request.getfixturevalue("pg_cluster")
    assert isinstance(engine, sa.Engine)
    yield from fresh_pg_database(engine)


def _terminal_sees(machine: Machine, server_url: str) -> tuple[str, str | None]:
    """What the terminal gets with the token file the docs installed (read the way the
    daemon reads it: systemd's credential from /etc/hadir/terminal_token)."""
    from edge.sync.client import SyncClient
    from edge.sync.config import SyncConfig

    token_file = machine.base / "etc/hadir/terminal_token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    credentials = machine.base / "credentials"
    credentials.mkdir(exist_ok=True)
    shutil.copy(token_file, credentials / "terminal_token")  # what LoadCredential= does
    config = SyncConfig(server_url=server_url)
    client = SyncClient.from_config(config, environ={"CREDENTIALS_DIRECTORY": str(credentials)})
    try:
        me = client.whoami()
        return me.id, me.group
    finally:
        client.close()


def test_registering_a_terminal_and_rotating_its_token_as_written(
    machine: Machine, server_db: str
) -> None:
    from edge.errors import HadirError
    from sync_server.process import ServerProcess

    (machine.base / "etc/hadir").mkdir(mode=0o755)
    machine.extra_path = [str(Path(sys.executable).parent)]  # where pip put `hadir`
    admin = machine.base / "admin"  # the admin's machine: its working folder
    admin.mkdir()
    server = ServerProcess(machine.base / "srv", server_db, ADMIN_TOKEN)
    with server:
        env = {"HADIR_SERVER_URL": server.url, "HADIR_ADMIN_TOKEN": ADMIN_TOKEN}
        script = f"cd {shlex.quote(str(admin))}\n" + machine.rooted(block("register-terminal"))
        machine.run(script, "root", env)
        assert not (machine.hosts / "door-1/door-1.token").exists()  # shredded
        assert machine.systemctl_calls() == ["systemctl restart hadir-edge"]
        assert _terminal_sees(machine, server.url) == ("door-1", "hq")
        first = (machine.base / "etc/hadir/terminal_token").read_text()

        script = f"cd {shlex.quote(str(admin))}\n" + machine.rooted(block("rotate-terminal-token"))
        machine.run(script, "root", env)
        second = (machine.base / "etc/hadir/terminal_token").read_text()
        assert second != first
        assert _terminal_sees(machine, server.url) == ("door-1", "hq")
        (machine.base / "etc/hadir/terminal_token").write_text(first)
        with pytest.raises(HadirError):  # the old token stopped working
            _terminal_sees(machine, server.url)


@pytest.mark.parametrize("who", WHO)
def test_requeueing_events_after_a_server_restore_as_written(machine: Machine, who: str) -> None:
    from edge.store import EdgeStore

    path = machine.base / "var/lib/hadir/hadir-edge.sqlite3"
    path.parent.mkdir(parents=True)
    clock = [dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)]
    with EdgeStore.open(path, device_id="door-1", now=lambda: clock[0]) as store:
        before = store.record("emp-1", distance=0.3, margin=0.2).event
        store.mark_synced([before.id])  # synced the day before the backup's date
        clock[0] = dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC)
        after = store.record("emp-2", distance=0.3, margin=0.2).event
        store.mark_synced([after.id])  # synced after it: gone from the restored server
    for item in (path.parent, *path.parent.iterdir()):  # the service's user owns its store
        os.chown(item, 65534, 65534)

    script = substitute(block("requeue-events"), ("sudo -u hadir ", "sudo -u nobody "))
    machine.run(machine.rooted(script), who)

    with EdgeStore.open(path, device_id="door-1") as store:
        assert [e.id for e in store.pending()] == [after.id]
    assert machine.systemctl_calls() == ["systemctl stop hadir-edge", "systemctl start hadir-edge"]


def documented_installer_runs() -> list[tuple[str, str, list[str]]]:
    """(where, script name, arguments) of every installer command line in a shell block."""
    found: list[tuple[str, str, list[str]]] = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for code in _code_blocks(path.read_text()):
            for line in _command_lines(code):
                if "install-edge.sh" not in line and "install-server.sh" not in line:
                    continue
                words = shlex.split(line, comments=True)
                for i, word in enumerate(words):
                    name = Path(word).name
                    if name in {"install-edge.sh", "install-server.sh"}:
                        where = f"{path.relative_to(ROOT)}: {line.strip()}"
                        found.append((where, name, words[i + 1 :]))
    return found


def test_documented_installer_command_lines_are_accepted(tmp_path: Path) -> None:
    """Each documented installer line, as a dry run below an empty --root: every option
    exists, every value is accepted, and nothing would stop a real run."""
    if shutil.which("dpkg-query") is None:
        if _in_ci():
            pytest.fail("dpkg-query is missing: CI runs on Debian")
        pytest.skip("not a Debian-based system (no dpkg-query)")
    runs = documented_installer_runs()
    assert {name for _, name, _ in runs} == {"install-edge.sh", "install-server.sh"}
    (tmp_path / "door-1.token").write_text("a-token-from-hadir-terminal-add\n")
    for where, name, args in runs:
        root = tmp_path / "root"
        root.mkdir()
        result = subprocess.run(
            ["bash", str(ROOT / "scripts" / name), *args, "--dry-run", "--root", str(root)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, f"{where}\n{result.stderr}"
        assert "would stop here" not in result.stderr, f"{where}\n{result.stderr}"
        shutil.rmtree(root)


def _server_rows(url: str, person_ids: list[str]) -> None:
    """A migrated server database with one event and one rejected event per person."""
    from sync_server import db as server_db

    database = server_db.Database.from_url(url, pool_size=1)
    try:
        server_db.migrate(database)
        now = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
        with database.write() as conn:
            for person in person_ids:
                event = {
                    "id": uuid.uuid4(), "device_id": "door-1", "person_id": person, "kind": "in",
                    "wall_time": now, "clock_synced": True, "monotonic": 1.0, "boot_id": "b",
                    "distance": 0.3, "margin": 0.2, "corrected_time": now,
                    "time_source": "terminal", "received_at": now, "person_known": True,
                    "effective_us": 0,
                }  # fmt: skip
                conn.execute(server_db.events.insert().values(**event))
                rejected = {
                    "event_id": uuid.uuid4(), "device_id": "door-1", "reason": "future_time",
                    "detail": "", "received_at": now,
                    "payload": json.dumps({"id": str(uuid.uuid4()), "person_id": person}),
                }  # fmt: skip
                conn.execute(server_db.rejected_events.insert().values(**rejected))
    finally:
        database.dispose()


def _server_people(url: str) -> tuple[list[str], list[str]]:
    """Person ids in events, and in rejected events' payloads."""
    import sqlalchemy as sa

    from sync_server import db as server_db

    database = server_db.Database.from_url(url, pool_size=1)
    try:
        with database.read() as conn:
            events = conn.execute(sa.select(server_db.events.c.person_id)).scalars().all()
            payloads = conn.execute(sa.select(server_db.rejected_events.c.payload)).scalars()
            rejected = [json.loads(p)["person_id"] for p in payloads]
    finally:
        database.dispose()
    return sorted(events), sorted(rejected)


@pytest.mark.postgres
@pytest.mark.parametrize("who", WHO)
def test_erasing_a_persons_attendance_as_written(
    machine: Machine, who: str, pg_cluster: tuple[dict[str, str], object]
) -> None:
    import sqlalchemy as sa

    from edge.store import EdgeStore

    pg_env, engine = pg_cluster
    assert isinstance(engine, sa.Engine)
    machine.pg_env = pg_env
    people = ["emp-17", "emp-18"]
    sqlite_path = machine.base / "var/lib/hadir-server/hadir-server.db"
    sqlite_path.parent.mkdir(parents=True)
    sqlite_url = f"sqlite:///{sqlite_path}"
    _server_rows(sqlite_url, people)
    db = f"hadir_walk_{uuid.uuid4().hex[:10]}"
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{db}"'))
    pg_url = engine.url.set(database=db).render_as_string(hide_password=False)
    try:
        _server_rows(pg_url, people)
        edge = machine.base / "var/lib/hadir/hadir-edge.sqlite3"
        edge.parent.mkdir(parents=True)
        with EdgeStore.open(edge, device_id="door-1") as store:
            for person in people:
                store.record(person, distance=0.3, margin=0.2)
        for item in (edge.parent, *edge.parent.iterdir()):
            os.chown(item, 65534, 65534)

        script = substitute(
            block("erase-attendance"),
            ("sudo -u hadir ", "sudo -u nobody "),
            ("psql hadir ", f"psql {db} "),
        )
        machine.run(machine.rooted(script), who)

        assert _server_people(sqlite_url) == (["emp-18"], ["emp-18"])
        assert _server_people(pg_url) == (["emp-18"], ["emp-18"])
        with EdgeStore.open(edge, device_id="door-1") as store:
            assert [e.person_id for e in store.events()] == ["emp-18"]
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))


@pytest.mark.parametrize("who", WHO)
def test_rotating_the_admin_token_as_written(machine: Machine, who: str) -> None:
    from edge.credentials import read_first_line

    (machine.base / "etc/hadir").mkdir(mode=0o755)
    token_file = machine.base / "etc/hadir/admin_token"
    token_file.write_text("the-old-admin-token\n")
    token_file.chmod(0o600)
    machine.run(machine.rooted(block("rotate-admin-token")), who)
    info = token_file.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o600)
    token = read_first_line(token_file, "admin token")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token), token
    assert machine.systemctl_calls() == ["systemctl restart hadir-server"]
