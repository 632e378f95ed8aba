"""The CLI hooks: ``add_server_parser`` for ``hadir server``, and its database helpers."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from edge import __version__
from sync_server.cli import add_server_parser, main
from sync_server.db import Database, head_revision, terminals
from sync_server.process import free_port
from tests.support import ROOT

CONFIG_ENV = "HADIR_SERVER_CONFIG"  # documented in docs/server.md


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


# --- which database a command uses, and one-line errors (issue 11 items 2, 3, 13, 14) --------


def hadir(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """The real ``hadir`` command in a subprocess, as an admin types it in a shell."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("HADIR_")}
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *args],
        cwd=cwd,
        env={**base, "PYTHONPATH": str(ROOT), **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def last_word(stderr: str) -> str:
    """The one line a failed command leaves, as text: ``server run`` logs it as a JSON record
    when its logs are JSON (stderr not a terminal), the other commands print ``hadir: ...``."""
    line = one_line(stderr)
    if line.startswith("{"):
        record = json.loads(line)
        assert (record["event"], record["level"]) == ("server_start_failed", "error")
        return f"hadir: {record['error']}"
    return line


def test_without_config_no_stray_database_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 11: "hadir server add-admin dave" from root's home said "created" and made
    # ./hadir-server.db; the server never saw the account.
    home = tmp_path / "home"
    home.mkdir()
    result = hadir("server", "add-admin", "dave", cwd=home, stdin="a long password\n")
    assert result.returncode == 2, result.stdout + result.stderr
    assert one_line(result.stderr) == (
        f"hadir: config error: no database at {home / 'hadir-server.db'} (database_url from "
        "built-in defaults; no /etc/hadir/server.toml): give the server's config with "
        f"--config FILE (or {CONFIG_ENV}); a new database is created by hadir server "
        "migrate --config FILE"
    )
    assert result.stdout == ""
    monkeypatch.chdir(home)
    for key in [k for k in os.environ if k.startswith("HADIR_")]:
        monkeypatch.delenv(key)
    absent = tmp_path / "absent.toml"
    for command in (["add-terminal", "door-1"], ["migrate"], ["run"]):
        assert main(command, default_config=absent) == 2
        line = last_word(capsys.readouterr().err)
        assert f"no database at {home / 'hadir-server.db'}" in line
        assert "--config FILE" in line
    assert list(home.iterdir()) == []


def test_commands_find_the_default_config(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write_config(tmp_path, db_url)
    assert main(["migrate", "--config", str(config)]) == 0
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    capsys.readouterr()
    # No --config: the installed config (here a temporary stand-in for /etc/hadir/server.toml).
    assert main(["add-terminal", "door-1"], default_config=config) == 0
    token = capsys.readouterr().out.strip()
    # $HADIR_SERVER_CONFIG comes before it.
    monkeypatch.setenv(CONFIG_ENV, str(config))
    assert main(["add-terminal", "door-2"], default_config=tmp_path / "absent.toml") == 0
    db = Database.from_url(db_url)
    try:
        with db.read() as conn:
            rows = conn.execute(sa.select(terminals.c.id, terminals.c.token_hash)).all()
    finally:
        db.dispose()
    assert sorted(r.id for r in rows) == ["door-1", "door-2"]
    assert hashlib.sha256(token.encode()).hexdigest() in {r.token_hash for r in rows}
    assert list(elsewhere.iterdir()) == []


def test_only_run_and_migrate_with_named_settings_create_sqlite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db_file = tmp_path / "new" / "server.db"
    config = _write_config(tmp_path, f"sqlite:///{db_file}")
    assert main(["add-terminal", "door-1", "--config", str(config)]) == 2
    assert f"no database at {db_file}" in capsys.readouterr().err
    assert not db_file.exists()
    # The installed default config is not "named": it does not make a new file either.
    assert main(["migrate"], default_config=config) == 2
    assert "name the settings: hadir server migrate --config FILE" in capsys.readouterr().err
    assert not db_file.exists()
    assert main(["migrate", "--config", str(config)]) == 0
    assert db_file.exists()
    assert main(["add-terminal", "door-1", "--config", str(config)]) == 0


def test_unreachable_database_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = free_port()
    url = f"postgresql://hadir-server:s3cret-pw@127.0.0.1:{closed}/hadir"
    expected = (
        "hadir: cannot connect to the database "
        f"postgresql+psycopg://hadir-server:***@127.0.0.1:{closed}/hadir: "
    )
    result = hadir(
        "server", "add-admin", "dave", cwd=tmp_path, env={"HADIR_DATABASE_URL": url}, stdin="x\n"
    )
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith(expected)
    assert "Connection refused" in line
    assert "s3cret-pw" not in result.stderr
    monkeypatch.setenv("HADIR_DATABASE_URL", url)
    for command in (["migrate"], ["add-terminal", "door-1"], ["run"]):
        assert main(command, default_config=tmp_path / "absent.toml") == 2
        assert last_word(capsys.readouterr().err).startswith(expected)


@pytest.mark.postgres
def test_missing_postgres_database_is_one_line(pg_admin_engine: sa.Engine, tmp_path: Path) -> None:
    url = pg_admin_engine.url.set(database="no_such_hadir_db").render_as_string(False)
    result = hadir("server", "migrate", cwd=tmp_path, env={"HADIR_DATABASE_URL": url})
    assert result.returncode == 2
    assert 'database "no_such_hadir_db" does not exist' in one_line(result.stderr)


class PeerRefusingPostgres:
    """A PostgreSQL stand-in that answers every login like a local server whose peer
    authentication refuses the OS user (root asking to be "hadir-server")."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port: int = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self._answer(conn)

    @staticmethod
    def _answer(conn: socket.socket) -> None:
        while True:
            head = conn.recv(8, socket.MSG_WAITALL)
            if len(head) < 8:
                return
            length, code = struct.unpack("!II", head)
            conn.recv(length - 8, socket.MSG_WAITALL)
            if code in (80877103, 80877104):  # SSLRequest, GSSENCRequest: not here
                conn.sendall(b"N")
                continue
            fields = b"".join(
                kind + text.encode() + b"\0"
                for kind, text in (
                    (b"S", "FATAL"),
                    (b"V", "FATAL"),
                    (b"C", "28000"),
                    (b"M", 'Peer authentication failed for user "hadir-server"'),
                )
            )
            conn.sendall(b"E" + struct.pack("!I", len(fields) + 5) + fields + b"\0")
            return

    def close(self) -> None:
        self.sock.close()


def test_peer_authentication_refusal_says_which_user(tmp_path: Path) -> None:
    # Issue 11: root running a server command on a PostgreSQL install got 115 lines ending in
    # 'Peer authentication failed for user "hadir-server"'.
    fake = PeerRefusingPostgres()
    try:
        url = f"postgresql+psycopg://hadir-server@127.0.0.1:{fake.port}/hadir"
        config = _write_config(tmp_path, url)
        result = hadir(
            "server", "add-admin", "dave", "--config", str(config), cwd=tmp_path, stdin="pw\n"
        )
    finally:
        fake.close()
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert 'Peer authentication failed for user "hadir-server"' in line
    assert "run it as the service user hadir-server: sudo systemd-run --pipe --wait" in line
    assert "-p DynamicUser=yes -p User=hadir-server " in line
    assert line.endswith(f"-m edge.cli server add-admin dave --config {config}")


def test_newer_schema_is_refused_in_one_line(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 11 item 14: a downgraded server met the newer schema with a 28-frame traceback.
    config = _write_config(tmp_path, db_url)
    assert main(["migrate", "--config", str(config)]) == 0
    db = Database.from_url(db_url)
    try:
        with db.write() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9001'"))
    finally:
        db.dispose()
    expected = (
        "hadir: database schema is at revision 9001, newer than this hadir "
        f"({__version__}, schema {head_revision()}): upgrade hadir, or restore"
    )
    # The service's logs are JSON lines (stderr is not a terminal): so is its last word.
    result = hadir("server", "run", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert one_line(result.stderr).startswith("{")
    assert last_word(result.stderr).startswith(expected)
    capsys.readouterr()
    for command in (["run"], ["migrate"], ["add-terminal", "door-1"]):
        assert main([*command, "--config", str(config)]) == 2
        assert last_word(capsys.readouterr().err).startswith(expected)


def test_server_commands_are_quiet(tmp_path: Path) -> None:
    # Issue 11 item 13: seven "alembic ... setup plugin" lines before the password prompt.
    config = _write_config(tmp_path, f"sqlite:///{tmp_path / 'server.db'}")
    migrated = hadir("server", "migrate", "--config", str(config), cwd=tmp_path)
    assert (migrated.returncode, migrated.stderr) == (0, "")
    added = hadir(
        "server", "add-admin", "dave", "--config", str(config), cwd=tmp_path,
        stdin="a long password\n",
    )
    assert (added.returncode, added.stderr, added.stdout) == (0, "", "admin dave: created\n")
