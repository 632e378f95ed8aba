"""``hadir server add-admin``: accounts for the admin web, passwords never on the command line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import sqlalchemy as sa

from sync_server.cli import main
from sync_server.config import WebConfig
from sync_server.db import Database, admin_accounts, web_sessions
from sync_server.web import accounts

PASSWORD = "correct horse battery"


def _config(tmp_path: Path, db_url: str) -> str:
    """The server's config, with its database made as an install makes it."""
    path = tmp_path / "server.toml"
    path.write_text(f'database_url = "{db_url}"\n')
    assert main(["migrate", "--config", str(path)]) == 0
    return str(path)


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_add_admin_from_stdin_and_file(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, db_url)
    _stdin(monkeypatch, PASSWORD + "\n")
    assert main(["add-admin", "alice", "--config", config]) == 0
    assert "admin alice: created" in capsys.readouterr().out
    secret = tmp_path / "pw"
    secret.write_text("another long password\n")
    assert main(["add-admin", "bob", "--password-file", str(secret), "--config", config]) == 0
    db = Database.from_url(db_url, pool_size=1)
    try:
        with db.read() as conn:
            rows = {r.username: r for r in conn.execute(sa.select(admin_accounts))}
        assert set(rows) == {"alice", "bob"}
        # Stored as scrypt, never as the password.
        assert rows["alice"].password_hash.startswith("scrypt$")
        assert PASSWORD not in rows["alice"].password_hash
        assert accounts.verify_password(PASSWORD, rows["alice"].password_hash)
        assert accounts.verify_password("another long password", rows["bob"].password_hash)
    finally:
        db.dispose()


def test_bad_accounts_are_refused(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, db_url)
    _stdin(monkeypatch, "short\n")
    assert main(["add-admin", "alice", "--config", config]) == 1
    assert "at least 10 characters" in capsys.readouterr().err
    _stdin(monkeypatch, PASSWORD + "\n")
    assert main(["add-admin", "no spaces please", "--config", config]) == 1
    assert "letters, digits" in capsys.readouterr().err
    _stdin(monkeypatch, PASSWORD + "\n")
    assert main(["add-admin", "alice", "--config", config]) == 0
    _stdin(monkeypatch, PASSWORD + "\n")
    assert main(["add-admin", "alice", "--config", config]) == 1
    assert "already exists (use --reset" in capsys.readouterr().err
    missing = tmp_path / "nope"
    code = main(["add-admin", "carol", "--password-file", str(missing), "--config", config])
    assert code == 2
    assert "cannot read the password" in capsys.readouterr().err


def test_reset_unlocks_and_ends_sessions(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, db_url)
    _stdin(monkeypatch, PASSWORD + "\n")
    assert main(["add-admin", "alice", "--config", config]) == 0
    web = WebConfig(max_login_failures=1)
    db = Database.from_url(db_url, pool_size=1)
    try:
        cookie = accounts.start_session(db, "alice", "127.0.0.1", web)
        assert accounts.check_login(db, "alice", "wrong", web).username is None
        # Locked now: only the right password learns of it (docs/web.md, Security).
        assert accounts.check_login(db, "alice", PASSWORD, web).locked
        _stdin(monkeypatch, "a brand new password\n")
        assert main(["add-admin", "alice", "--reset", "--config", config]) == 0
        assert accounts.load_session(db, cookie, web) is None
        with db.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(web_sessions)).scalar() == 0
        assert accounts.check_login(db, "alice", "a brand new password", web).username == "alice"
        assert accounts.check_login(db, "alice", PASSWORD, web).username is None
    finally:
        db.dispose()
