"""The terminal's sync with the central server: push events, pull enrolment, heartbeat.

    from edge.sync import attach_sync

    sync = attach_sync(store, matcher, config.sync, health=...)  # None without a server_url
    if sync: sync.start()        # background jobs; recognition never waits
    ...
    if sync: sync.request_push() # after each recorded event: never blocks
    ...
    if sync: sync.stop()         # before the store is closed

See docs/sync.md.
"""

from edge.sync.client import SyncClient, TerminalIdentity
from edge.sync.config import CREDENTIAL_NAME, SyncConfig, resolve_token
from edge.sync.errors import (
    AuthError,
    HTTPStatusError,
    ProtocolError,
    RateLimitedError,
    RequestRefusedError,
    ServerError,
    ServerUnreachableError,
    SyncError,
    SyncTimeoutError,
)
from edge.sync.jobs import HealthProvider, HeartbeatHealth, SyncService, SyncStatus
from edge.sync.schedule import SyncSchedule, TaskStatus
from edge.sync.wiring import attach_sync, heartbeat_health

__all__ = [
    "CREDENTIAL_NAME",
    "AuthError",
    "HTTPStatusError",
    "HealthProvider",
    "HeartbeatHealth",
    "ProtocolError",
    "RateLimitedError",
    "RequestRefusedError",
    "ServerError",
    "ServerUnreachableError",
    "SyncClient",
    "SyncConfig",
    "SyncError",
    "SyncSchedule",
    "SyncService",
    "SyncStatus",
    "SyncTimeoutError",
    "TaskStatus",
    "TerminalIdentity",
    "attach_sync",
    "heartbeat_health",
    "resolve_token",
]
