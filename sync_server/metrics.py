"""Prometheus metrics, one registry per app so tests can build many apps in one process.

Each server process counts its own requests; with several processes, scrape each one
(or sum them in Prometheus). Totals that must be exact across processes live in the
database (events, rejected events) and the admin API reports them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from edge import __version__

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.events = Counter(
            "hadir_server_events",
            "Attendance events answered, by status (accepted, duplicate, rejected).",
            ["status"],
            registry=self.registry,
        )
        self.batches = Counter(
            "hadir_server_event_batches", "Event batches ingested.", registry=self.registry
        )
        self.auth_failures = Counter(
            "hadir_server_auth_failures",
            "Requests refused for credentials, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.photos = Counter(
            "hadir_server_enrolment_photos",
            "Enrolment photos processed, by result (accepted or a rejection reason).",
            ["result"],
            registry=self.registry,
        )
        self.heartbeats = Counter(
            "hadir_server_heartbeats", "Terminal heartbeats received.", registry=self.registry
        )
        self.latency = Histogram(
            "hadir_server_request_duration_seconds",
            "HTTP request latency by route template, method and status code.",
            ["method", "route", "status"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.info = Gauge(
            "hadir_server_info",
            "Constant 1, labelled with the version.",
            ["version"],
            registry=self.registry,
        )
        self.info.labels(version=__version__).set(1)


class LatencyMiddleware:
    """Times every HTTP request; labels use the route template, never the raw path."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.latency.labels(
                scope["method"], route_template(scope), str(status)
            ).observe(time.perf_counter() - start)


def route_template(scope: Scope) -> str:
    """``/api/v1/admin/people/{person_id}`` for any person: one label per route, not per path.

    The matched route knows its template relative to the router it was declared in; the
    prefixes it was included under are the request path's leading segments.
    """
    template = getattr(scope.get("route"), "path", None)
    if not isinstance(template, str) or not template.startswith("/"):
        # Unmatched paths share one label so scanners cannot blow up the series count.
        return "(unmatched)"
    path = str(scope["path"])
    extra = path.rstrip("/").count("/") - template.rstrip("/").count("/")
    if extra > 0:
        template = "/".join(path.split("/")[: extra + 1]) + template
    return template
