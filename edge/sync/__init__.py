"""The terminal's sync with the central server: push events, pull enrolment, heartbeat.

    from edge.sync import attach_sync

    sync = attach_sync(daemon, config.sync)   # None without a server_url
    if sync: sync.start()                     # background jobs; recognition never waits
    ...
    if sync: sync.stop()                      # before the store is closed

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
from edge.sync.jobs import HeartbeatHealth, SyncService, SyncStatus, TaskStatus
from edge.sync.wiring import attach_sync, daemon_health

__all__ = [
    "CREDENTIAL_NAME",
    "AuthError",
    "HTTPStatusError",
    "HeartbeatHealth",
    "ProtocolError",
    "RateLimitedError",
    "RequestRefusedError",
    "ServerError",
    "ServerUnreachableError",
    "SyncClient",
    "SyncConfig",
    "SyncError",
    "SyncService",
    "SyncStatus",
    "SyncTimeoutError",
    "TaskStatus",
    "TerminalIdentity",
    "attach_sync",
    "daemon_health",
    "resolve_token",
]
