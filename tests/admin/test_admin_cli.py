"""``hadir person`` / ``hadir terminal`` against a real server process on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.credentials import read_first_line
from edge.errors import ConfigError
from edge.sync.client import SyncClient
from edge.sync.config import SyncConfig
from sync_server.admin_cli import person_id_from_name
from sync_server.admin_client import (
    AdminApiError,
    AdminClient,
    AdminCredentials,
    download,
    load_credentials,
    read_upload,
    refused,
)
from sync_server.corrections_client import CorrectionsClient
from sync_server.process import ServerProcess
from tests.support import ROOT

ADMIN_TOKEN = "admin-token-for-tests-0123456789"


def hadir(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", "--log-format", "json", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_person_id_from_name() -> None:
    assert person_id_from_name("José Núñez-García") == "jose_nunez_garcia"
    assert person_id_from_name("  ") == "person"


def test_credentials_never_need_the_command_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="HADIR_SERVER_URL"):
        load_credentials(None, environ={})
    config = tmp_path / "admin.toml"
    token_file = tmp_path / "token"
    token_file.write_text("secret-from-file\n")
    config.write_text(f'server_url = "http://x:1/"\nadmin_token_file = "{token_file}"\n')
    creds = load_credentials(config, environ={})
    assert (creds.server_url, creds.admin_token) == ("http://x:1", "secret-from-file")
    env = {"HADIR_ADMIN_TOKEN": "from-env"}
    assert load_credentials(config, environ=env).admin_token == "from-env"
    config.write_text('server_url = "http://x"\npassword = "no"\n')
    with pytest.raises(ConfigError, match="password: unknown key"):
        load_credentials(config, environ={})


def _answering(status: int, **answer: Any) -> httpx.MockTransport:
    return httpx.MockTransport(lambda _request: httpx.Response(status, **answer))


@pytest.mark.parametrize(
    ("answer", "reason", "detail"),
    [
        ({"json": {"reason": "unknown_person", "detail": "no person 'x'"}}, "unknown_person",
         "no person 'x'"),
        ({"json": {"reason": "invalid_request", "detail": [
            {"loc": ["query", "from"], "msg": "not a date", "type": "x"},
            {"loc": ["body", "group"], "msg": "too long", "type": "x"},
        ]}}, "invalid_request", "from: not a date; group: too long"),
        ({"text": "<h1>Bad Gateway</h1>"}, None, "<h1>Bad Gateway</h1>"),
    ],
)  # fmt: skip
def test_every_command_reads_a_refusal_alike(
    answer: dict[str, Any], reason: str | None, detail: str
) -> None:
    """The admin client, a download (the audit and attendance CSVs) and the reports read the
    server's error answer the same way; the downloads and reports say the status first."""
    creds = AdminCredentials("http://server", "token")
    client = AdminClient(creds, transport=_answering(422, **answer))
    corrections = CorrectionsClient(creds, transport=_answering(422, **answer))
    with client, pytest.raises(AdminApiError) as by_client:
        client.get_person("x")
    with corrections, pytest.raises(AdminApiError) as by_download:
        list(corrections.audit_csv())
    by_reports = refused(httpx.Response(422, **answer))
    assert (str(by_client.value), by_client.value.reason) == (detail, reason)
    for found in (by_download.value, by_reports):
        assert (str(found), found.status, found.reason) == (
            f"server answered 422: {detail}",
            422,
            reason,
        )


def test_a_download_that_breaks_and_a_file_that_cannot_be_read(tmp_path: Path) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = httpx.Client(base_url="http://server/x", transport=httpx.MockTransport(broken))
    with client, pytest.raises(AdminApiError) as failed:
        list(download(client, "/export.csv", {}, "export"))
    assert str(failed.value) == "export from http://server/x/ failed: connection refused"
    with pytest.raises(AdminApiError) as unreadable:
        read_upload(tmp_path / "missing.csv")
    assert (
        str(unreadable.value)
        == f"{tmp_path / 'missing.csv'}: cannot read (No such file or directory)"
    )


@pytest.mark.faces
@pytest.mark.slow
def test_person_and_terminal_lifecycle(tmp_path: Path, faces_dir: Path) -> None:
    server = ServerProcess(tmp_path / "srv", f"sqlite:///{tmp_path}/srv.db", ADMIN_TOKEN)
    with server:
        env = {
            **os.environ,
            "HADIR_SERVER_URL": server.url,
            "HADIR_ADMIN_TOKEN": ADMIN_TOKEN,
            "HOME": str(tmp_path),
        }
        obama = sorted((faces_dir / "people/barack_obama").iterdir())
        added = hadir(
            "person",
            "add",
            "Barack Obama",
            "--consent",
            "--photo",
            str(obama[0]),
            "--photo",
            str(faces_dir / "scenes/two_people.jpg"),
            "--photo",
            str(faces_dir / "scenes/dogs.jpg"),
            env=env,
            cwd=tmp_path,
        )
        assert added.returncode == 1, added.stderr  # two photos rejected
        assert "person barack_obama (Barack Obama) created" in added.stdout
        assert f"{obama[0]}: enrolled (1 template)" in added.stdout
        assert "two_people.jpg: rejected (several_faces)" in added.stderr
        assert "dogs.jpg: rejected (no_face)" in added.stderr

        # A second photo of the same person under another name: the duplicate warning.
        twin = hadir(
            "person", "add", "Obama Twin", "--consent", "--photo", str(obama[1]),
            env=env, cwd=tmp_path,
        )  # fmt: skip
        assert twin.returncode == 0, twin.stderr
        assert "warning: close to barack_obama" in twin.stderr

        listed = hadir("person", "list", env=env, cwd=tmp_path)
        assert "barack_obama" in listed.stdout
        assert "obama_twin" in listed.stdout
        assert "1 template" in listed.stdout
        assert "1 templates" not in listed.stdout

        removed = hadir("person", "rm", "obama_twin", env=env, cwd=tmp_path)
        assert removed.returncode == 0, removed.stderr
        assert "obama_twin" not in hadir("person", "list", env=env, cwd=tmp_path).stdout

        terminal = hadir("terminal", "add", "door-1", "--group", "default", env=env, cwd=tmp_path)
        assert terminal.returncode == 0, terminal.stderr
        token = terminal.stdout.strip().splitlines()[-1]
        assert len(token) >= 32
        assert "door-1" in hadir("terminal", "list", env=env, cwd=tmp_path).stdout
        rotated = hadir("terminal", "token", "door-1", env=env, cwd=tmp_path)
        assert rotated.returncode == 0, rotated.stderr
        new_token = rotated.stdout.strip().splitlines()[-1]
        assert len(new_token) >= 32
        assert new_token != token

        wrong = hadir(
            "person",
            "list",
            env={**env, "HADIR_ADMIN_TOKEN": "wrong-token-0123456789"},
            cwd=tmp_path,
        )
        assert wrong.returncode == 2
        assert "Traceback" not in wrong.stderr

        down = hadir(
            "person", "list", env={**env, "HADIR_SERVER_URL": "http://127.0.0.1:9"}, cwd=tmp_path
        )
        assert down.returncode == 2
        assert "cannot reach the server" in down.stderr


def test_terminal_add_output_is_the_token_file(tmp_path: Path) -> None:
    # Issue 11 item 1, as docs/operations.md has the admin do it:
    #   hadir terminal add door-1 --group hq > door-1.token
    # then the terminal reads its token file's first line.
    server = ServerProcess(tmp_path / "srv", f"sqlite:///{tmp_path}/srv.db", ADMIN_TOKEN)
    with server:
        env = {
            **os.environ,
            "HADIR_SERVER_URL": server.url,
            "HADIR_ADMIN_TOKEN": ADMIN_TOKEN,
            "HOME": str(tmp_path),
            "PYTHONPATH": str(ROOT),
        }
        env.pop("HADIR_LOG_FORMAT", None)
        token_file = tmp_path / "door-1.token"
        with token_file.open("w") as stdout:
            added = subprocess.run(
                [sys.executable, "-m", "edge.cli", "terminal", "add", "door-1", "--group", "hq"],
                stdout=stdout,
                stderr=subprocess.PIPE,
                env=env,
                cwd=tmp_path,
                text=True,
                timeout=120,
                check=False,
            )
        assert added.returncode == 0, added.stderr
        assert read_first_line(token_file, "terminal token") == token_file.read_text().strip()
        with SyncClient.from_config(
            SyncConfig(server_url=server.url, token_file=token_file), environ={}
        ) as client:
            identity = client.whoami()
        assert (identity.id, identity.group) == ("door-1", "hq")
        # The sentence for the admin goes to the screen, not into the file; and no httpx
        # "HTTP Request: POST ..." lines (issue 11 item 13, issue 10 item 20).
        assert added.stderr.splitlines() == [
            "terminal door-1 created in group hq; its token (shown once) is on stdout: put it "
            "in the terminal's token file"
        ]

        listed = hadir("terminal", "list", env=env, cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        assert listed.stderr == ""
