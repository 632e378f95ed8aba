"""Schema of the edge store, as small named migrations.

``PRAGMA user_version`` holds the number of the last migration applied and
``PRAGMA application_id`` marks the file as hadir's. Each migration runs in its
own ``BEGIN IMMEDIATE`` transaction together with the version bump, so a crash
or a full disk leaves the file at the previous version, never in between; a
second process opening the same file at the same time waits, then finds the
work done. A migration, once released, never changes: write a new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlite_utils import Database

from edge.store.errors import (
    NotAStoreError,
    SchemaTooNewError,
    StoreCorruptError,
    StoreReadOnlyError,
)

APPLICATION_ID = 0x68616469  # "hadi"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


_EVENT_INDEXES = (
    # Outbox: the oldest pending first (recording order, not the wall clock).
    "CREATE INDEX events_pending ON events (seq) WHERE sync_state = 'pending'",
    # Cooldown: the last event of a person on a device.
    "CREATE INDEX events_person_device ON events (person_id, device_id, seq)",
    # Kind auto: a person's events of one local day (a UTC range).
    "CREATE INDEX events_person_time ON events (person_id, wall_time)",
    # Retention.
    "CREATE INDEX events_synced ON events (synced_at) WHERE sync_state = 'synced'",
)

_V1 = Migration(
    1,
    "initial",
    (
        f"PRAGMA application_id = {APPLICATION_ID}",
        """
        CREATE TABLE people (
            person_id TEXT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            version INTEGER NOT NULL CHECK (version >= 1),
            updated_at TEXT NOT NULL
        )
        """,
        # 512 bytes = 128 little-endian float32, the wire format's bytes.
        """
        CREATE TABLE templates (
            person_id TEXT NOT NULL REFERENCES people (person_id) ON DELETE CASCADE,
            position INTEGER NOT NULL CHECK (position >= 0),
            vector BLOB NOT NULL CHECK (length(vector) = 512),
            PRIMARY KEY (person_id, position)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE mirror (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            version INTEGER NOT NULL CHECK (version >= 0),
            updated_at TEXT
        )
        """,
        "INSERT INTO mirror (id, version) VALUES (1, 0)",
        # wall_time: UTC ISO 8601 with microseconds and Z, so text order is time order.
        """
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            person_id TEXT NOT NULL,
            device_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('in', 'out')),
            wall_time TEXT NOT NULL,
            clock_synced INTEGER NOT NULL CHECK (clock_synced IN (0, 1)),
            monotonic REAL NOT NULL,
            boot_id TEXT NOT NULL,
            distance REAL NOT NULL,
            margin REAL NOT NULL,
            sync_state TEXT NOT NULL DEFAULT 'pending'
                CHECK (sync_state IN ('pending', 'synced')),
            synced_at TEXT,
            CHECK (sync_state <> 'synced' OR synced_at IS NOT NULL)
        )
        """,
        *_EVENT_INDEXES,
        """
        CREATE TABLE cursors (
            key TEXT PRIMARY KEY NOT NULL,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TEXT NOT NULL
        )
        """,
    ),
)

# The server can answer "rejected, with a reason" for an event: such an event
# leaves the outbox but stays visible. A CHECK constraint cannot be altered in
# SQLite, so the table is rebuilt (the documented 12-step procedure, minus the
# steps for foreign keys and views, which events has none of).
_EVENT_COLUMNS = (
    "seq, id, person_id, device_id, kind, wall_time, clock_synced, monotonic, boot_id, "
    "distance, margin, sync_state, synced_at"
)
_V2 = Migration(
    2,
    "event_rejections",
    (
        """
        CREATE TABLE events_new (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            person_id TEXT NOT NULL,
            device_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('in', 'out')),
            wall_time TEXT NOT NULL,
            clock_synced INTEGER NOT NULL CHECK (clock_synced IN (0, 1)),
            monotonic REAL NOT NULL,
            boot_id TEXT NOT NULL,
            distance REAL NOT NULL,
            margin REAL NOT NULL,
            sync_state TEXT NOT NULL DEFAULT 'pending'
                CHECK (sync_state IN ('pending', 'synced', 'rejected')),
            synced_at TEXT,
            rejected_at TEXT,
            reject_reason TEXT,
            CHECK (sync_state <> 'synced' OR synced_at IS NOT NULL),
            CHECK ((sync_state = 'rejected')
                = (reject_reason IS NOT NULL AND rejected_at IS NOT NULL))
        )
        """,
        f"INSERT INTO events_new ({_EVENT_COLUMNS}) SELECT {_EVENT_COLUMNS} FROM events",
        "DROP TABLE events",
        "ALTER TABLE events_new RENAME TO events",
        *_EVENT_INDEXES,
        "CREATE INDEX events_rejected ON events (seq) WHERE sync_state = 'rejected'",
    ),
)

# The liveness check's evidence on an event (docs/liveness.md): all three NULL on events
# recorded before this version or with [recognition.liveness] mode off. Adding nullable
# columns needs no rebuild; column CHECKs are tested against the existing rows (all NULL).
_V3 = Migration(
    3,
    "event_liveness",
    (
        "ALTER TABLE events ADD COLUMN liveness_score REAL "
        "CHECK (liveness_score IS NULL OR (liveness_score >= 0 AND liveness_score <= 1))",
        "ALTER TABLE events ADD COLUMN liveness_passed INTEGER "
        "CHECK (liveness_passed IS NULL OR liveness_passed IN (0, 1))",
        # Comma-joined reason names (snake_case, so no name holds a comma); '' when none.
        "ALTER TABLE events ADD COLUMN liveness_reasons TEXT",
    ),
)

MIGRATIONS: tuple[Migration, ...] = (_V1, _V2, _V3)
SCHEMA_VERSION = MIGRATIONS[-1].version


def _pragma_int(db: Database, name: str) -> int:
    return int(db.execute(f"PRAGMA {name}").fetchone()[0])


def schema_version(db: Database) -> int:
    return _pragma_int(db, "user_version")


def check_compatible(db: Database, path: Path | None) -> int:
    """The file's schema version; refuses a file hadir did not write or cannot read."""
    where = str(path) if path is not None else ":memory:"
    application_id = _pragma_int(db, "application_id")
    version = schema_version(db)
    if application_id not in (0, APPLICATION_ID) or (application_id == 0 and version != 0):
        raise NotAStoreError(
            f"{where}: not a hadir edge database (application_id={application_id:#x}, "
            f"user_version={version})"
        )
    if application_id == 0 and db.table_names():
        raise NotAStoreError(f"{where}: an SQLite database of another program (it has tables)")
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"{where}: schema version {version} was written by a newer hadir; this one knows "
            f"versions up to {SCHEMA_VERSION}. Upgrade hadir, or move the file away to start "
            f"afresh (pending events in it would not be sent)."
        )
    return version


def pending_migrations(version: int) -> Sequence[Migration]:
    return [m for m in MIGRATIONS if m.version > version]


def migrate(
    db: Database, *, path: Path | None, now: datetime, read_only: bool = False
) -> list[Migration]:
    """Bring the file to :data:`SCHEMA_VERSION`; returns the migrations applied here."""
    version = check_compatible(db, path)
    todo = pending_migrations(version)
    if todo and read_only:
        raise StoreReadOnlyError(
            f"{path}: schema version {version} needs an upgrade to {SCHEMA_VERSION}, "
            "which a read-only store cannot do"
        )
    applied: list[Migration] = []
    if not todo:
        return applied
    # SQLite's procedure for rebuilding tables: with foreign keys enforced, a
    # DROP TABLE people would cascade into templates. The switch is ignored
    # inside a transaction, so it is flipped around the migrations, and every
    # migration must leave the references intact (foreign_key_check) to commit.
    db.execute("PRAGMA foreign_keys = OFF")
    try:
        for migration in todo:
            if _apply(db, migration, now):
                applied.append(migration)
    finally:
        db.execute("PRAGMA foreign_keys = ON")
    return applied


def _apply(db: Database, migration: Migration, now: datetime) -> bool:
    db.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated while this one waited for the lock.
        if schema_version(db) >= migration.version:
            db.execute("COMMIT")
            return False
        for statement in migration.statements:
            db.execute(statement)
        broken = db.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise StoreCorruptError(
                f"migration {migration.version} ({migration.name}) would break references: "
                f"{broken[:5]}"
            )
        db.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.name, now.isoformat()),
        )
        db.execute(f"PRAGMA user_version = {migration.version}")
        db.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise
    return True
