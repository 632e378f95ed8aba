"""Hooking the sync jobs into the edge daemon.

daemon = EdgeDaemon.from_config(config)
sync = attach_sync(daemon, config.sync)   # None when no server is configured
...                                       # daemon.run(): sync.start() after READY
...                                       # daemon.close(): sync.stop() before store.close()
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx
import structlog

from edge.capture import CaptureHealth
from edge.recognize.matcher import Matcher
from edge.store import EdgeStore, RecordResult
from edge.sync.client import SyncClient
from edge.sync.config import SyncConfig
from edge.sync.jobs import HeartbeatHealth, SyncService

log = structlog.get_logger(__name__)

# Stages that together make up the work on one face (see edge.recognize.loop).
_FACE_STAGES = ("detect", "landmarks", "descriptor", "match")


class _HasHealth(Protocol):
    def health(self) -> CaptureHealth: ...


class _HasSnapshot(Protocol):
    def snapshot(self) -> dict[str, dict[str, float]]: ...


class DaemonParts(Protocol):
    """What the sync jobs need of :class:`edge.daemon.runner.EdgeDaemon`."""

    @property
    def store(self) -> EdgeStore: ...

    @property
    def matcher(self) -> Matcher: ...

    @property
    def recorded_listeners(self) -> list[Callable[[RecordResult], None]]: ...

    @property
    def grabber(self) -> _HasHealth: ...

    @property
    def timings(self) -> _HasSnapshot: ...


def daemon_health(daemon: DaemonParts) -> HeartbeatHealth:
    """Camera state and fps from the grabber; recognition latency from the stage timings.

    A ``decision`` stage (face appeared -> decided), when the loop records one, is
    the latency; otherwise the mean time of the per-face stages stands in for it.
    """
    capture = daemon.grabber.health()
    stages = daemon.timings.snapshot()
    latency: float | None = None
    decision = stages.get("decision")
    if decision and decision.get("count"):
        latency = float(decision["mean_ms"])
    else:
        measured = [stages[s]["mean_ms"] for s in _FACE_STAGES if stages.get(s, {}).get("count")]
        latency = float(sum(measured)) if measured else None
    return HeartbeatHealth(
        camera_state=str(capture.state),
        fps=float(capture.fps or 0.0),
        recognition_latency_ms=latency,
    )


def attach_sync(
    daemon: DaemonParts,
    config: SyncConfig,
    *,
    transport: httpx.BaseTransport | None = None,
    environ: Mapping[str, str] | None = None,
    **service_options: Any,
) -> SyncService | None:
    """Build the sync service for ``daemon`` and register its push trigger; not started.

    Returns ``None`` when ``config.server_url`` is unset (the terminal then keeps
    every event locally). Raises :class:`~edge.errors.ConfigError` when a server
    is set but no token is found. The caller starts it once the daemon is ready
    and stops it before the store is closed.
    """
    if not config.enabled:
        log.info("sync_disabled", reason="no sync.server_url configured")
        return None
    client = SyncClient.from_config(config, transport=transport, environ=environ)
    service = SyncService(
        daemon.store,
        daemon.matcher,
        client,
        config,
        health_provider=lambda: daemon_health(daemon),
        **service_options,
    )
    daemon.recorded_listeners.append(service.request_push)
    return service


__all__ = ["DaemonParts", "attach_sync", "daemon_health"]
