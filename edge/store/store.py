"""The terminal's memory: attendance events, their outbox, and the enrolment mirror.

One SQLite file in WAL mode, through sqlite-utils. The recognition loop calls
:meth:`EdgeStore.record`, which returns only after the event is committed with
fsync (``synchronous=FULL``), so feedback given after it means "saved". The
sync jobs read the outbox (:meth:`~EdgeStore.pending`), acknowledge it
(:meth:`~EdgeStore.mark_synced`), and apply enrolment pages
(:meth:`~EdgeStore.apply_enrolment`) from another thread; see
:mod:`edge.store.db` for how the threads share the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time as _time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from datetime import time as dtime
from pathlib import Path
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import structlog
from pydantic import TypeAdapter, ValidationError
from sqlite_utils import Database

from edge.clock import ClockSyncStatus, read_boot_id, utc_now, uuid7
from edge.errors import ConfigError
from edge.protocol import (
    AttendanceEvent,
    DeviceId,
    EnrolmentChange,
    EnrolmentPage,
    EventKind,
    LivenessEvidence,
    PersonDelete,
    PersonId,
    PersonUpsert,
    decode_template,
)
from edge.recognize.matcher import Gallery
from edge.recognize.types import DESCRIPTOR_DIM
from edge.store import migrations
from edge.store.config import StoreConfig
from edge.store.db import (
    ConnectionPool,
    companion_files,
    fsync_directory,
    translate,
    translate_os_error,
)
from edge.store.errors import (
    EnrolmentPageError,
    EventError,
    StoreCorruptError,
    StoreError,
    StoreReadOnlyError,
)
from edge.store.lock import StoreLock
from edge.store.types import (
    Backlog,
    EnrolmentApplied,
    Outcome,
    RecordResult,
    RejectedEvent,
    StoreHealth,
    StoreStats,
)

_log = structlog.get_logger(__name__)

MEMORY = ":memory:"
MAX_TEMPLATES_PER_PERSON = 64
_PRUNE_CHUNK = 1000
_MAX_REASON = 500
_MAX_CURSOR_KEY = 100
_MAX_HEALTH_ERROR = 200
PROBE_CURSOR = "store_probe"

_device_id_adapter: TypeAdapter[str] = TypeAdapter(DeviceId)
_person_id_adapter: TypeAdapter[str] = TypeAdapter(PersonId)
_change_adapter: TypeAdapter[PersonUpsert | PersonDelete] = TypeAdapter(EnrolmentChange)

_EVENT_COLUMNS = (
    "id, person_id, device_id, kind, wall_time, clock_synced, monotonic, boot_id, distance, "
    "margin, liveness_score, liveness_passed, liveness_reasons"
)
_EVENT_WIDTH = _EVENT_COLUMNS.count(",") + 1
_SQL_LAST_EVENT = (
    f"SELECT {_EVENT_COLUMNS} FROM events WHERE person_id = ? AND device_id = ? "
    "ORDER BY seq DESC LIMIT 1"
)
_SQL_DAY_HAS_EVENT = (
    "SELECT 1 FROM events WHERE person_id = ? AND wall_time >= ? AND wall_time < ? LIMIT 1"
)
_SQL_INSERT_EVENT = (
    f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES ({', '.join('?' * _EVENT_WIDTH)})"
)
_SQL_UPSERT_PERSON = (
    "INSERT INTO people (person_id, name, version, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (person_id) DO UPDATE SET name = excluded.name, version = excluded.version, "
    "updated_at = excluded.updated_at"
)
_SQL_UPSERT_CURSOR = (
    "INSERT INTO cursors (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) "
    "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
)
_SQL_PENDING = (
    f"SELECT {_EVENT_COLUMNS} FROM events WHERE sync_state = 'pending' ORDER BY seq LIMIT ?"
)


def format_time(value: datetime) -> str:
    """UTC, microseconds, ``Z``: fixed width, so text order is time order in SQL."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _aware_utc(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise EventError(f"{what} must be an aware datetime (with a UTC offset), got {value!r}")
    return value.astimezone(UTC)


def _event_params(event: AttendanceEvent) -> tuple[Any, ...]:
    evidence = event.liveness
    return (
        str(event.id),
        event.person_id,
        event.device_id,
        event.kind.value,
        format_time(event.wall_time),
        int(event.clock_synced),
        event.monotonic,
        event.boot_id,
        event.distance,
        event.margin,
        None if evidence is None else evidence.score,
        None if evidence is None else int(evidence.passed),
        None if evidence is None else ",".join(evidence.reasons),
    )


def _event_from_row(row: tuple[Any, ...] | sqlite3.Row) -> AttendanceEvent:
    try:
        return AttendanceEvent(
            id=uuid.UUID(row[0]),
            person_id=row[1],
            device_id=row[2],
            kind=EventKind(row[3]),
            wall_time=parse_time(row[4]),
            clock_synced=bool(row[5]),
            monotonic=row[6],
            boot_id=row[7],
            distance=row[8],
            margin=row[9],
            liveness=_liveness_from_row(row[10], row[11], row[12]),
        )
    except (ValidationError, ValueError) as exc:
        raise StoreCorruptError(f"event {row[0]!r} in the database is invalid: {exc}") from exc


def _liveness_from_row(
    score: float | None, passed: int | None, reasons: str | None
) -> LivenessEvidence | None:
    if score is None and passed is None and reasons is None:
        return None  # recorded before schema version 3, or with the check off
    if score is None or passed is None:
        raise ValueError(f"partial liveness evidence: score={score!r} passed={passed!r}")
    return LivenessEvidence(
        score=score, passed=bool(passed), reasons=reasons.split(",") if reasons else []
    )


def _checked_liveness(value: object, person_id: str) -> LivenessEvidence | None:
    if value is None:
        return None
    if not isinstance(value, LivenessEvidence):
        raise EventError(
            f"cannot record an event for {person_id!r}: liveness must be a LivenessEvidence "
            f"or None, got {type(value).__name__}"
        )
    # Validated again: model_construct() skips pydantic, and the columns hold what passes here.
    try:
        return LivenessEvidence.model_validate(value.model_dump())
    except ValidationError as exc:
        raise EventError(f"cannot record an event for {person_id!r}: {exc}") from exc


def _event_key(value: uuid.UUID | str) -> str:
    try:
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
    except ValueError as exc:
        raise EventError(f"not an event id: {value!r}") from exc


def _zone(value: str | tzinfo) -> tzinfo:
    if isinstance(value, tzinfo):
        return value
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown time zone {value!r} (expected an IANA name)") from exc


def _local_day_bounds(day: date, zone: tzinfo) -> tuple[str, str]:
    # fold=0 maps a midnight skipped by DST to the transition instant and an
    # ambiguous one to its first occurrence: both are where the local day starts.
    start = datetime.combine(day, dtime(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), dtime(0), tzinfo=zone).astimezone(UTC)
    return format_time(start), format_time(end)


class EdgeStore:
    """The terminal's SQLite store. Make one with :meth:`open`; thread-safe."""

    def __init__(
        self,
        pool: ConnectionPool,
        config: StoreConfig,
        *,
        device_id: str,
        zone: tzinfo,
        now: Callable[[], datetime],
        monotonic: Callable[[], float],
        boot_id: str,
        clock_synced: Callable[[], bool],
        schema_version: int,
        lock: StoreLock | None = None,
    ) -> None:
        # Private: use EdgeStore.open().
        self._pool = pool
        self._lock = lock
        self._config = config
        self._device_id = device_id
        self._zone = zone
        self._now = now
        self._monotonic = monotonic
        self._boot_id = boot_id
        self._clock_synced = clock_synced
        self._schema_version = schema_version
        self._health_lock = threading.Lock()
        self._write_errors = 0
        self._consecutive_errors = 0
        self._last_error: str | None = None
        self._failing_since: float | None = None

    # -- life cycle ---------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        config: StoreConfig | None = None,
        *,
        device_id: str,
        timezone: str | tzinfo = "UTC",
        now: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = _time.monotonic,
        boot_id: str | None = None,
        clock_synced: Callable[[], bool] | None = None,
        read_only: bool = False,
        exclusive: bool = False,
    ) -> EdgeStore:
        """Open (creating or upgrading) the store at ``path``; ``":memory:"`` for tests.

        Raises :class:`~edge.store.errors.SchemaTooNewError` for a file of a newer
        hadir, :class:`~edge.store.errors.NotAStoreError` for a foreign file,
        :class:`~edge.store.errors.StoreReadOnlyError` for a file this process cannot
        write (unless ``read_only``), and the I/O errors of :mod:`edge.store.errors`
        when it cannot be opened. ``exclusive`` (the daemon) holds the lock of
        :mod:`edge.store.lock` until :meth:`close`; a second exclusive open of the same
        file raises :class:`~edge.store.errors.StoreLockedError`.
        """
        config = config if config is not None else StoreConfig()
        try:
            device_id = _device_id_adapter.validate_python(device_id)
        except ValidationError as exc:
            raise ConfigError(f"invalid device id {device_id!r}") from exc
        zone = _zone(timezone)
        boot = boot_id if boot_id is not None else read_boot_id()
        if not boot or len(boot) > 64:
            raise ConfigError(f"boot id must be 1-64 characters, got {boot!r}")
        file_path = None if os.fspath(path) == MEMORY else Path(path)
        if file_path is None and read_only:
            raise ConfigError("an in-memory store cannot be read-only")
        if exclusive and (file_path is None or read_only):
            raise ConfigError("only a read-write store file can be opened exclusive")
        created = emptied = False
        if file_path is not None and not read_only:
            try:
                file_path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise translate_os_error(exc, path=file_path, action="open the store") from exc
            created = not file_path.exists()
            emptied = emptied_file(file_path)
        # Before the file is touched: a second daemon must not even run migrations.
        lock = StoreLock.acquire(file_path) if exclusive and file_path is not None else None
        try:
            pool = ConnectionPool(
                file_path,
                read_only=read_only,
                synchronous=config.synchronous,
                busy_timeout_s=config.busy_timeout_s,
            )
        except sqlite3.Error as exc:
            if lock is not None:
                lock.release()
            raise translate(exc, path=file_path, action="open the store") from exc
        try:
            with pool.connection() as db:
                version = cls._prepare(db, file_path, read_only=read_only, now=now)
        except sqlite3.Error as exc:
            pool.close()
            if lock is not None:
                lock.release()
            raise translate(exc, path=file_path, action="open the store") from exc
        except BaseException:
            pool.close()
            if lock is not None:
                lock.release()
            raise
        if created and file_path is not None:
            fsync_directory(file_path.parent)
        if not read_only and emptied:
            # SQLite takes it for a new database; the loss must not pass silently.
            _log.error(
                "store_file_was_empty",
                path=str(file_path),
                detail="an existing store file had 0 bytes (truncated, or a failed copy or "
                "restore): the events it held are lost; a new store was made in it",
            )
        return cls(
            pool,
            config,
            device_id=device_id,
            zone=zone,
            now=now,
            monotonic=monotonic,
            boot_id=boot,
            clock_synced=clock_synced if clock_synced is not None else ClockSyncStatus(),
            schema_version=version,
            lock=lock,
        )

    @staticmethod
    def _prepare(
        db: Database, path: Path | None, *, read_only: bool, now: Callable[[], datetime]
    ) -> int:
        before = migrations.check_compatible(db, path)
        if path is not None and not read_only:
            db.enable_wal()
        applied = migrations.migrate(db, path=path, now=now(), read_only=read_only)
        if path is not None and not read_only:
            _check_writable(db)
        after = migrations.schema_version(db)
        if applied:
            _log.info(
                "store_migrated",
                path=str(path) if path is not None else MEMORY,
                from_version=before,
                to_version=after,
                migrations=[f"{m.version}:{m.name}" for m in applied],
            )
        return after

    def close(self) -> None:
        """Close every connection (waiting for a write in flight). Idempotent."""
        if self._pool.closed:
            return
        if not self._pool.read_only:
            # Keeps the query planner's statistics fresh; cheap when nothing changed.
            with contextlib.suppress(StoreError, sqlite3.Error), self._pool.connection() as db:
                db.execute("PRAGMA optimize")
        self._pool.close()
        if self._lock is not None:
            self._lock.release()

    @property
    def closed(self) -> bool:
        return self._pool.closed

    @property
    def path(self) -> Path | None:
        """The database file, ``None`` for an in-memory store."""
        return self._pool.path

    @property
    def device_id(self) -> str:
        return self._device_id

    @property
    def config(self) -> StoreConfig:
        return self._config

    @property
    def schema_version(self) -> int:
        return self._schema_version

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        flags = "".join(
            (" read-only" if self._pool.read_only else "", " closed" if self.closed else "")
        )
        where = str(self.path) if self.path is not None else MEMORY
        return (
            f"<EdgeStore {where!r} device={self._device_id!r} schema=v{self._schema_version} "
            f"kind={self._config.kind_mode} cooldown_s={self._config.cooldown_s:g}{flags}>"
        )

    # -- transactions --------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self, action: str) -> Iterator[Database]:
        """A write transaction; ``BEGIN IMMEDIATE`` takes the write lock before reading,
        so a read-then-write (cooldown check, version check) cannot be overtaken."""
        if self._pool.read_only:
            raise StoreReadOnlyError(f"{action}: {self.path}: the store was opened read-only")
        with self._pool.connection() as db:
            try:
                db.execute("BEGIN IMMEDIATE")
                before = db.conn.total_changes
                try:
                    yield db
                    wrote = db.conn.total_changes != before
                    db.execute("COMMIT")
                except BaseException:
                    if db.conn.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                error = translate(exc, path=self.path, action=action)
                self._write_failed(error)
                raise error from exc
        if wrote:
            # A commit that changed nothing proves nothing about the disk.
            self._write_succeeded()

    def _write_failed(self, error: StoreError) -> None:
        with self._health_lock:
            self._write_errors += 1
            self._consecutive_errors += 1
            self._last_error = f"{type(error).__name__}: {error}"[:_MAX_HEALTH_ERROR]
            if self._failing_since is None:
                self._failing_since = float(self._monotonic())
            first = self._consecutive_errors == 1
        if first:
            _log.error("store_write_failing", error=self._last_error, errors=self._write_errors)

    def _write_succeeded(self) -> None:
        with self._health_lock:
            if self._consecutive_errors == 0:
                return
            failed, since = self._consecutive_errors, self._failing_since
            self._consecutive_errors = 0
            self._failing_since = None
        down = None if since is None else round(float(self._monotonic()) - since, 1)
        _log.info("store_write_recovered", failed_writes=failed, failing_for_s=down)

    def health(self) -> StoreHealth:
        """Whether the last write succeeded, and the failures since :meth:`open`."""
        with self._health_lock:
            since = self._failing_since
            return StoreHealth(
                errors=self._write_errors,
                consecutive_errors=self._consecutive_errors,
                last_error=self._last_error,
                failing_for_s=None
                if since is None
                else max(0.0, float(self._monotonic()) - since),
            )

    def probe_write(self) -> None:
        """Commit one small row (with fsync): can the store save right now?

        Raises the write's :class:`StoreError`, and updates :meth:`health` either way.
        The daemon calls it only while writes are failing, to see a recovery (or confirm
        the failure) without waiting for the next face; a healthy store is never probed,
        so it costs an SD card nothing.
        """
        stamp = format_time(self._wall_now())
        with self._write("test a write") as db:
            db.execute(_SQL_UPSERT_CURSOR, (PROBE_CURSOR, stamp, stamp))

    @contextlib.contextmanager
    def _read(self, action: str) -> Iterator[Database]:
        """A read transaction: one consistent snapshot for several statements."""
        with self._pool.connection() as db:
            try:
                db.execute("BEGIN")
                try:
                    yield db
                finally:
                    if db.conn.in_transaction:
                        db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise translate(exc, path=self.path, action=action) from exc

    def _wall_now(self) -> datetime:
        return _aware_utc(self._now(), "now()")

    # -- attendance events ---------------------------------------------------------

    def record(
        self,
        person_id: str,
        *,
        distance: float,
        margin: float,
        liveness: LivenessEvidence | None = None,
    ) -> RecordResult:
        """Record that ``person_id`` was recognised now, unless it is a repeat.

        Returns after the event is durably committed (fsync with the default
        ``synchronous="full"``). A repeat within the cooldown writes nothing and
        returns the earlier event with :attr:`Outcome.ALREADY_RECORDED`.
        ``liveness`` is the presentation-attack check's evidence, stored with the
        event and sent with it (``None``: the check is off).
        """
        evidence = _checked_liveness(liveness, person_id)
        with self._write("record an event") as db:
            # Clocks are read under the write lock, so commit order is clock order.
            wall = self._wall_now()
            mono = float(self._monotonic())
            synced = bool(self._clock_synced())
            last = db.execute(_SQL_LAST_EVENT, (person_id, self._device_id)).fetchone()
            if last is not None:
                earlier = _event_from_row(last)
                elapsed = self._elapsed_since(earlier, wall=wall, mono=mono, synced=synced)
                if elapsed is not None and 0.0 <= elapsed < self._config.cooldown_s:
                    return RecordResult(Outcome.ALREADY_RECORDED, earlier, elapsed)
            try:
                event = AttendanceEvent(
                    id=uuid7(wall),
                    device_id=self._device_id,
                    person_id=person_id,
                    kind=self._kind(db, person_id, wall),
                    wall_time=wall,
                    clock_synced=synced,
                    monotonic=mono,
                    boot_id=self._boot_id,
                    distance=float(distance),
                    margin=float(margin),
                    liveness=evidence,
                )
            except (ValidationError, TypeError) as exc:
                raise EventError(f"cannot record an event for {person_id!r}: {exc}") from exc
            db.execute(_SQL_INSERT_EVENT, _event_params(event))
        return RecordResult(Outcome.RECORDED, event)

    def _elapsed_since(
        self, earlier: AttendanceEvent, *, wall: datetime, mono: float, synced: bool
    ) -> float | None:
        """Seconds since ``earlier``, or ``None`` when no clock can tell.

        Within one boot the monotonic clock decides, whatever the wall clock
        does. Across a reboot the monotonic clock restarts, so only two
        NTP-synchronised wall times are trusted; otherwise it is not a repeat:
        a second event is harmless (the server takes first in, last out),
        a lost one is not.
        """
        if earlier.boot_id == self._boot_id:
            return mono - earlier.monotonic
        if synced and earlier.clock_synced:
            return (wall - earlier.wall_time).total_seconds()
        return None

    def _kind(self, db: Database, person_id: str, wall: datetime) -> EventKind:
        mode = self._config.kind_mode
        if mode != "auto":
            return EventKind(mode)
        start, end = _local_day_bounds(wall.astimezone(self._zone).date(), self._zone)
        seen = db.execute(_SQL_DAY_HAS_EVENT, (person_id, start, end)).fetchone()
        return EventKind.OUT if seen is not None else EventKind.IN

    def last_event(self, person_id: str) -> AttendanceEvent | None:
        """The latest event of ``person_id`` on this terminal."""
        with self._read("read the last event") as db:
            row = db.execute(_SQL_LAST_EVENT, (person_id, self._device_id)).fetchone()
        return _event_from_row(row) if row is not None else None

    def events(
        self, *, person_id: str | None = None, day: date | None = None, limit: int = 1000
    ) -> list[AttendanceEvent]:
        """Events in recording order, optionally of one person and/or one local day."""
        clauses: list[str] = []
        params: list[Any] = []
        if person_id is not None:
            clauses.append("person_id = ?")
            params.append(person_id)
        if day is not None:
            clauses.extend(("wall_time >= ?", "wall_time < ?"))
            params.extend(_local_day_bounds(day, self._zone))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._read("read events") as db:
            rows = db.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events {where} ORDER BY seq LIMIT ?",
                (*params, _positive(limit, "limit")),
            ).fetchall()
        return [_event_from_row(row) for row in rows]

    # -- outbox ---------------------------------------------------------------------

    def pending(self, limit: int = 500) -> list[AttendanceEvent]:
        """Up to ``limit`` events not yet accepted by the server, oldest first."""
        with self._read("read the outbox") as db:
            rows = db.execute(_SQL_PENDING, (_positive(limit, "limit"),)).fetchall()
        return [_event_from_row(row) for row in rows]

    def mark_synced(self, ids: Iterable[uuid.UUID | str], at: datetime | None = None) -> int:
        """Take events out of the outbox, in one transaction; returns how many changed.

        Unknown ids and ids already synced are ignored: acknowledging twice is fine.
        """
        keys = sorted({_event_key(i) for i in ids})
        if not keys:
            return 0
        when = format_time(_aware_utc(at, "at") if at is not None else self._wall_now())
        with self._write("mark events synced") as db:
            cursor = db.execute(
                "UPDATE events SET sync_state = 'synced', synced_at = ? "
                "WHERE sync_state = 'pending' AND id IN (SELECT value FROM json_each(?))",
                (when, json.dumps(keys)),
            )
            return int(cursor.rowcount)

    def mark_rejected(
        self, event_id: uuid.UUID | str, reason: str, at: datetime | None = None
    ) -> bool:
        """The server refused the event: keep it, out of the outbox, with the reason."""
        key = _event_key(event_id)
        reason = (str(reason).strip() or "unspecified")[:_MAX_REASON]
        when = format_time(_aware_utc(at, "at") if at is not None else self._wall_now())
        with self._write("mark an event rejected") as db:
            cursor = db.execute(
                "UPDATE events SET sync_state = 'rejected', rejected_at = ?, reject_reason = ? "
                "WHERE id = ? AND sync_state = 'pending'",
                (when, reason, key),
            )
            return cursor.rowcount > 0

    def rejected(self, limit: int = 100) -> list[RejectedEvent]:
        """Events the server refused, oldest first."""
        with self._read("read rejected events") as db:
            rows = db.execute(
                f"SELECT {_EVENT_COLUMNS}, reject_reason, rejected_at FROM events "
                "WHERE sync_state = 'rejected' ORDER BY seq LIMIT ?",
                (_positive(limit, "limit"),),
            ).fetchall()
        return [
            RejectedEvent(
                _event_from_row(r), r[_EVENT_WIDTH], parse_time(r[_EVENT_WIDTH + 1])
            )
            for r in rows
        ]

    def requeue_rejected(self, ids: Iterable[uuid.UUID | str]) -> int:
        """Put rejected events back in the outbox (after an operator fixed the cause)."""
        keys = sorted({_event_key(i) for i in ids})
        if not keys:
            return 0
        with self._write("requeue rejected events") as db:
            cursor = db.execute(
                "UPDATE events SET sync_state = 'pending', rejected_at = NULL, "
                "reject_reason = NULL WHERE sync_state = 'rejected' "
                "AND id IN (SELECT value FROM json_each(?))",
                (json.dumps(keys),),
            )
            return int(cursor.rowcount)

    def backlog(self) -> Backlog:
        """How many events wait for the server, and how old the oldest is."""
        with self._read("read the backlog") as db:
            count = int(
                db.execute("SELECT count(*) FROM events WHERE sync_state = 'pending'").fetchone()[0]
            )
            oldest = db.execute(
                "SELECT wall_time, monotonic, boot_id FROM events "
                "WHERE sync_state = 'pending' ORDER BY seq LIMIT 1"
            ).fetchone()
        if oldest is None:
            return Backlog(count, None)
        return Backlog(count, self._age_s(oldest[0], oldest[1], oldest[2]))

    def _age_s(self, wall_text: str, mono: float, boot_id: str) -> float:
        # Same boot: the monotonic clock is immune to the wall clock being set.
        if boot_id == self._boot_id:
            return max(0.0, float(self._monotonic()) - mono)
        return max(0.0, (self._wall_now() - parse_time(wall_text)).total_seconds())

    def prune(self, now: datetime | None = None) -> int:
        """Delete synced events older than ``retention_days``; returns how many.

        Pending and rejected events are never pruned. Without ``now`` the wall
        clock is used only when it is synchronised: a clock set years ahead
        must not wipe today's events (the cooldown and kind rules read them).
        Deletes in chunks, so the recognition loop never waits long for the lock.
        """
        if now is None:
            if not self._clock_synced():
                return 0
            now = self._wall_now()
        cutoff = format_time(_aware_utc(now, "now") - timedelta(days=self._config.retention_days))
        total = 0
        while True:
            with self._write("prune synced events") as db:
                deleted = int(
                    db.execute(
                        "DELETE FROM events WHERE seq IN (SELECT seq FROM events "
                        "WHERE sync_state = 'synced' AND synced_at < ? AND wall_time < ? "
                        "ORDER BY synced_at LIMIT ?)",
                        (cutoff, cutoff, _PRUNE_CHUNK),
                    ).rowcount
                )
            total += deleted
            if deleted < _PRUNE_CHUNK:
                return total

    # -- enrolment mirror ------------------------------------------------------------

    def enrolment_version(self) -> int:
        """The server's enrolment version the mirror reflects (0: nothing yet)."""
        with self._read("read the enrolment version") as db:
            return int(db.execute("SELECT version FROM mirror WHERE id = 1").fetchone()[0])

    def apply_enrolment(self, page: EnrolmentPage | Mapping[str, Any]) -> EnrolmentApplied:
        """Apply one page of enrolment changes and its version, all or nothing.

        Everything is validated before anything is written: the page must start
        at the mirror's version (unless it is a ``reset`` page, which replaces
        the whole mirror), versions must increase, templates must be 128 finite
        float32. Any problem raises :class:`EnrolmentPageError` and leaves the
        mirror as it was.
        """
        checked = _checked_page(page)
        if not checked.reset and not checked.changes and checked.version == checked.since:
            # The usual answer to a pull (every 30 s): nothing new. No transaction, so
            # no commit and no fsync: 2,880 of them a day wear an SD card, and a pull
            # with nothing to apply must not fail because the disk is full.
            current = self.enrolment_version()
            if checked.since != current:
                raise EnrolmentPageError(
                    f"page starts at version {checked.since} but the mirror is at {current}; "
                    "ask again from the mirror's version"
                )
            return EnrolmentApplied(checked.since, checked.version, 0, 0, False)
        with self._write("apply an enrolment page") as db:
            current = int(db.execute("SELECT version FROM mirror WHERE id = 1").fetchone()[0])
            if not checked.reset and checked.since != current:
                raise EnrolmentPageError(
                    f"page starts at version {checked.since} but the mirror is at {current}; "
                    "ask again from the mirror's version"
                )
            stamp = format_time(self._wall_now())
            if checked.reset:
                db.execute("DELETE FROM templates")
                db.execute("DELETE FROM people")
            upserted = deleted = 0
            # Plain statements, not sqlite-utils' Table.upsert/insert_all: those
            # introspect the schema on every call, which held the write lock
            # (and so a waiting record()) about ten times longer on a big page.
            for change, vectors in checked.changes:
                db.execute("DELETE FROM templates WHERE person_id = ?", (change.person_id,))
                if isinstance(change, PersonUpsert):
                    db.execute(
                        _SQL_UPSERT_PERSON, (change.person_id, change.name, change.version, stamp)
                    )
                    db.conn.executemany(
                        "INSERT INTO templates (person_id, position, vector) VALUES (?, ?, ?)",
                        [(change.person_id, i, blob) for i, blob in enumerate(vectors)],
                    )
                    upserted += 1
                else:
                    db.execute("DELETE FROM people WHERE person_id = ?", (change.person_id,))
                    deleted += 1
            db.execute(
                "UPDATE mirror SET version = ?, updated_at = ? WHERE id = 1",
                (checked.version, stamp),
            )
        return EnrolmentApplied(checked.since, checked.version, upserted, deleted, checked.reset)

    def people(self) -> dict[str, str]:
        """``{person_id: name}`` of everyone in the mirror."""
        with self._read("read people") as db:
            rows = db.execute("SELECT person_id, name FROM people ORDER BY person_id").fetchall()
        return {str(pid): str(name) for pid, name in rows}

    def load_gallery(self) -> Gallery:
        """The matcher's ``(N, 128)`` float32 matrix, built from the mirror."""
        with self._read("load the enrolment mirror") as db:
            # The WITHOUT ROWID table is stored in (person_id, position) order,
            # so a plain scan already groups each person's rows.
            rows = db.execute("SELECT person_id, vector FROM templates").fetchall()
        if not rows:
            return Gallery.empty()
        owners = [row[0] for row in rows]
        matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype="<f4")
        return Gallery.from_rows(owners, matrix.reshape(len(rows), DESCRIPTOR_DIM))

    # -- cursors ---------------------------------------------------------------------

    def get_cursor(self, key: str, default: str | None = None) -> str | None:
        """A sync job's saved position (e.g. a server timestamp), or ``default``."""
        with self._read("read a cursor") as db:
            row = db.execute("SELECT value FROM cursors WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row is not None else default

    def set_cursor(self, key: str, value: str) -> None:
        if not key or len(key) > _MAX_CURSOR_KEY:
            raise ValueError(f"cursor key must be 1-{_MAX_CURSOR_KEY} characters, got {key!r}")
        stamp = format_time(self._wall_now())
        with self._write("save a cursor") as db:
            db.table("cursors").upsert(
                {"key": key, "value": str(value), "updated_at": stamp}, pk="key"
            )

    def cursors(self) -> dict[str, str]:
        with self._read("read cursors") as db:
            return {str(k): str(v) for k, v in db.execute("SELECT key, value FROM cursors")}

    # -- health ----------------------------------------------------------------------

    def stats(self) -> StoreStats:
        with self._read("read store statistics") as db:
            states = dict(db.execute("SELECT sync_state, count(*) FROM events GROUP BY sync_state"))
            people = int(db.execute("SELECT count(*) FROM people").fetchone()[0])
            templates = int(db.execute("SELECT count(*) FROM templates").fetchone()[0])
            version = int(db.execute("SELECT version FROM mirror WHERE id = 1").fetchone()[0])
        sizes = [0, 0]
        if self.path is not None:
            for i, item in enumerate(companion_files(self.path)[:2]):
                with contextlib.suppress(OSError):
                    sizes[i] = item.stat().st_size
        backlog = self.backlog()
        return StoreStats(
            path=str(self.path) if self.path is not None else MEMORY,
            schema_version=self._schema_version,
            events=sum(int(n) for n in states.values()),
            pending=int(states.get("pending", 0)),
            synced=int(states.get("synced", 0)),
            rejected=int(states.get("rejected", 0)),
            oldest_pending_age_s=backlog.oldest_age_s,
            people=people,
            templates=templates,
            enrolment_version=version,
            db_bytes=sizes[0],
            wal_bytes=sizes[1],
        )

    def integrity_check(self) -> list[str]:
        """``PRAGMA integrity_check``: ``["ok"]`` for a sound file."""
        with self._read("check integrity") as db:
            return [str(row[0]) for row in db.execute("PRAGMA integrity_check")]

    def checkpoint(self, mode: Literal["passive", "truncate"] = "passive") -> None:
        """Copy the WAL into the database file (SQLite also does this on its own)."""
        if self.path is None:
            return
        with self._pool.connection() as db:
            try:
                db.execute(f"PRAGMA wal_checkpoint({mode.upper()})")
            except sqlite3.Error as exc:
                raise translate(exc, path=self.path, action="checkpoint") from exc


def emptied_file(path: Path) -> bool:
    """An existing database file of 0 bytes with no WAL: what a truncation leaves."""
    try:
        if path.stat().st_size > 0:
            return False
    except OSError:
        return False
    wal = Path(f"{path}-wal")
    return not wal.exists() or wal.stat().st_size == 0


def _check_writable(db: Database) -> None:
    """Raise the sqlite3 error of a write, without writing anything.

    SQLite opens a file this process may not write (permissions, another owner) read-only
    without a word, and even ``BEGIN IMMEDIATE`` succeeds then; the first statement that
    writes is what fails. Rolled back, this one leaves nothing on the disk.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("UPDATE mirror SET version = version WHERE id = 1")
    finally:
        db.execute("ROLLBACK")


def _positive(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


class _CheckedPage:
    __slots__ = ("changes", "reset", "since", "version")

    def __init__(
        self,
        since: int,
        version: int,
        reset: bool,
        changes: list[tuple[PersonUpsert | PersonDelete, list[bytes]]],
    ) -> None:
        self.since = since
        self.version = version
        self.reset = reset
        self.changes = changes


def _checked_page(page: EnrolmentPage | Mapping[str, Any]) -> _CheckedPage:
    """Validate a page completely, and decode its templates, before any write."""
    if isinstance(page, Mapping):
        try:
            page = EnrolmentPage.model_validate(page)
        except ValidationError as exc:
            raise EnrolmentPageError(f"malformed enrolment page: {exc}") from exc
    if not isinstance(page, EnrolmentPage):
        raise EnrolmentPageError(f"not an enrolment page: {type(page).__name__}")
    # A page made with model_construct() skipped pydantic: check it all again.
    since, version, reset = page.since, page.version, bool(page.reset)
    if not isinstance(since, int) or not isinstance(version, int) or since < 0:
        raise EnrolmentPageError(f"bad page versions: since={since!r} version={version!r}")
    if version < since:
        raise EnrolmentPageError(f"page version goes backwards: since={since} version={version}")
    checked: list[tuple[PersonUpsert | PersonDelete, list[bytes]]] = []
    previous = since
    for index, raw in enumerate(page.changes):
        change = _checked_change(index, raw)
        where = f"change {index} ({change.op} {change.person_id!r} v{change.version})"
        if change.version <= previous:
            raise EnrolmentPageError(f"{where}: versions must increase (previous {previous})")
        if change.version > version:
            raise EnrolmentPageError(f"{where}: beyond the page version {version}")
        previous = change.version
        blobs: list[bytes] = []
        if isinstance(change, PersonUpsert):
            if not isinstance(change.templates, list) or not (
                1 <= len(change.templates) <= MAX_TEMPLATES_PER_PERSON
            ):
                raise EnrolmentPageError(
                    f"{where}: templates must be a list of 1-{MAX_TEMPLATES_PER_PERSON}"
                )
            for number, text in enumerate(change.templates):
                try:
                    blobs.append(decode_template(text).astype("<f4").tobytes())
                except (ValueError, TypeError) as exc:
                    raise EnrolmentPageError(f"{where}: template {number}: {exc}") from exc
        checked.append((change, blobs))
    return _CheckedPage(since, version, reset, checked)


def _checked_change(index: int, raw: object) -> PersonUpsert | PersonDelete:
    if isinstance(raw, Mapping):
        try:
            return _change_adapter.validate_python(raw)
        except ValidationError as exc:
            raise EnrolmentPageError(f"change {index}: {exc}") from exc
    op = getattr(raw, "op", type(raw).__name__)
    if not (
        (isinstance(raw, PersonUpsert) and op == "upsert")
        or (isinstance(raw, PersonDelete) and op == "delete")
    ):
        raise EnrolmentPageError(f"change {index}: unknown operation {op!r}")
    assert isinstance(raw, PersonUpsert | PersonDelete)
    try:
        _person_id_adapter.validate_python(raw.person_id)
    except ValidationError as exc:
        raise EnrolmentPageError(f"change {index}: bad person id {raw.person_id!r}") from exc
    if not isinstance(raw.version, int) or isinstance(raw.version, bool) or raw.version < 1:
        raise EnrolmentPageError(f"change {index}: bad version {raw.version!r}")
    if isinstance(raw, PersonUpsert) and (
        not isinstance(raw.name, str) or not 1 <= len(raw.name) <= 200
    ):
        raise EnrolmentPageError(f"change {index}: bad name {raw.name!r}")
    return raw
