"""Correct event times recorded while a terminal's wall clock was not synchronised.

A Raspberry Pi without an RTC boots with a stale wall clock, but its monotonic
clock counts correctly from boot. Two readings taken in the same boot differ on
the monotonic clock by exactly the time between them. So one trustworthy wall
time for *any* moment of that boot (a reference) fixes every event of the boot::

    corrected_time = reference_wall + (event.monotonic - reference_monotonic)

References, best first (docs/protocol.md, "Time"):

1. ``corrected_terminal``: a terminal clock reading taken while synchronised, in
   the same boot: the batch itself (``sent_wall_time``/``sent_monotonic`` when
   ``clock_synced``), or an earlier batch or heartbeat of that boot.
2. ``corrected_server``: the server's receive time of a batch or heartbeat of that
   boot paired with its ``sent_monotonic`` (off by the network delay, seconds).
3. none: ``unsynced``, the wall time is kept as sent.

Events whose own clock was synchronised keep their wall time (``terminal``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from edge.protocol import AttendanceEvent, EventBatch


class TimeSource(enum.StrEnum):
    TERMINAL = "terminal"
    CORRECTED_TERMINAL = "corrected_terminal"
    CORRECTED_SERVER = "corrected_server"
    UNSYNCED = "unsynced"


@dataclass(frozen=True, slots=True)
class ClockRef:
    """A wall time known for a monotonic reading of one boot."""

    wall: datetime
    monotonic: float
    synced: bool  # True: a synchronised terminal clock; False: the server's receive time

    def better_than(self, other: ClockRef | None) -> bool:
        return other is None or self.synced or not other.synced

    def wall_at(self, monotonic: float) -> datetime | None:
        """The wall time of another monotonic reading of this boot; None when this reference
        cannot say. Inputs are bounded (edge.protocol), but a database may still hold an
        infinite reading stored before they were, and one bad row must not fail every batch
        of its boot."""
        try:
            return self.wall + timedelta(seconds=monotonic - self.monotonic)
        except (OverflowError, ValueError):
            return None


def batch_ref(batch: EventBatch, received_at: datetime) -> ClockRef:
    """The reference a batch itself provides for its boot."""
    if batch.clock_synced:
        return ClockRef(batch.sent_wall_time, batch.sent_monotonic, True)
    return ClockRef(received_at, batch.sent_monotonic, False)


def merge_refs(stored: Mapping[str, ClockRef], *fresh: tuple[str, ClockRef]) -> dict[str, ClockRef]:
    """Best reference per boot id: synchronised beats server time; newer beats older."""
    refs = dict(stored)
    for boot_id, ref in fresh:
        if ref.better_than(refs.get(boot_id)):
            refs[boot_id] = ref
    return refs


def correct(event: AttendanceEvent, refs: Mapping[str, ClockRef]) -> tuple[datetime, TimeSource]:
    """The event's best-known time and where it came from."""
    if event.clock_synced:
        return event.wall_time, TimeSource.TERMINAL
    ref = refs.get(event.boot_id)
    corrected = None if ref is None else ref.wall_at(event.monotonic)
    if ref is None or corrected is None:
        return event.wall_time, TimeSource.UNSYNCED
    source = TimeSource.CORRECTED_TERMINAL if ref.synced else TimeSource.CORRECTED_SERVER
    return corrected, source


def needs_stored_refs(batch: EventBatch) -> bool:
    """Whether any event could use a reference the batch itself does not carry."""
    return any(
        not e.clock_synced and (e.boot_id != batch.boot_id or not batch.clock_synced)
        for e in batch.events
    )


def boots_needing_refs(events: Iterable[AttendanceEvent]) -> set[str]:
    return {e.boot_id for e in events if not e.clock_synced}
