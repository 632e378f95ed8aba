"""A sync server in a child process on a loopback port (``python -m sync_server run``).

``hadir demo`` runs one, and so do the tests that need a real server (SIGTERM, SIGKILL,
several processes on one database, a terminal syncing over real HTTP). One helper, so all
of them write the config, start the process and wait for ``/readyz`` the same way.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import httpx

from edge.errors import HadirError

LOOPBACK = "127.0.0.1"
READY_POLL_S = 0.1
LOG_TAIL_LINES = 40

# The child imports this very copy of the package, wherever it was started from (a work
# directory, a checkout that is not installed).
_PACKAGE_PARENT = Path(__file__).resolve().parents[1]


class ServerStartError(HadirError, RuntimeError):
    """The server process exited during start-up or did not become ready in time."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _toml_string(value: str) -> str:
    # A JSON string is a valid TOML basic string: paths with quotes or backslashes stay intact.
    return json.dumps(value)


class ServerProcess:
    """One server process on ``127.0.0.1``; ``start()`` returns once ``/readyz`` answers 200.

    Its config ``<name>.toml`` and log ``<name>.log`` are written in ``workdir``, which is
    also its working directory. ``port`` reuses a port (a restart on the same address);
    by default a free one is picked. ``extra_toml`` goes into the config's top level.
    """

    def __init__(
        self,
        workdir: Path,
        database_url: str,
        admin_token: str,
        *,
        name: str = "server",
        port: int | None = None,
        workers: int = 1,
        log_level: str = "info",
        extra_toml: str = "",
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.database_url = database_url
        self.admin_token = admin_token
        self.name = name
        self.workers = workers
        self.log_level = log_level
        self.extra_toml = extra_toml
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.port = free_port() if port is None else port
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.config_path = workdir / f"{name}.toml"
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> ServerProcess:
        """Start the process and wait until it is ready; on failure it is not left running."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            f"database_url = {_toml_string(self.database_url)}\n"
            f"{self.extra_toml}\n"
            f'[listen]\nhost = "{LOOPBACK}"\nport = {self.port}\nworkers = {self.workers}\n'
            f'[logging]\nformat = "json"\nlevel = {_toml_string(self.log_level)}\n'
        )
        inherited = self.environ.get("PYTHONPATH")
        env = {
            **self.environ,
            "HADIR_ADMIN_TOKEN": self.admin_token,
            "PYTHONPATH": os.pathsep.join(
                [str(_PACKAGE_PARENT), *([inherited] if inherited else [])]
            ),
        }
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sync_server", "run", "--config", str(self.config_path)],
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise ServerStartError(
                    f"the server {self.name} exited at start (exit code {code}); "
                    f"the end of its log {self.log_path}:\n{self.log_tail()}"
                )
            try:
                if httpx.get(self.url + "/readyz", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(READY_POLL_S)
        self.kill()
        raise ServerStartError(
            f"the server {self.name} did not become ready in {timeout} s; "
            f"the end of its log {self.log_path}:\n{self.log_tail()}"
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM (a clean shutdown) and wait; returns the exit code."""
        if self.proc is None:
            raise ServerStartError(f"the server {self.name} was never started")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, and SIGKILL when it has not ended within ``timeout``."""
        if self.running:
            try:
                self.terminate(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
