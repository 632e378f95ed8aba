"""Under systemd every log line is one JSON object, third-party libraries' lines included
(issue 10 item 20): the server and the terminal daemon as real processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np

from sync_server.process import ServerProcess
from tests.support import ROOT

ADMIN_TOKEN = "admin-token-for-json-logs-0123456789"


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line parsed; fails on the first line that is not a JSON object."""
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise AssertionError(f"not JSON: {line!r}\nin:\n{text}") from exc
        assert isinstance(record, dict), line
        records.append(record)
    return records


def _noise_frames(folder: Path, count: int) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(7)
    for n in range(count):
        cv2.imwrite(str(folder / f"{n:03d}.png"), rng.integers(0, 255, (240, 320, 3), np.uint8))
    return folder


def _edge_toml(tmp_path: Path, frames: Path, server: str, token_file: Path, feedback: str) -> Path:
    config = tmp_path / f"edge-{feedback}.toml"
    pins = "green_pin = 17\nred_pin = 27\nbuzzer_pin = 22\n" if feedback == "gpio" else ""
    config.write_text(
        f'data_dir = "{tmp_path / ("data-" + feedback)}"\n'
        '[device]\nid = "door-1"\n'
        f'[capture.camera]\ntype = "replay"\npath = "{frames}"\npace = "fast"\n'
        f'[feedback]\ntype = "{feedback}"\n{pins}'
        f'[sync]\nserver_url = "{server}"\ntoken_file = "{token_file}"\n'
    )
    return config


def _run_edge(config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HADIR_", "GPIOZERO_"))}
    # As systemd/hadir-edge.service runs it.
    env.update({"HADIR_LOG_FORMAT": "json", "PYTHONPATH": str(ROOT)})
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", "edge", "run", "--config", str(config),
         "--max-frames", "12"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_server_and_daemon_logs_are_pure_json(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "srv", f"sqlite:///{tmp_path}/srv.db", ADMIN_TOKEN)
    with server:
        # uvicorn warns about a request that is not HTTP: its own logger, through ours.
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            sock.recv(1024)
        answer = httpx.post(
            f"{server.url}/api/v1/admin/terminals",
            json={"id": "door-1", "group": "default"},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert answer.status_code == 201, answer.text
        token_file = tmp_path / "door-1.token"
        token_file.write_text(answer.json()["token"] + "\n")
        frames = _noise_frames(tmp_path / "frames", 12)

        ran = _run_edge(_edge_toml(tmp_path, frames, server.url, token_file, "log"), tmp_path)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout == ""
        events = [r["event"] for r in json_lines(ran.stderr)]
        assert "daemon_ready" in events
        assert "sync_started" in events
        assert not any("HTTP Request" in e for e in events)  # httpx's INFO lines

        # A terminal without GPIO: gpiozero's four PinFactoryFallback warnings (Python
        # warnings, printed as two plain lines each before) arrive as JSON records.
        gpio = _run_edge(_edge_toml(tmp_path, frames, server.url, token_file, "gpio"), tmp_path)
        assert gpio.returncode == 2
        logged = json_lines(gpio.stderr)
        warned = [r for r in logged if r.get("logger") == "py.warnings"]
        assert len(warned) >= 1, gpio.stderr
        assert all("PinFactoryFallback" in r["event"] for r in warned)
        assert all(r["level"] == "warning" for r in warned)
        # Its last word, why it did not start, is a JSON record too.
        assert logged[-1]["event"] == "daemon_start_failed"
        assert logged[-1]["error"].startswith("cannot drive the green LED on pin 17")
        server.terminate()  # its shutdown lines too

    records = json_lines(server.log())
    assert "server_ready" in [r["event"] for r in records]
    uvicorn = [r for r in records if r.get("logger", "").startswith("uvicorn")]
    assert any("Invalid HTTP request" in r["event"] for r in uvicorn), server.log()
    # Third-party INFO (alembic's plugins and upgrades, uvicorn's banner) stays out.
    assert not any(r.get("logger", "").startswith("alembic") for r in records)
    assert all(r["level"] != "info" for r in uvicorn)
