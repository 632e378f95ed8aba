"""A fake Frappe HRMS on a loopback port: the Employee Checkin resource with its error answers.

Behaviour by employee id:

* ``dup-409-*``: 409 ``DuplicateEntryError`` (a unique name clash);
* ``dup-417-*``: 417 ``ValidationError`` "This employee already has a log with the same
  timestamp." (HRMS's own duplicate check);
* ``flaky-*``: 500 on the first try, then created;
* ``down-*``: 500 every time;
* ``inactive-*``: 417 ``ValidationError`` that is not a duplicate (a real refusal);
* anything else: created, and a repeat of the same (employee, time, log_type) gets HRMS's
  duplicate answer, as the real one does.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote

RESOURCE = "/api/resource/Employee Checkin"


class FakeHrms:
    def __init__(self, api_key: str, api_secret: str) -> None:
        self.expected_auth = f"token {api_key}:{api_secret}"
        self.lock = threading.Lock()
        self.stored: set[tuple[str, str, str]] = set()
        self.records: list[dict[str, Any]] = []
        self.posts: Counter[tuple[str, str, str]] = Counter()
        self.bad_requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                fake.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHrms:
        self.thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length", "0"))
        raw = request.rfile.read(length)
        if unquote(request.path) != RESOURCE:
            self.reply(request, 404, {"exc_type": "DoesNotExistError"})
            return
        if request.headers.get("Authorization") != self.expected_auth:
            self.reply(request, 401, {"exc_type": "AuthenticationError"})
            return
        doc = json.loads(raw)
        if set(doc) != {"employee", "time", "log_type", "device_id"}:
            self.bad_requests.append(raw.decode())
            self.reply(request, 417, {"exc_type": "ValidationError", "exception": "bad fields"})
            return
        key = (doc["employee"], doc["time"], doc["log_type"])
        body: dict[str, Any]
        with self.lock:
            self.posts[key] += 1
            tries = self.posts[key]
            employee = doc["employee"]
            if employee.startswith("dup-409"):
                status, body = 409, {"exc_type": "DuplicateEntryError", "exception": "exists"}
            elif employee.startswith("dup-417") or key in self.stored:
                message = "This employee already has a log with the same timestamp."
                status, body = (
                    417,
                    {
                        "exc_type": "ValidationError",
                        "_server_messages": json.dumps([json.dumps({"message": message})]),
                    },
                )
            elif employee.startswith("down") or (employee.startswith("flaky") and tries == 1):
                status, body = 500, {"exc_type": "OperationalError", "exception": "db busy"}
            elif employee.startswith("inactive"):
                status, body = (
                    417,
                    {
                        "exc_type": "ValidationError",
                        "exception": f"Employee {employee} is not active",
                    },
                )
            else:
                self.stored.add(key)
                self.records.append(doc)
                status, body = 200, {"data": {"name": f"EMP-CKIN-{len(self.records)}", **doc}}
        self.reply(request, status, body)

    @staticmethod
    def reply(request: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
