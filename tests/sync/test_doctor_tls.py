"""The doctor's ``server`` line reaches the server as the daemon does: through
``sync.ca_file`` (a real HTTPS server with a private CA, made with openssl), and
without needing the token, whose problems the ``server token`` line names."""

from __future__ import annotations

import http.server
import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.sync import SyncConfig
from edge.sync.doctor import probe_server, probe_token
from tests.sync.helpers import RealServer


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA and a certificate it signed for 127.0.0.1: ca.pem, server.pem, server.key."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl(1) not installed")
    folder = tmp_path_factory.mktemp("ca")
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=hadir test CA",
        cwd=folder,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
        "-out", "server.csr", "-subj", "/CN=127.0.0.1",
        cwd=folder,
    )  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName = IP:127.0.0.1\n")
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-out", "server.pem", "-extfile", "san.ext",
        cwd=folder,
    )  # fmt: skip
    return folder


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"status": "ok"}).encode()
        self.send_response(200 if self.path == "/healthz" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def https_url(private_ca: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(private_ca / "server.pem", private_ca / "server.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_private_ca_from_ca_file_is_trusted(https_url: str, private_ca: Path) -> None:
    config = SyncConfig.model_validate(
        {"server_url": https_url, "token": "t", "ca_file": str(private_ca / "ca.pem")}
    )
    result = probe_server(config)
    assert result.ok, result.line()
    assert "reachable" in result.detail


def test_without_ca_file_the_private_certificate_is_refused(https_url: str) -> None:
    result = probe_server(SyncConfig.model_validate({"server_url": https_url, "token": "t"}))
    assert not result.ok
    assert "not reachable" in result.detail
    assert "CERTIFICATE_VERIFY_FAILED" in result.detail


def test_a_ca_file_that_is_not_a_certificate(https_url: str, tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    config = SyncConfig.model_validate(
        {"server_url": https_url, "token": "t", "ca_file": str(bogus)}
    )
    result = probe_server(config)
    assert not result.ok
    assert f"sync.ca_file {bogus}" in result.detail


def test_an_unreadable_token_file_is_named_not_called_unreachable(
    server: RealServer, tmp_path: Path
) -> None:
    folder = tmp_path / "token"  # a folder where the file should be: cannot be read
    folder.mkdir()
    config = SyncConfig.model_validate({"server_url": server.url, "token_file": str(folder)})
    reachable = probe_server(config, environ={})
    assert reachable.ok, reachable.line()
    token = probe_token(config, "door-1", environ={})
    assert not token.ok
    assert token.detail.startswith(f"sync.token_file: {folder}")
