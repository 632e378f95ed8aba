"""edge.logs in-process: every line one JSON object that names its logger (issue 14).

test_json_logs.py runs the real server and daemon as processes; these tests look at one
line at a time: our events under the module's ``__name__``, and a real httpx request's
stdlib line rendered by the same renderer.
"""

from __future__ import annotations

import ast
import http.server
import io
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from edge.feedback import LogFeedback, Signal
from edge.logs import OWN_LOGGERS, configure_logging
from edge.sync.scheduler import SCHEDULER_LOGGER

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def journal() -> Iterator[io.StringIO]:
    """JSON logging into a buffer; the stdlib root logger put back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {
        name: logging.getLogger(name).level for name in (*OWN_LOGGERS, "httpx", SCHEDULER_LOGGER)
    }
    # A sync job built earlier in this worker process (pytest-xdist) quiets the scheduler's
    # logger to WARNING; a daemon configures logging before it builds any job.
    logging.getLogger(SCHEDULER_LOGGER).setLevel(logging.NOTSET)
    buffer = io.StringIO()
    configure_logging("info", "json", stream=buffer)
    yield buffer
    logging.captureWarnings(False)
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def records(buffer: io.StringIO) -> list[dict[str, Any]]:
    parsed = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert all(isinstance(record, dict) for record in parsed), buffer.getvalue()
    return parsed


def test_our_events_name_the_module_that_logged_them(journal: io.StringIO) -> None:
    feedback = LogFeedback()
    feedback.signal(Signal.ACCEPTED)
    feedback.close()
    [line] = [r for r in records(journal) if r["event"] == "feedback"]
    assert line["logger"] == "edge.feedback.simple"
    assert line["outcome"] == "accepted"
    assert line["level"] == "info"


def test_a_logger_without_a_name_adds_no_logger_field(journal: io.StringIO) -> None:
    structlog.get_logger().warning("nameless")
    structlog.get_logger("edge.sync.jobs").warning("named", logger="given")
    nameless, named = records(journal)
    assert nameless["event"] == "nameless"
    assert "logger" not in nameless
    assert named["logger"] == "given"  # a field the caller sets is not overwritten


def test_our_stdlib_loggers_follow_the_configured_level(journal: io.StringIO) -> None:
    logging.getLogger("edge.sync.scheduler.apscheduler").info("ours at info")
    logging.getLogger("sync_server.app").info("ours too")
    logging.getLogger("alembic.runtime.migration").info("theirs at info")
    assert [(r["logger"], r["event"]) for r in records(journal)] == [
        ("edge.sync.scheduler.apscheduler", "ours at info"),
        ("sync_server.app", "ours too"),
    ]


class _Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def test_an_httpx_request_line_is_one_json_object_with_its_logger(journal: io.StringIO) -> None:
    # httpx logs each request at INFO; an operator who turns that logger up gets JSON too.
    logging.getLogger("httpx").setLevel(logging.INFO)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hello"
        assert httpx.get(url).text == "hello"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    [line] = records(journal)
    assert line["logger"] == "httpx"
    assert line["level"] == "info"
    assert line["event"] == f'HTTP Request: GET {url} "HTTP/1.1 200 OK"'
    assert "timestamp" in line


def _get_logger_calls(path: Path) -> list[ast.Call]:
    calls = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get_logger"
        ):
            calls.append(node)
    return calls


def test_every_module_logs_under_its_own_name() -> None:
    # One scheme: a line's "logger" is the module that wrote it, so a filter by prefix
    # (edge.sync, sync_server.api) finds every line of that part and nothing else.
    found, wrong = 0, []
    for package in OWN_LOGGERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            for call in _get_logger_calls(path):
                found += 1
                named = [arg.id for arg in call.args if isinstance(arg, ast.Name)]
                if named != ["__name__"] or len(call.args) != 1:
                    wrong.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert found > 20  # the scan sees the modules' loggers
    assert wrong == [], f"structlog.get_logger(__name__) expected at {wrong}"
