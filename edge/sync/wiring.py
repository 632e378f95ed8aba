"""Hooking the sync jobs into the edge daemon.

sync = attach_sync(store, matcher, config.sync, health=...)  # None without a server
...                                  # daemon.run(): sync.start() after READY
...                                  # each recorded event: sync.request_push()
...                                  # daemon.close(): sync.stop() before store.close()

The jobs get what they use, not the daemon: the store (outbox, enrolment), the matcher
(swapped after a pull) and a ``health()`` callable for the heartbeat.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import structlog

from edge.capture import CaptureHealth
from edge.recognize.matcher import Matcher
from edge.store import EdgeStore
from edge.sync.client import SyncClient
from edge.sync.config import SyncConfig
from edge.sync.jobs import HealthProvider, HeartbeatHealth, SyncService

log = structlog.get_logger(__name__)

# Stages that together make up the work on one face (see edge.recognize.loop).
_FACE_STAGES = ("detect", "landmarks", "descriptor", "match")


def heartbeat_health(
    capture: CaptureHealth, stages: Mapping[str, Mapping[str, float]]
) -> HeartbeatHealth:
    """Camera state and fps from the grabber's health; recognition latency from the stage
    timings (``StageTimings.snapshot()``).

    A ``decision`` stage (face appeared -> decided), when the loop records one, is
    the latency; otherwise the mean time of the per-face stages stands in for it.
    """
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
    store: EdgeStore,
    matcher: Matcher,
    config: SyncConfig,
    *,
    health: HealthProvider | None = None,
    transport: httpx.BaseTransport | None = None,
    environ: Mapping[str, str] | None = None,
    **service_options: Any,
) -> SyncService | None:
    """Build the sync service for a terminal's store and matcher; not started.

    Returns ``None`` when ``config.server_url`` is unset (the terminal then keeps
    every event locally). Raises :class:`~edge.errors.ConfigError` when a server
    is set but no token is found. The caller starts it once the daemon is ready,
    calls :meth:`SyncService.request_push` after each recorded event, and stops it
    before the store is closed.
    """
    for old, new in config.renamed_keys:
        log.warning("config_key_renamed", old=f"sync.{old}", new=f"sync.{new}")
    if not config.enabled:
        log.info("sync_disabled", reason="no sync.server_url configured")
        return None
    client = SyncClient.from_config(config, transport=transport, environ=environ)
    return SyncService(store, matcher, client, config, health_provider=health, **service_options)


__all__ = ["attach_sync", "heartbeat_health"]
