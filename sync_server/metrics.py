"""Prometheus metrics, one registry per app so tests can build many apps in one process.

Each server process counts its own requests; with several processes, scrape each one
(or sum them in Prometheus). Totals that must be exact across processes live in the
database (events, rejected events) and the admin API reports them.

Every label value is bounded, because every series lives until the process ends: a
client that could choose a label value could grow the process (and ``/metrics``)
without limit. Methods come from a fixed list (anything else is ``OTHER``), routes
are templates, and each labelled metric keeps at most a fixed number of distinct
values, after which new ones are counted as ``other``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from edge import __version__

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

M = TypeVar("M", Counter, Gauge, Histogram)

# Methods that get their own series; anything else a client makes up is OTHER.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "OTHER"
OTHER_VALUE = "other"
# Far above the values the code uses (about 60 routes, a dozen reasons), far below harm.
MAX_LABEL_VALUES = 256


class LabelValues:
    """The distinct values one label has taken, at most ``limit`` of them.

    A value not seen before is kept while there is room; after that every new value
    becomes ``other``, so the series count stays fixed whatever clients send.
    """

    def __init__(self, limit: int = MAX_LABEL_VALUES) -> None:
        self._seen: set[str] = {OTHER_VALUE}
        self._limit = limit
        self._lock = threading.Lock()

    def bound(self, value: str) -> str:
        if value in self._seen:
            return value
        with self._lock:
            if value not in self._seen:
                if len(self._seen) >= self._limit:
                    return OTHER_VALUE
                self._seen.add(value)
        return value


class Bounded(Generic[M]):
    """A metric with one label whose values are bounded by :class:`LabelValues`.

    Callers pass values the code chose (reasons, statuses); the bound guards against a
    future caller passing something a client chose.
    """

    def __init__(self, metric: M) -> None:
        self.metric: M = metric
        self._values = LabelValues()

    def labels(self, value: str) -> M:
        child: M = self.metric.labels(self._values.bound(value))
        return child


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.events = Bounded(
            Counter(
                "hadir_server_events",
                "Attendance events answered, by status (accepted, duplicate, rejected).",
                ["status"],
                registry=self.registry,
            )
        )
        self.batches = Counter(
            "hadir_server_event_batches", "Event batches ingested.", registry=self.registry
        )
        self.auth_failures = Bounded(
            Counter(
                "hadir_server_auth_failures",
                "Requests refused for credentials, by reason.",
                ["reason"],
                registry=self.registry,
            )
        )
        self.photos = Bounded(
            Counter(
                "hadir_server_enrolment_photos",
                "Enrolment photos processed, by result (accepted or a rejection reason).",
                ["result"],
                registry=self.registry,
            )
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
        self._routes = LabelValues()

    def route_label(self, scope: Scope) -> str:
        return self._routes.bound(route_template(scope))


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
                method_label(scope), self.metrics.route_label(scope), status_label(status)
            ).observe(time.perf_counter() - start)


def method_label(scope: Scope) -> str:
    # uvicorn passes any token a client sends as the method (M1, M2, ...): one series each.
    method = str(scope.get("method", ""))
    return method if method in HTTP_METHODS else OTHER_METHOD


def status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else OTHER_VALUE


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
