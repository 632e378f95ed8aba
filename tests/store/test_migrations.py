"""Schema versions: upgrade in place, refuse newer and foreign files."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest

from edge.protocol import EventKind, LivenessEvidence
from edge.store import (
    SCHEMA_VERSION,
    EdgeStore,
    NotAStoreError,
    SchemaTooNewError,
    StoreCorruptError,
    StoreError,
)
from edge.store.migrations import APPLICATION_ID, MIGRATIONS
from tests.store.conftest import OpenStore, template
from tests.support.clock import FakeClock

# The schema exactly as version 1 of the store created it: frozen here on
# purpose, so the test keeps checking the upgrade path even if the migration
# code is edited by mistake.
V1_SCHEMA = f"""
PRAGMA application_id = {APPLICATION_ID};
CREATE TABLE people (
    person_id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    updated_at TEXT NOT NULL
);
CREATE TABLE templates (
    person_id TEXT NOT NULL REFERENCES people (person_id) ON DELETE CASCADE,
    position INTEGER NOT NULL CHECK (position >= 0),
    vector BLOB NOT NULL CHECK (length(vector) = 512),
    PRIMARY KEY (person_id, position)
) WITHOUT ROWID;
CREATE TABLE mirror (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL CHECK (version >= 0),
    updated_at TEXT
);
INSERT INTO mirror (id, version) VALUES (1, 0);
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
    sync_state TEXT NOT NULL DEFAULT 'pending' CHECK (sync_state IN ('pending', 'synced')),
    synced_at TEXT,
    CHECK (sync_state <> 'synced' OR synced_at IS NOT NULL)
);
CREATE INDEX events_pending ON events (seq) WHERE sync_state = 'pending';
CREATE INDEX events_person_device ON events (person_id, device_id, seq);
CREATE INDEX events_person_time ON events (person_id, wall_time);
CREATE INDEX events_synced ON events (synced_at) WHERE sync_state = 'synced';
CREATE TABLE cursors (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL
);
INSERT INTO schema_migrations VALUES (1, 'initial', '2026-01-01T00:00:00+00:00');
PRAGMA user_version = 1;
"""

PENDING_ID = str(uuid.UUID("01900000-0000-7000-8000-000000000001"))
SYNCED_ID = str(uuid.UUID("01900000-0000-7000-8000-000000000002"))


def make_v1_file(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(V1_SCHEMA)
    insert = (
        "INSERT INTO events (id, person_id, device_id, kind, wall_time, clock_synced, monotonic, "
        "boot_id, distance, margin, sync_state, synced_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
    )
    conn.execute(
        insert,
        (
            SYNCED_ID,
            "alice",
            "gate-1",
            "in",
            "2026-11-20T07:00:00.000000Z",
            1,
            50.0,
            "old-boot",
            0.4,
            0.1,
            "synced",
            "2026-11-20T07:00:05.000000Z",
        ),
    )
    conn.execute(
        insert,
        (
            PENDING_ID,
            "bob",
            "gate-1",
            "out",
            "2026-11-20T16:00:00.000000Z",
            0,
            99.5,
            "old-boot",
            0.35,
            0.2,
            "pending",
            None,
        ),
    )
    conn.execute("INSERT INTO people VALUES ('alice', 'Alice', 5, '2026-11-20T00:00:00Z')")
    conn.execute(
        "INSERT INTO templates VALUES ('alice', 0, ?)", (template(1).astype("<f4").tobytes(),)
    )
    conn.execute("UPDATE mirror SET version = 5")
    conn.execute("INSERT INTO cursors VALUES ('push.last_ok', 'x', '2026-11-20T00:00:00Z')")
    conn.close()


REJECTED_ID = str(uuid.UUID("01900000-0000-7000-8000-000000000003"))


def make_v2_file(path: Path) -> None:
    """A store as version 2 left it: the frozen version-1 file, then migration 2 as released,
    then a rejected event (the state version 2 added)."""
    make_v1_file(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    for statement in MIGRATIONS[1].statements:
        conn.execute(statement)
    conn.execute("INSERT INTO schema_migrations VALUES (2, 'event_rejections', '2026-02-01')")
    conn.execute("PRAGMA user_version = 2")
    conn.execute("COMMIT")
    conn.execute(
        "INSERT INTO events (id, person_id, device_id, kind, wall_time, clock_synced, monotonic, "
        "boot_id, distance, margin, sync_state, rejected_at, reject_reason) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            REJECTED_ID,
            "carol",
            "gate-1",
            "in",
            "2026-11-21T07:00:00.000000Z",
            1,
            120.0,
            "old-boot",
            0.3,
            0.25,
            "rejected",
            "2026-11-21T07:00:09.000000Z",
            "unknown person",
        ),
    )
    conn.close()


def _schema(path: Path) -> dict[str, object]:
    """Columns, constraints-relevant info and indexes of every table, comparable across files."""
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    shape: dict[str, object] = {}
    for table in sorted(tables):
        columns = conn.execute(f"PRAGMA table_xinfo({table})").fetchall()
        indexes = sorted(
            (
                row[1],
                row[2],
                row[4],
                tuple(c[2] for c in conn.execute(f"PRAGMA index_info({row[1]})")),
            )
            for row in conn.execute(f"PRAGMA index_list({table})")
        )
        shape[table] = (columns, indexes)
    shape["partial"] = sorted(
        r[0] for r in conn.execute("SELECT sql FROM sqlite_master WHERE sql LIKE '%WHERE%'")
    )
    conn.close()
    return shape


def test_v1_file_is_upgraded_in_place(open_store: OpenStore, tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    make_v1_file(path)

    store = open_store(path)

    assert store.schema_version == SCHEMA_VERSION == 3
    (pending,) = store.pending()
    assert str(pending.id) == PENDING_ID
    assert (pending.person_id, pending.kind, pending.clock_synced) == ("bob", EventKind.OUT, False)
    assert (pending.monotonic, pending.boot_id, pending.distance) == (99.5, "old-boot", 0.35)
    assert store.stats().synced == 1
    assert store.enrolment_version() == 5
    assert store.people() == {"alice": "Alice"}
    np.testing.assert_array_equal(store.load_gallery().templates_of("alice"), [template(1)])
    assert store.get_cursor("push.last_ok") == "x"
    # What version 2 added works on the old rows.
    assert store.mark_rejected(PENDING_ID, "unknown person")
    assert store.rejected()[0].event.id == pending.id
    assert store.integrity_check() == ["ok"]
    store.close()

    conn = sqlite3.connect(path)
    history = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version")
    assert history.fetchall() == [(m.version, m.name) for m in MIGRATIONS]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_v2_file_gains_liveness_and_old_rows_read_as_none(
    open_store: OpenStore, tmp_path: Path
) -> None:
    path = tmp_path / "v2.sqlite3"
    make_v2_file(path)

    store = open_store(path)

    assert store.schema_version == 3
    (pending,) = store.pending()
    assert (str(pending.id), pending.liveness) == (PENDING_ID, None)
    # Old events go out without the field, as the terminal sent them before.
    assert "liveness" not in pending.model_dump(exclude_none=True)
    (rejected,) = store.rejected()
    assert (str(rejected.event.id), rejected.event.person_id) == (REJECTED_ID, "carol")
    assert (rejected.reason, rejected.event.liveness) == ("unknown person", None)
    assert [e.liveness for e in store.events()] == [None, None, None]
    # A new event in the upgraded file keeps its evidence.
    evidence = LivenessEvidence(score=0.125, passed=False, reasons=["frame_edges", "flat_motion"])
    made = store.record("dave", distance=0.3, margin=0.2, liveness=evidence).event
    assert made.liveness == evidence
    assert store.pending()[-1] == made
    assert store.integrity_check() == ["ok"]
    store.close()

    conn = sqlite3.connect(path)
    row = conn.execute(
        "SELECT liveness_score, liveness_passed, liveness_reasons FROM events WHERE id = ?",
        (str(made.id),),
    ).fetchone()
    assert row == (0.125, 0, "frame_edges,flat_motion")
    old = conn.execute(
        "SELECT liveness_score, liveness_passed, liveness_reasons FROM events WHERE id = ?",
        (PENDING_ID,),
    ).fetchone()
    assert old == (None, None, None)
    history = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version")
    assert history.fetchall() == [(1, "initial"), (2, "event_rejections"), (3, "event_liveness")]
    conn.close()


def test_liveness_columns_refuse_values_outside_their_range(
    open_store: OpenStore, tmp_path: Path
) -> None:
    path = tmp_path / "edge.sqlite3"
    event_id = str(open_store(path).record("alice", distance=0.3, margin=0.1).event.id)
    conn = sqlite3.connect(path)
    for column, value in (("liveness_score", 1.5), ("liveness_passed", 2)):
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn.execute(f"UPDATE events SET {column} = ? WHERE id = ?", (value, event_id))
    conn.close()


def test_upgraded_schema_equals_a_fresh_one(open_store: OpenStore, tmp_path: Path) -> None:
    old, fresh = tmp_path / "old.sqlite3", tmp_path / "fresh.sqlite3"
    make_v1_file(old)
    open_store(old).close()
    open_store(fresh).close()
    assert _schema(old) == _schema(fresh)


def test_opening_twice_applies_nothing_twice(open_store: OpenStore, tmp_path: Path) -> None:
    path = tmp_path / "edge.sqlite3"
    open_store(path).close()
    open_store(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS)
    conn.close()


def test_concurrent_first_opens_migrate_once(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "edge.sqlite3"
    make_v1_file(path)
    errors: list[BaseException] = []
    stores: list[EdgeStore] = []

    def opener() -> None:
        try:
            stores.append(EdgeStore.open(path, device_id="gate-1", now=clock.now))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS)
    conn.close()


def test_a_newer_file_is_refused_untouched(open_store: OpenStore, tmp_path: Path) -> None:
    path = tmp_path / "edge.sqlite3"
    open_store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    before = path.read_bytes()

    with pytest.raises(
        SchemaTooNewError, match=rf"version {SCHEMA_VERSION + 5} .*newer hadir"
    ) as info:
        open_store(path)
    assert isinstance(info.value, RuntimeError)
    assert path.read_bytes() == before


def test_a_failed_migration_leaves_the_previous_version(
    open_store: OpenStore, tmp_path: Path
) -> None:
    path = tmp_path / "old.sqlite3"
    make_v1_file(path)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE events_new (x)")  # makes migration 2 fail half-way
    conn.commit()
    conn.close()

    with pytest.raises(StoreError, match="events_new"):
        open_store(path)

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 2
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_a_foreign_database_is_refused(open_store: OpenStore, tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(NotAStoreError, match="another program"):
        open_store(path)

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1234")
    conn.commit()
    conn.close()
    with pytest.raises(NotAStoreError, match="application_id"):
        open_store(path)


def test_a_file_that_is_not_sqlite_is_refused(open_store: OpenStore, tmp_path: Path) -> None:
    path = tmp_path / "edge.sqlite3"
    path.write_bytes(b"this is a text file, not a database\n" * 200)
    with pytest.raises(StoreCorruptError):
        open_store(path)
