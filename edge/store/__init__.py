"""The terminal's memory: durable attendance events, their outbox, the enrolment mirror.

    from edge.store import EdgeStore, StoreConfig

    with EdgeStore.open(path, StoreConfig(), device_id="gate-1", timezone="Europe/Berlin") as store:
        result = store.record("p-17", distance=0.41, margin=0.12)
        if result.recorded: ...            # committed with fsync: beep "recorded"

See docs/store.md.
"""

from edge.clock import ClockSyncStatus, kernel_clock_synced, read_boot_id, utc_now, uuid7
from edge.store.config import StoreConfig
from edge.store.errors import (
    EnrolmentPageError,
    EventError,
    NotAStoreError,
    SchemaTooNewError,
    StoreBusyError,
    StoreClosedError,
    StoreCorruptError,
    StoreError,
    StoreFullError,
    StoreIOError,
    StoreLockedError,
    StoreReadOnlyError,
)
from edge.store.lock import StoreLock, lock_holder
from edge.store.migrations import SCHEMA_VERSION
from edge.store.store import EdgeStore, emptied_file
from edge.store.types import (
    Backlog,
    EnrolmentApplied,
    Outcome,
    RecordResult,
    RejectedEvent,
    StoreHealth,
    StoreStats,
)

__all__ = [
    "SCHEMA_VERSION",
    "Backlog",
    "ClockSyncStatus",
    "EdgeStore",
    "EnrolmentApplied",
    "EnrolmentPageError",
    "EventError",
    "NotAStoreError",
    "Outcome",
    "RecordResult",
    "RejectedEvent",
    "SchemaTooNewError",
    "StoreBusyError",
    "StoreClosedError",
    "StoreConfig",
    "StoreCorruptError",
    "StoreError",
    "StoreFullError",
    "StoreHealth",
    "StoreIOError",
    "StoreLock",
    "StoreLockedError",
    "StoreReadOnlyError",
    "StoreStats",
    "emptied_file",
    "kernel_clock_synced",
    "lock_holder",
    "read_boot_id",
    "utc_now",
    "uuid7",
]
