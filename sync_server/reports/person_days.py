"""Each person's attendance folded per shift day (``person_days``), so the month summary and
the site chart read one row per person and day instead of sorting every event into days.

The rows are derived data, exact for one *basis* per person (``person_day_basis``): the site
zone and the shift-day anchor (where their shift day begins, :attr:`Shift.anchor_us`) they
were folded with. A report uses a person's rows only when that basis is the zone and the
anchor in force now; for anyone else it sorts their events as before. So a shift edit, a new
shift assignment, a group move or a new site zone never makes a report wrong, only slower
for the people it touched until :func:`catch_up` (the server's background job) folds them
again.

Who keeps the rows right:

- ingest (:func:`record`): every new event updates its day, in the same transaction;
- retention (:func:`prune`): days wholly before the cutoff go, days it cuts through are
  folded again from the events left;
- :func:`catch_up`: people with no basis or another one are folded from all their events.

Corrections, leave, the calendar and people's creation dates are not in the rows: the reports
apply them as before (docs/reports.md, "How the numbers are computed").

Concurrency (PostgreSQL; SQLite has one writer at a time): ingest takes a share lock on the
basis rows of the people it adds days to, catch-up and retention an update lock on those they
fold. Whoever comes second sees the first one's committed rows, so no event is folded twice
or missed. Catch-up only folds people whose basis row already exists (committed), so ingest
always finds a row to wait on.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from sync_server.db import Database, events, people, person_day_basis, person_days
from sync_server.reports.shifts import load_shifts, people_and_shift
from sync_server.reports.timebase import DAY_US, EPOCH, sql_int

# People folded per transaction by catch-up: each holds their basis rows locked, and on
# SQLite the whole database, so a few hundred at a time keeps ingest waiting milliseconds.
CATCH_UP_CHUNK = 200
# Parameters per IN list (SQLite caps bound parameters per statement).
_IN_CHUNK = 500


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


@dataclass(slots=True)
class DayFacts:
    """One person's shift day: what the reports need of its events."""

    first_in_us: int | None
    last_out_us: int | None
    last_in_us: int | None
    first_us: int  # the day's first and last event of either kind (retention's cut)
    last_us: int
    events: int

    @classmethod
    def of(cls, at_us: int, kind: str) -> DayFacts:
        is_in = kind == "in"
        return cls(
            at_us if is_in else None,
            None if is_in else at_us,
            at_us if is_in else None,
            at_us,
            at_us,
            1,
        )

    def add(self, at_us: int, kind: str) -> None:
        if kind == "in":
            if self.first_in_us is None or at_us < self.first_in_us:
                self.first_in_us = at_us
            if self.last_in_us is None or at_us > self.last_in_us:
                self.last_in_us = at_us
        elif self.last_out_us is None or at_us > self.last_out_us:
            self.last_out_us = at_us
        self.first_us = min(self.first_us, at_us)
        self.last_us = max(self.last_us, at_us)
        self.events += 1

    def values(self, person_id: str, day: int) -> tuple[Any, ...]:
        """The row in ``person_days``' column order."""
        return (
            person_id,
            day,
            self.first_in_us,
            self.last_out_us,
            self.last_in_us,
            self.first_us,
            self.last_us,
            self.events,
        )


@dataclass(frozen=True, slots=True)
class Basis:
    zone: str
    anchor_us: int


def with_basis(join: sa.Join, zone: ZoneInfo) -> sa.Join:
    """A report's ``join`` of people with each person's basis row on the report's zone, where
    there is one; :func:`folded_on` then says whether their rows count."""
    b = person_day_basis.c
    return join.outerjoin(
        person_day_basis,
        sa.and_(b.person_id == people.c.id, b.zone == sa.literal(zone.key, sa.String)),
    )


def folded_on(anchor_us: int) -> sa.ColumnElement[bool]:
    """The person's days are folded on this shift-day anchor (and the report's zone)."""
    return person_day_basis.c.anchor_us == sql_int(anchor_us)


def days_of(first: int, last: int) -> sa.ColumnElement[bool]:
    """The person's folded days ``first..last`` (for a subquery correlated to people)."""
    d = person_days.c
    return sa.and_(d.person_id == people.c.id, d.day >= sql_int(first), d.day <= sql_int(last))


def shift_day(at_us: int, zone: ZoneInfo, anchor_us: int) -> int:
    """The shift-day number of an instant: the reports' ``local_day`` in Python."""
    offset = (EPOCH + timedelta(microseconds=at_us)).astimezone(zone).utcoffset()
    assert offset is not None
    return (at_us + offset // timedelta(microseconds=1) - anchor_us) // DAY_US


def fold(
    rows: Iterable[tuple[str, int, str]], bases: Mapping[str, Basis]
) -> dict[tuple[str, int], DayFacts]:
    """(person, at_us, kind) rows folded per person and shift day, each on its basis; rows of
    people without one are left out."""
    folded: dict[tuple[str, int], DayFacts] = {}
    zones: dict[str, ZoneInfo] = {}
    for person_id, at_us, kind in rows:
        basis = bases.get(person_id)
        if basis is None:
            continue
        zone = zones.get(basis.zone)
        if zone is None:
            zone = zones[basis.zone] = ZoneInfo(basis.zone)
        key = (person_id, shift_day(at_us, zone, basis.anchor_us))
        found = folded.get(key)
        if found is None:
            folded[key] = DayFacts.of(at_us, kind)
        else:
            found.add(at_us, kind)
    return folded


def _locked_bases(
    conn: Connection, people_ids: Iterable[str], *, update: bool, skip_locked: bool = False
) -> dict[str, Basis | None]:
    """The basis rows of these people, locked (PostgreSQL: share or update lock, in person
    order so that two lockers never wait on each other in a circle); None: not folded yet."""
    wanted = sorted(set(people_ids))
    found: dict[str, Basis | None] = {}
    postgres = conn.dialect.name == "postgresql"
    b = person_day_basis.c
    # PostgreSQL: one array parameter, all rows in one statement (and in one order).
    parts = [wanted] if postgres else list(_chunks(wanted))
    for part in parts:
        query = sa.select(b.person_id, b.zone, b.anchor_us).order_by(b.person_id)
        if postgres:
            ids = sa.bindparam("ids", part, type_=postgresql.ARRAY(sa.String))
            query = query.where(b.person_id == sa.any_(ids)).with_for_update(
                read=not update, skip_locked=skip_locked
            )
        else:
            query = query.where(b.person_id.in_(part))
        for person_id, zone, anchor_us in conn.execute(query):
            found[person_id] = None if zone is None else Basis(zone, int(anchor_us))
    return found


def _upsert(conn: Connection, folded: Mapping[tuple[str, int], DayFacts]) -> None:
    """Add folded days to the stored ones (the same day from two batches merges)."""
    if not folded:
        return
    # Plain tuples in column order and the driver's own statement: this runs for every
    # ingested batch, and building a dict per row through SQLAlchemy cost a third of it.
    rows = [facts.values(*key) for key, facts in sorted(folded.items())]
    if conn.dialect.name == "postgresql":
        # One array per column: a short statement PostgreSQL parses once (ingest's events
        # insert does the same), instead of a VALUES list psycopg rewrites per batch.
        arrays = dict(zip(_COLUMNS, map(list, zip(*rows, strict=True)), strict=True))
        conn.execute(_upsert_sql(postgres=True), arrays)
    else:
        conn.exec_driver_sql(str(_upsert_sql(postgres=False)), rows)


_COLUMNS = [c.name for c in person_days.c]


@functools.cache
def _upsert_sql(*, postgres: bool) -> sa.TextClause:
    """INSERT ... ON CONFLICT DO UPDATE merging a day with the stored one: from one array per
    column on PostgreSQL, one row per execution (``?``) on SQLite."""
    if postgres:
        # LEAST and GREATEST skip nulls.
        low, high = "LEAST({0}, {1})", "GREATEST({0}, {1})"
        dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
        arrays = ", ".join(
            f"CAST(:{c.name} AS {c.type.compile(dialect=dialect)}[])" for c in person_days.c
        )
        source = f"SELECT * FROM unnest({arrays})"
    else:
        # SQLite's two-argument min and max are null when either is: coalesce takes the other.
        low, high = "coalesce(min({0}, {1}), {0}, {1})", "coalesce(max({0}, {1}), {0}, {1})"
        source = f"VALUES ({', '.join('?' for _ in _COLUMNS)})"
    merge = {"first_in_us": low, "last_out_us": high, "last_in_us": high, "first_us": low,
             "last_us": high, "events": "{0} + {1}"}  # fmt: skip
    assert set(merge) == set(_COLUMNS) - {"person_id", "day"}
    updates = ", ".join(
        f"{name} = " + how.format(f"person_days.{name}", f"excluded.{name}")
        for name, how in merge.items()
    )
    return sa.text(
        f"INSERT INTO person_days ({', '.join(_COLUMNS)}) {source} "
        f"ON CONFLICT (person_id, day) DO UPDATE SET {updates}"
    )


def record(conn: Connection, new_events: list[tuple[str, int, str]]) -> None:
    """Ingest: fold newly stored events (person, effective_us, kind) into their people's
    days, in the caller's write transaction. People not folded yet are left to catch-up."""
    if not new_events:
        return
    bases = _locked_bases(conn, (p for p, _, _ in new_events), update=False)
    current = {p: b for p, b in bases.items() if b is not None}
    _upsert(conn, fold(new_events, current))


def prune(conn: Connection, cutoff_us: int) -> int:
    """Retention, after the events before ``cutoff_us`` are deleted (same transaction): drop
    the days that had only such events and fold again the days the cutoff cuts through.
    Returns the days dropped."""
    d = person_days.c
    # The days that begin before the cutoff (the index on first_us), a day's worth of people
    # per hourly run. Their people's basis rows are locked before any of their rows is
    # touched, in the order ingest locks them, so the two never wait on each other in a circle.
    old = conn.execute(sa.select(d.person_id, d.day, d.last_us).where(d.first_us < cutoff_us)).all()
    if not old:
        return 0
    bases = _locked_bases(conn, (r.person_id for r in old), update=True)
    current = {p: b for p, b in bases.items() if b is not None}
    gone = [(r.person_id, r.day) for r in old if r.last_us < cutoff_us]
    cut = [r for r in old if r.last_us >= cutoff_us]
    _delete_days(conn, gone)
    if cut:
        until = max(r.last_us for r in cut) + 1
        refolded = fold(_events_of(conn, current, cutoff_us, until), current)
        keys = [(r.person_id, r.day) for r in cut]
        _delete_days(conn, keys)
        _upsert(conn, {key: refolded[key] for key in keys if key in refolded})
    return len(gone)


def _delete_days(conn: Connection, keys: list[tuple[str, int]]) -> None:
    d = person_days.c
    for part in _chunks(keys):
        conn.execute(sa.delete(person_days).where(sa.tuple_(d.person_id, d.day).in_(part)))


def _events_of(
    conn: Connection, people_ids: Iterable[str], lo_us: int | None = None, hi_us: int | None = None
) -> list[tuple[str, int, str]]:
    """Every stored event of these people (in ``[lo_us, hi_us)`` when given)."""
    wanted = sorted(set(people_ids))
    e = events.c
    found: list[tuple[str, int, str]] = []
    for part in _chunks(wanted):
        query = sa.select(e.person_id, e.effective_us, e.kind).where(e.person_id.in_(part))
        if lo_us is not None:
            query = query.where(e.effective_us >= sql_int(lo_us))
        if hi_us is not None:
            query = query.where(e.effective_us < sql_int(hi_us))
        found.extend((p, int(at), kind) for p, at, kind in conn.execute(query))
    return found


def current_bases(
    conn: Connection, zone: ZoneInfo, people_ids: list[str] | None = None
) -> dict[str, Basis]:
    """The basis in force now of every person (or of these): the site zone and their
    shift's anchor."""
    shifts = load_shifts(conn)
    join, effective = people_and_shift()
    query = sa.select(people.c.id, effective).select_from(join)
    parts = (
        [query]
        if people_ids is None
        else [query.where(people.c.id.in_(part)) for part in _chunks(people_ids)]
    )
    found = {}
    for part in parts:
        for person_id, shift_id in conn.execute(part):
            shift = shifts.get(shift_id)
            found[person_id] = Basis(zone.key, shift.anchor_us if shift else 0)
    return found


def stale_people(conn: Connection, zone: ZoneInfo) -> dict[str, Basis]:
    """People whose days are not folded on the basis in force now, with that basis."""
    stored = {
        person_id: None if z is None else Basis(z, int(anchor))
        for person_id, z, anchor in conn.execute(
            sa.select(
                person_day_basis.c.person_id, person_day_basis.c.zone, person_day_basis.c.anchor_us
            )
        )
    }
    return {p: b for p, b in current_bases(conn, zone).items() if stored.get(p) != b}


def catch_up(db: Database, zone: ZoneInfo, *, now: datetime, chunk: int = CATCH_UP_CHUNK) -> int:
    """Fold the days of every person whose basis is not the one in force; returns how many
    people were folded. Safe to run in several server processes at once."""
    folded_people = 0
    while True:
        with db.read() as conn:
            stale = stale_people(conn, zone)
        if not stale:
            return folded_people
        # Basis rows first, committed, so that ingest has a row to wait on while we fold.
        with db.write() as conn:
            conn.execute(
                db.insert(person_day_basis).on_conflict_do_nothing(),
                [{"person_id": p, "zone": None, "anchor_us": None} for p in sorted(stale)],
            )
        progress = 0
        for start in range(0, len(stale), chunk):
            with db.write() as conn:
                progress += _fold_people(conn, sorted(stale)[start : start + chunk], zone, now)
        folded_people += progress
        if not progress:  # all locked by another process folding them right now
            return folded_people


def _fold_people(conn: Connection, wanted: list[str], zone: ZoneInfo, now: datetime) -> int:
    locked = _locked_bases(conn, wanted, update=True, skip_locked=True)
    # Read again under the lock: another process may have folded them, or a shift changed.
    target = current_bases(conn, zone, sorted(locked))
    todo = {p: b for p, b in target.items() if locked[p] != b}
    if not todo:
        return 0
    people_ids = sorted(todo)
    d = person_days.c
    for part in _chunks(people_ids):
        conn.execute(sa.delete(person_days).where(d.person_id.in_(part)))
    _upsert(conn, fold(_events_of(conn, people_ids), todo))
    b = person_day_basis.c
    conn.execute(
        sa.update(person_day_basis)
        .where(b.person_id == sa.bindparam("p"))
        .values(zone=sa.bindparam("z"), anchor_us=sa.bindparam("a"), built_at=now),
        [{"p": p, "z": todo[p].zone, "a": todo[p].anchor_us} for p in people_ids],
    )
    return len(todo)
