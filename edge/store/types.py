"""Values the store hands back."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from edge.protocol import AttendanceEvent


class Outcome(enum.Enum):
    """What :meth:`~edge.store.EdgeStore.record` did."""

    RECORDED = "recorded"
    """A new event was committed durably: give the "recorded" feedback."""

    ALREADY_RECORDED = "already_recorded"
    """The person was recorded on this terminal within the cooldown: nothing was written."""


@dataclass(frozen=True, slots=True)
class RecordResult:
    """``event`` is the new event, or for a repeat the earlier one it repeats."""

    outcome: Outcome
    event: AttendanceEvent
    since_s: float | None = None
    """For a repeat: seconds since the earlier event (monotonic, or wall after a reboot)."""

    @property
    def recorded(self) -> bool:
        return self.outcome is Outcome.RECORDED


@dataclass(frozen=True, slots=True)
class Backlog:
    """The outbox: events the server has not accepted yet."""

    count: int
    oldest_age_s: float | None
    """Age of the oldest pending event; ``None`` when the outbox is empty."""


@dataclass(frozen=True, slots=True)
class RejectedEvent:
    """An event the server refused: out of the outbox, kept for an operator to see."""

    event: AttendanceEvent
    reason: str
    rejected_at: datetime


@dataclass(frozen=True, slots=True)
class EnrolmentApplied:
    """Summary of one applied enrolment page."""

    since: int
    version: int
    upserted: int
    deleted: int
    reset: bool

    @property
    def changed(self) -> bool:
        """Whether the matcher's matrix must be reloaded."""
        return self.reset or self.upserted > 0 or self.deleted > 0


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Health figures (heartbeat, ``hadir diagnose``, metrics)."""

    path: str
    schema_version: int
    events: int
    pending: int
    synced: int
    rejected: int
    oldest_pending_age_s: float | None
    people: int
    templates: int
    enrolment_version: int
    db_bytes: int
    wal_bytes: int


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """Whether the store can save: what STATUS, the heartbeat and the daemon's exit code say.

    Only writes that reached SQLite count: a failed one (full disk, read-only file, I/O
    error, lock timeout) makes the state ``error`` until a later write changes the file
    again. Refused input (:class:`~edge.store.errors.EventError`, a bad enrolment page)
    says nothing about the disk and is not counted.
    """

    errors: int
    """Writes that failed since the store was opened."""
    consecutive_errors: int
    """Writes that failed since the last one that succeeded."""
    last_error: str | None
    """The last failed write's error (kept after a recovery, for the record)."""
    failing_for_s: float | None
    """Monotonic seconds since the first failure of the current run of failures;
    ``None`` while the last write succeeded."""

    @property
    def ok(self) -> bool:
        return self.consecutive_errors == 0

    @property
    def state(self) -> str:
        """``ok`` or ``error``: the heartbeat's ``store_state``."""
        return "ok" if self.ok else "error"
