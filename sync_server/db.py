"""Tables (SQLAlchemy Core), engine set-up and schema migrations.

SQLite is the default store: one file in WAL mode, ``synchronous=FULL`` (an
``accepted`` answer makes the terminal delete its copy, so the row must survive
a power cut), a busy timeout so several processes can share the file, and
foreign keys on. Write transactions start with ``BEGIN IMMEDIATE``: a deferred
transaction that reads first and writes later cannot wait for the lock and
fails with SQLITE_BUSY instead. PostgreSQL is the production store.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry

from edge import __version__
from edge.errors import ConfigError, HadirError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant works; it only has to be the same in every server process.
_MIGRATION_LOCK_KEY = 0x68616469  # "hadi"
ENROLMENT_COUNTER = "enrolment"
DEFAULT_GROUP = "default"


class DatabaseUnavailableError(HadirError, ConnectionError):
    """The database cannot be reached or refuses us; ``url`` has no password, ``cause`` one line."""

    def __init__(self, url: str, cause: str) -> None:
        super().__init__(f"cannot connect to the database {url}: {cause}")
        self.url = url
        self.cause = cause


class SchemaTooNewError(HadirError, RuntimeError):
    """The database was migrated by a newer hadir; this one does not know its revision."""


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (naive text) and PostgreSQL (timestamptz)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

counters = sa.Table(
    "counters",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

terminals = sa.Table(
    "terminals",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("group_name", sa.String(64), nullable=False),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    # A terminal whose enrolment version is below this holds another group's people.
    sa.Column("reset_below", sa.BigInteger, nullable=False),
)

heartbeats = sa.Table(
    "heartbeats",
    metadata,
    sa.Column(
        "device_id",
        sa.String(64),
        sa.ForeignKey("terminals.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("client_ip", sa.String(64), nullable=False),
    sa.Column("wall_time", UTCDateTime, nullable=False),
    sa.Column("monotonic", sa.Float, nullable=False),
    sa.Column("boot_id", sa.String(64), nullable=False),
    sa.Column("clock_synced", sa.Boolean, nullable=False),
    sa.Column("clock_offset_s", sa.Float, nullable=False),
    sa.Column("software_version", sa.String(64), nullable=False),
    sa.Column("enrolment_version", sa.BigInteger, nullable=False),
    sa.Column("backlog", sa.Integer, nullable=False),
    sa.Column("backlog_oldest_age_s", sa.Float, nullable=True),
    sa.Column("camera_state", sa.String(32), nullable=False),
    sa.Column("fps", sa.Float, nullable=False),
    sa.Column("recognition_latency_ms", sa.Float, nullable=True),
    # Migration 0004: can the terminal save? ok | error; null from terminals too old to say.
    sa.Column("store_state", sa.String(8), nullable=True),
    sa.Column("store_errors", sa.Integer, nullable=True),
    sa.Column("store_last_error", sa.String(200), nullable=True),
)

clock_refs = sa.Table(
    "clock_refs",
    metadata,
    sa.Column("device_id", sa.String(64), primary_key=True),
    sa.Column("boot_id", sa.String(64), primary_key=True),
    sa.Column("ref_wall", UTCDateTime, nullable=False),
    sa.Column("ref_monotonic", sa.Float, nullable=False),
    # True: ref_wall is a synchronised terminal clock reading; False: the server's receive time.
    sa.Column("synced", sa.Boolean, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

people = sa.Table(
    "people",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("group_name", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # Reports (migration 0002): filter by department; the id HR/payroll knows (null: the id).
    sa.Column("department", sa.String(100), nullable=True),
    sa.Column("employee_id", sa.String(140), nullable=True),
    sa.Index("ix_people_employee_id", "employee_id", unique=True),
)

templates = sa.Table(
    "templates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "person_id",
        sa.String(64),
        sa.ForeignKey("people.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("vector", sa.LargeBinary, nullable=False),
    sa.Column("photo_sha256", sa.String(64), nullable=True),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("person_id", "photo_sha256"),
)

# The enrolment feed, compacted as it is written: one row per (group, person) holding that
# person's latest change in that group. Every write takes a fresh version from the counter row.
changes = sa.Table(
    "changes",
    metadata,
    sa.Column("group_name", sa.String(64), primary_key=True),
    sa.Column("person_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False, unique=True),
    sa.Column("op", sa.String(8), nullable=False),
    sa.Column("changed_at", UTCDateTime, nullable=False),
    sa.Index("ix_changes_group_name_version", "group_name", "version"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("device_id", sa.String(64), nullable=False),
    sa.Column("person_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("wall_time", UTCDateTime, nullable=False),
    sa.Column("clock_synced", sa.Boolean, nullable=False),
    sa.Column("monotonic", sa.Float, nullable=False),
    sa.Column("boot_id", sa.String(64), nullable=False),
    sa.Column("distance", sa.Float, nullable=False),
    sa.Column("margin", sa.Float, nullable=False),
    sa.Column("corrected_time", UTCDateTime, nullable=False),
    sa.Column("time_source", sa.String(24), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("person_known", sa.Boolean, nullable=False),
    # corrected_time as integer microseconds since the Unix epoch, set at ingest (migration
    # 0002). Reports do day arithmetic on it in the same SQL on SQLite and PostgreSQL, and the
    # covering index below answers them without touching the table.
    sa.Column("effective_us", sa.BigInteger, nullable=False),
    # The person belonged to another group than the terminal's (migration 0005): flagged, since
    # a terminal only holds its own group's people (docs/protocol.md, "Events").
    sa.Column("other_group", sa.Boolean, nullable=False, server_default=sa.false()),
    # The terminal's liveness check (migration 0006); all null from terminals that do not run
    # it. A false liveness_passed is an event recorded in flag mode that an admin should look
    # at ("needs review") until reviewed_at is set; reasons are comma-joined.
    sa.Column("liveness_score", sa.Float, nullable=True),
    sa.Column("liveness_passed", sa.Boolean, nullable=True),
    sa.Column("liveness_reasons", sa.Text, nullable=True),
    sa.Column("reviewed_at", UTCDateTime, nullable=True),
    sa.Column("reviewed_by", sa.String(64), nullable=True),
    sa.Index("ix_events_person_id_corrected_time", "person_id", "corrected_time"),
    sa.Index("ix_events_corrected_time", "corrected_time"),
    sa.Index("ix_events_person_id_effective_us_kind", "person_id", "effective_us", "kind"),
    # Flagged events only (a few among millions): the review list and its count read this.
    sa.Index(
        "ix_events_flagged_corrected_time",
        "corrected_time",
        sqlite_where=sa.text("liveness_passed = 0"),
        postgresql_where=sa.text("liveness_passed = false"),
    ),
)

# Work shifts (migration 0002), in the site's wall-clock time (ServerConfig.site_timezone).
# end_time < start_time means the shift crosses midnight.
shifts = sa.Table(
    "shifts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("start_time", sa.Time, nullable=False),
    sa.Column("end_time", sa.Time, nullable=False),
    sa.Column("grace_minutes", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# A group's shift; a person's own row in person_shifts overrides it.
group_shifts = sa.Table(
    "group_shifts",
    metadata,
    sa.Column("group_name", sa.String(64), primary_key=True),
    sa.Column("shift_id", sa.Integer, sa.ForeignKey("shifts.id"), nullable=False, index=True),
)

person_shifts = sa.Table(
    "person_shifts",
    metadata,
    sa.Column(
        "person_id",
        sa.String(64),
        sa.ForeignKey("people.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("shift_id", sa.Integer, sa.ForeignKey("shifts.id"), nullable=False, index=True),
)

rejected_events = sa.Table(
    "rejected_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.Uuid, nullable=False),
    sa.Column("device_id", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("detail", sa.String(500), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    # A terminal resends a rejected event until it learns the answer; keep one copy.
    sa.UniqueConstraint("event_id", "device_id", "reason"),
)

auth_failures = sa.Table(
    "auth_failures",
    metadata,
    sa.Column("client", sa.String(64), primary_key=True),
    sa.Column("window_start", UTCDateTime, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
)

# The admin web (migration 0003): named admin accounts with scrypt password hashes, and their
# browser sessions. Sessions live in the database, not in process memory, so any server process
# behind a load balancer can answer any request of a logged-in admin.
admin_accounts = sa.Table(
    "admin_accounts",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("password_changed_at", UTCDateTime, nullable=False),
    # Consecutive failed logins; reset by a good one. At the limit the account is locked.
    sa.Column("failed_logins", sa.Integer, nullable=False),
    sa.Column("locked_until", UTCDateTime, nullable=True),
    sa.Column("last_login_at", UTCDateTime, nullable=True),
    # The account's language of the admin web (migration 0007), e.g. "id"; null: the browser's.
    sa.Column("locale", sa.String(16), nullable=True),
)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    # SHA-256 of the cookie value: a stolen database copy holds no usable session.
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column(
        "username",
        sa.String(64),
        sa.ForeignKey("admin_accounts.username", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
    sa.Column("client", sa.String(64), nullable=False),
)


# The month an HR officer signs (migration 0007): the working calendar, leave, corrections,
# consent and the audit trail. Days are the site's wall-clock dates (ServerConfig.site_timezone).

# Which weekdays are working days, per group; the row of group "*" is the site's default, and
# without it Monday to Friday. weekdays: seven characters, Monday first, "1" a working day.
work_weeks = sa.Table(
    "work_weeks",
    metadata,
    sa.Column("group_name", sa.String(64), primary_key=True),
    sa.Column("weekdays", sa.String(7), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("updated_by", sa.String(64), nullable=False),
)

# Public holidays and company days off of the site: never a working day, never an absence.
days_off = sa.Table(
    "days_off",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # holiday | day_off
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
)

# Kinds of leave, with their labels in each language of the admin web; seeded with sick,
# annual, permission, duty and other, and configurable by admins. A kind in use is retired
# (active false), never deleted.
leave_kinds = sa.Table(
    "leave_kinds",
    metadata,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("label_en", sa.String(64), nullable=False),
    sa.Column("label_id", sa.String(64), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
)

# A person's leave over whole days, both ends included. No foreign key to people, as for
# events: the rows are attendance history, kept or erased by the same rules.
leaves = sa.Table(
    "leaves",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("person_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), sa.ForeignKey("leave_kinds.code"), nullable=False),
    sa.Column("start_day", sa.Date, nullable=False),
    sa.Column("end_day", sa.Date, nullable=False),
    sa.Column("note", sa.String(500), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Index("ix_leaves_person_id_start_day", "person_id", "start_day"),
    sa.Index("ix_leaves_start_day_end_day", "start_day", "end_day"),
)

# An admin's correction of attendance: "add" a missing check-in or check-out (kind, at,
# effective_us as events'), or "void" a wrong event (event_id). Raw events are never edited;
# reports read events plus the corrections that are not revoked.
corrections = sa.Table(
    "corrections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("person_id", sa.String(64), nullable=False),
    sa.Column("action", sa.String(8), nullable=False),  # add | void
    sa.Column("kind", sa.String(8), nullable=True),  # add: in | out
    sa.Column("at", UTCDateTime, nullable=True),  # add
    sa.Column("effective_us", sa.BigInteger, nullable=True),  # add: at, as events.effective_us
    sa.Column("event_id", sa.Uuid, nullable=True),  # void
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.Column("revoked_by", sa.String(64), nullable=True),
    sa.Index("ix_corrections_person_id_effective_us", "person_id", "effective_us"),
    sa.Index("ix_corrections_event_id", "event_id"),
)

# Each person's events folded per shift day (migration 0008, sync_server/reports/person_days.py):
# what the month summary and the site chart read instead of sorting every event into days.
# Derived from events, exact for the basis stored in person_day_basis; no foreign key to
# people, as for events: kept and pruned by the same rules.
person_days = sa.Table(
    "person_days",
    metadata,
    sa.Column("person_id", sa.String(64), primary_key=True),
    sa.Column("day", sa.Integer, primary_key=True),  # shift-day number (days since 1970-01-01)
    sa.Column("first_in_us", sa.BigInteger, nullable=True),
    sa.Column("last_out_us", sa.BigInteger, nullable=True),
    sa.Column("last_in_us", sa.BigInteger, nullable=True),
    sa.Column("first_us", sa.BigInteger, nullable=False),
    sa.Column("last_us", sa.BigInteger, nullable=False),
    sa.Column("events", sa.Integer, nullable=False),
    # Retention drops days before its cutoff: the days that begin before it.
    sa.Index("ix_person_days_first_us", "first_us"),
)

# The site zone and shift-day anchor a person's person_days were folded with; zone null: the
# row exists (ingest can wait on its lock) but nothing is folded yet.
person_day_basis = sa.Table(
    "person_day_basis",
    metadata,
    sa.Column("person_id", sa.String(64), primary_key=True),
    sa.Column("zone", sa.String(64), nullable=True),
    sa.Column("anchor_us", sa.BigInteger, nullable=True),
    sa.Column("built_at", UTCDateTime, nullable=True),
)

# Consent to face templates (biometric data) given by a person, as collected by an admin.
# A person is enrolled only with consent on record that is not withdrawn.
consents = sa.Table(
    "consents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("person_id", sa.String(64), nullable=False, index=True),
    sa.Column("given_at", UTCDateTime, nullable=False),
    sa.Column("collected_by", sa.String(64), nullable=False),
    sa.Column("text_version", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),  # web | api | cli
    sa.Column("withdrawn_at", UTCDateTime, nullable=True),
    sa.Column("withdrawn_by", sa.String(64), nullable=True),
)

# Every change to attendance data, people, shifts, calendars, leave and consent: who, when,
# what, and the row before and after (JSON). Only ever inserted, and deleted by retention.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # create | update | delete | ...
    sa.Column("entity", sa.String(32), nullable=False),  # person | shift | leave | ...
    sa.Column("entity_id", sa.String(200), nullable=False),
    sa.Column("before", sa.Text, nullable=True),
    sa.Column("after", sa.Text, nullable=True),
    sa.Index("ix_audit_log_entity_entity_id", "entity", "entity_id"),
)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_us(value: datetime) -> int:
    """Exact integer microseconds since the Unix epoch (events.effective_us)."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def normalise_url(url: str) -> sa.URL:
    """Parse a database URL; plain ``postgresql://`` means psycopg 3, the driver we ship."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"database_url: not a database URL ({exc})") from exc
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ConfigError(
            f"database_url: {parsed.drivername} is not supported (sqlite, postgresql)"
        )
    if parsed.get_backend_name() == "sqlite" and parsed.database in {None, "", ":memory:"}:
        raise ConfigError("database_url: SQLite needs a file (sqlite:///PATH), not :memory:")
    return parsed


def display_url(url: str | sa.URL) -> str:
    """The URL to show in messages and logs: the password, if any, replaced by ``***``."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (as the process sees it, relative to its folder); else None."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    assert parsed.database is not None
    return Path(parsed.database).expanduser()


def _sqlite_on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # Take transaction control from pysqlite, which would BEGIN lazily and never IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout = 30000")
    _use_wal(cursor)
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _use_wal(cursor: Any, *, wait_s: float = 30.0) -> None:
    # WAL is a property of the file, so only the first connection ever switches it. That
    # switch needs the file to itself, and SQLite answers "database is locked" at once,
    # without the busy handler, while another connection (a second server process starting
    # beside this one) holds it: so wait here as the busy timeout would.
    deadline = time.monotonic() + wait_s
    while True:
        try:
            # An in-memory database answers "memory" and has no WAL to switch to.
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() in ("wal", "memory"):
                return
            # The pragma answers with the mode in force, which stays the old one if it lost.
            if cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() == "wal":
                return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        if time.monotonic() >= deadline:
            raise sqlite3.OperationalError("database is locked: could not switch it to WAL")
        time.sleep(0.02)


def _sqlite_on_begin(conn: Connection) -> None:
    write = conn.get_execution_options().get("hadir_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def create_db_engine(url: str, *, pool_size: int = 5) -> Engine:
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database is not None
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=20,
        )
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        sa.event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return sa.create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


class Database:
    """The engine plus the two kinds of transaction the server uses."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @classmethod
    def from_url(cls, url: str, *, pool_size: int = 5) -> Database:
        return cls(create_db_engine(url, pool_size=pool_size))

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(hadir_write=True) as conn, conn.begin():
            yield conn

    def insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT, which knows ON CONFLICT."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def dispose(self) -> None:
        self.engine.dispose()

    def check_connection(self) -> None:
        """Connect once; :class:`DatabaseUnavailableError` in one line if that fails.

        Commands call this first, so an unreachable database, a wrong password or a
        refused peer authentication is one sentence, not a driver traceback.
        """
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except sa.exc.DBAPIError as exc:
            cause = " ".join(str(exc.orig or exc).split())
            raise DatabaseUnavailableError(display_url(self.engine.url), cause) from exc


def next_version(conn: Connection) -> int:
    """Take the next enrolment version inside the caller's write transaction.

    The counter row stays locked until the transaction ends (row lock on PostgreSQL, the
    database lock on SQLite), so versions become visible in the order they were taken: a
    reader that sees version N can never later find a new change below N.
    """
    value = conn.execute(
        sa.update(counters)
        .where(counters.c.name == ENROLMENT_COUNTER)
        .values(value=counters.c.value + 1)
        .returning(counters.c.value)
    ).scalar_one()
    return int(value)


def current_version(conn: Connection) -> int:
    value = conn.execute(
        sa.select(counters.c.value).where(counters.c.name == ENROLMENT_COUNTER)
    ).scalar_one()
    return int(value)


# --- migrations ------------------------------------------------------------------------------

_script_lock = threading.Lock()
_script_head: str | None = None
_script_revisions: frozenset[str] | None = None


def alembic_config() -> AlembicConfig:
    """Alembic settings built in code: the scripts ship inside this package."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    global _script_head
    with _script_lock:
        if _script_head is None:
            head = ScriptDirectory.from_config(alembic_config()).get_current_head()
            assert head is not None
            _script_head = head
        return _script_head


def known_revisions() -> frozenset[str]:
    """Every revision this code's migration scripts know."""
    global _script_revisions
    with _script_lock:
        if _script_revisions is None:
            script = ScriptDirectory.from_config(alembic_config())
            _script_revisions = frozenset(r.revision for r in script.walk_revisions())
        return _script_revisions


def migrate(db: Database, revision: str = "head") -> None:
    """Upgrade the schema; concurrent callers (other server processes) take turns.

    Raises :class:`SchemaTooNewError` for a schema a newer hadir made (Alembic would
    end in a long traceback about a revision it cannot locate).
    """
    config = alembic_config()
    with db.write() as conn:
        if db.dialect == "postgresql":
            conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
            )
        _refuse_unknown_schema(conn)
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def _refuse_unknown_schema(conn: Connection) -> None:
    current = _revision(conn)
    if current is None or current in known_revisions():
        return
    raise SchemaTooNewError(
        f"database schema is at revision {current}, newer than this hadir ({__version__}, "
        f"schema {head_revision()}): upgrade hadir, or restore the backup taken before the "
        "upgrade (docs/operations.md, Backup and restore)"
    )


def _revision(conn: Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    value = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    return None if value is None else str(value)


def schema_revision(db: Database) -> str | None:
    """The schema's Alembic revision, or None for an empty database."""
    # A plain query: MigrationContext logs two INFO lines per call, once per readiness probe.
    with db.read() as conn:
        return _revision(conn)
