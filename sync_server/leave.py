"""Leave and permissions: the kinds of leave, a person's leave over whole days, and its import.

A leave covers a person's days from ``start_day`` to ``end_day``, both included, on the site's
calendar (``ServerConfig.site_timezone``); its kind is one of ``leave_kinds`` (seeded: sick,
annual, permission, duty, other), each with an English and an Indonesian label. A kind in use
is retired, never deleted: a retired kind is refused for new leave, and old leave keeps it.

Rules, the same for the API, the admin web, the CLI and the CSV import: the person must exist
(by id, or by HR employee id), the kind must exist and be active, the end is not before the
start, a leave is at most 366 days, and a person's leaves never overlap (the refusal names the
one in the way). Every change writes an audit row in its own transaction (entity ``leave`` or
``leave_kind``). The reports read the ``leaves`` table: a day on leave is neither absent nor
late (docs/leave.md, docs/reports.md).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from sync_server import audit
from sync_server.db import Database, leave_kinds, leaves, people
from sync_server.domain_errors import ConflictError, DomainError, NotFoundError, UnacceptableError
from sync_server.schemas.leave import (
    FIRST_DAY,
    LAST_DAY,
    MAX_NOTE,
    LeaveCreate,
    LeaveImportLine,
    LeaveImportReport,
    LeaveInfo,
    LeaveKindCreate,
    LeaveKindInfo,
    LeaveKindUpdate,
    LeaveUpdate,
)

MAX_LEAVE_DAYS = 366
MAX_IMPORT_LINES = 20_000  # a whole site's year of leave fits many times over
LIST_LIMIT = 1000

# The CSV import's columns, and the header words that name them (English and Indonesian, so a
# site can keep its spreadsheet's own header).
COLUMNS = ("person", "kind", "start", "end", "note")
REQUIRED_COLUMNS = ("person", "kind", "start", "end")
HEADER_WORDS = {
    "person": "person",
    "pegawai": "person",
    "kind": "kind",
    "jenis": "kind",
    "start": "start",
    "mulai": "start",
    "end": "end",
    "selesai": "end",
    "note": "note",
    "catatan": "note",
}
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection): the export
# writes such a note with a leading ', which the import takes off again (as the reports' CSV
# does; docs/reports.md).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _escape_note(note: str) -> str:
    return "'" + note if note.startswith((*FORMULA_START, "'")) else note


def _unescape_note(note: str) -> str:
    return note[1:] if note.startswith("'") and note[1:].startswith((*FORMULA_START, "'")) else note


# --- kinds ------------------------------------------------------------------------------------


def kind_label(kind_row: Any, locale: str | None) -> str:
    """The label of a kind in a page's language: Indonesian for ``id`` (``id-ID``, ``in``),
    English otherwise. ``kind_row`` is a leave_kinds row, a mapping, or a LeaveKindInfo."""
    if isinstance(kind_row, Mapping):
        label_en, label_id = kind_row["label_en"], kind_row["label_id"]
    else:
        label_en, label_id = kind_row.label_en, kind_row.label_id
    language = (locale or "").replace("_", "-").split("-")[0].lower()
    return str(label_id if language in {"id", "in"} else label_en)


def _words(kind: Mapping[Any, Any]) -> set[str]:
    """What a kind can be named by in a request or a file: its code and both labels."""
    return {str(kind[name]).casefold() for name in ("code", "label_en", "label_id")}


@dataclass(frozen=True, slots=True)
class Kinds:
    """Every leave kind, to name one by code or label (few rows: loaded whole)."""

    rows: tuple[RowMapping, ...]

    @classmethod
    def load(cls, conn: Connection) -> Kinds:
        query = sa.select(leave_kinds).order_by(leave_kinds.c.code)
        return cls(tuple(conn.execute(query).mappings()))

    def codes(self) -> list[str]:
        return [str(r["code"]) for r in self.rows if r["active"]]

    def find(self, value: str) -> RowMapping:
        """The kind named ``value`` (code first, then either label, any case)."""
        key = " ".join(value.split()).casefold()
        for row in self.rows:
            if str(row["code"]).casefold() == key:
                return row
        named = [
            r for r in self.rows if key in {r["label_en"].casefold(), r["label_id"].casefold()}
        ]
        if len(named) > 1:
            raise UnacceptableError(
                "ambiguous_leave_kind",
                f"{value!r} is a label of several kinds ({', '.join(r['code'] for r in named)}): "
                "give the code",
            )
        if not named:
            raise UnacceptableError(
                "unknown_leave_kind",
                f"no leave kind {value!r} (kinds: {', '.join(self.codes())}, or their labels)",
            )
        return named[0]

    def for_new_leave(self, value: str) -> RowMapping:
        """The kind named ``value``, refused when retired."""
        row = self.find(value)
        if not row["active"]:
            raise UnacceptableError(
                "retired_leave_kind",
                f"leave kind {row['code']} ({row['label_en']}) is retired: old leave keeps it, "
                "new leave cannot have it",
            )
        return row


def _kind_info(row: RowMapping, in_use: int) -> LeaveKindInfo:
    return LeaveKindInfo(
        code=row["code"],
        label_en=row["label_en"],
        label_id=row["label_id"],
        active=bool(row["active"]),
        in_use=in_use,
    )


def _uses(conn: Connection, code: str | None = None) -> dict[str, int]:
    query = sa.select(leaves.c.kind, sa.func.count()).group_by(leaves.c.kind)
    if code is not None:
        query = query.where(leaves.c.kind == code)
    return {str(kind): int(count) for kind, count in conn.execute(query)}


def list_kinds(conn: Connection) -> list[LeaveKindInfo]:
    uses = _uses(conn)
    return [_kind_info(row, uses.get(row["code"], 0)) for row in Kinds.load(conn).rows]


def _kind_row(conn: Connection, code: str) -> RowMapping:
    row = conn.execute(sa.select(leave_kinds).where(leave_kinds.c.code == code)).mappings().first()
    if row is None:
        raise NotFoundError("unknown_leave_kind", f"no leave kind {code!r}")
    return row


def _names_free(conn: Connection, code: str, label_en: str, label_id: str) -> None:
    """A kind's code and labels must not name another kind: the import and the API find a kind
    by any of them, so one word must mean one kind."""
    mine = {code.casefold(), label_en.casefold(), label_id.casefold()}
    for other in Kinds.load(conn).rows:
        if other["code"] == code:
            continue
        clash = mine & _words(other)
        if clash:
            raise ConflictError(
                "leave_kind_name_taken",
                f"{sorted(clash)[0]!r} already names leave kind {other['code']} "
                f"({other['label_en']} / {other['label_id']})",
            )


def _kind_values(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("code", "label_en", "label_id", "active")}


def create_kind(db: Database, body: LeaveKindCreate, *, actor: str, now: datetime) -> LeaveKindInfo:
    try:
        with db.write() as conn:
            exists = conn.execute(
                sa.select(leave_kinds.c.code).where(leave_kinds.c.code == body.code)
            ).first()
            if exists is not None:
                raise ConflictError("leave_kind_exists", f"leave kind {body.code} exists")
            _names_free(conn, body.code, body.label_en, body.label_id)
            values = {"code": body.code, "label_en": body.label_en, "label_id": body.label_id}
            conn.execute(sa.insert(leave_kinds).values(**values, active=True))
            row = _kind_row(conn, body.code)
            audit.record(
                conn,
                actor=actor,
                action="create",
                entity="leave_kind",
                entity_id=body.code,
                now=now,
                after=_kind_values(row),
            )
            return _kind_info(row, 0)
    except sa.exc.IntegrityError as exc:  # the same code added at the same moment
        raise ConflictError("leave_kind_exists", f"leave kind {body.code} exists") from exc


def update_kind(
    db: Database, code: str, body: LeaveKindUpdate, *, actor: str, now: datetime
) -> LeaveKindInfo:
    """Relabel, retire (active false) or offer again (active true); only the fields sent."""
    with db.write() as conn:
        before = _kind_row(conn, code)
        values: dict[str, Any] = {}
        if body.label_en is not None:
            values["label_en"] = body.label_en
        if body.label_id is not None:
            values["label_id"] = body.label_id
        if body.active is not None:
            values["active"] = body.active
        after = {**_kind_values(before), **values}
        if after != _kind_values(before):
            _names_free(conn, code, after["label_en"], after["label_id"])
            conn.execute(sa.update(leave_kinds).where(leave_kinds.c.code == code).values(values))
            audit.record(
                conn,
                actor=actor,
                action="update",
                entity="leave_kind",
                entity_id=code,
                now=now,
                before=_kind_values(before),
                after=after,
            )
        return _kind_info(_kind_row(conn, code), _uses(conn, code).get(code, 0))


def delete_kind(db: Database, code: str, *, actor: str, now: datetime) -> None:
    """Delete a kind no leave has; one in use is refused (retire it instead)."""
    with db.write() as conn:
        before = _kind_row(conn, code)
        used = _uses(conn, code).get(code, 0)
        if used:
            raise ConflictError(
                "leave_kind_in_use",
                f"leave kind {code} is on {used} leave{'s' if used != 1 else ''}: retire it "
                "instead (active false), old leave keeps it",
            )
        conn.execute(sa.delete(leave_kinds).where(leave_kinds.c.code == code))
        audit.record(
            conn,
            actor=actor,
            action="delete",
            entity="leave_kind",
            entity_id=code,
            now=now,
            before=_kind_values(before),
        )


# --- leave ------------------------------------------------------------------------------------


def _leave_query() -> sa.Select[Any]:
    return (
        sa.select(
            leaves,
            people.c.name.label("person_name"),
            leave_kinds.c.label_en,
            leave_kinds.c.label_id,
        )
        .select_from(
            leaves.outerjoin(people, people.c.id == leaves.c.person_id).join(
                leave_kinds, leave_kinds.c.code == leaves.c.kind
            )
        )
        .order_by(leaves.c.start_day, leaves.c.person_id, leaves.c.id)
    )


def leave_info(row: Mapping[Any, Any]) -> LeaveInfo:
    start, end = row["start_day"], row["end_day"]
    return LeaveInfo(
        id=row["id"],
        person_id=row["person_id"],
        person_name=row["person_name"],
        kind=row["kind"],
        kind_label_en=row["label_en"],
        kind_label_id=row["label_id"],
        start=start,
        end=end,
        days=(end - start).days + 1,
        note=row["note"],
        created_at=row["created_at"],
        created_by=row["created_by"],
    )


def _leave_values(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A leave as its audit rows keep it."""
    return {
        k: row[k]
        for k in (
            "id",
            "person_id",
            "kind",
            "start_day",
            "end_day",
            "note",
            "created_at",
            "created_by",
        )
    }


def _load(conn: Connection, leave_id: int) -> RowMapping:
    row = conn.execute(_leave_query().where(leaves.c.id == leave_id)).mappings().first()
    if row is None:
        raise NotFoundError("unknown_leave", f"no leave {leave_id}")
    return row


def get_leave(conn: Connection, leave_id: int) -> LeaveInfo:
    return leave_info(_load(conn, leave_id))


def _person_id(conn: Connection, value: str) -> str:
    """Whose leave a filter means: the person with this id; else the one with this HR
    employee id; else the id as given (the leave of a person deleted since stays listed).
    The id wins, as everywhere: another person whose employee id happens to be this id is
    not mixed in (a person's data export must hold theirs only)."""
    for column in (people.c.id, people.c.employee_id):
        found = conn.execute(sa.select(people.c.id).where(column == value)).scalar_one_or_none()
        if found is not None:
            return str(found)
    return value


def list_leave(
    conn: Connection,
    *,
    person: str | None = None,
    first: date | None = None,
    last: date | None = None,
    kind: str | None = None,
    limit: int = LIST_LIMIT,
) -> tuple[list[LeaveInfo], bool]:
    """Leave touching the days ``first``..``last`` (either open), of a person (id or employee
    id) and a kind (code or label); with whether more matched than ``limit``."""
    if first is not None and last is not None and last < first:
        raise UnacceptableError("bad_range", f"'to' {last} is before 'from' {first}")
    query = _leave_query().limit(limit + 1)
    if person is not None:
        query = query.where(leaves.c.person_id == _person_id(conn, person))
    if first is not None:
        query = query.where(leaves.c.end_day >= first)
    if last is not None:
        query = query.where(leaves.c.start_day <= last)
    if kind is not None:
        query = query.where(leaves.c.kind == Kinds.load(conn).find(kind)["code"])
    rows = [leave_info(r) for r in conn.execute(query).mappings()]
    return rows[:limit], len(rows) > limit


def leave_by_day(
    conn: Connection, first: date, last: date, person_ids: Iterable[str] | None = None
) -> dict[str, dict[date, str]]:
    """Per person, each of their days on leave within ``first``..``last`` with the kind's code:
    what the reports need to tell a day on leave from an absence (one query)."""
    query = sa.select(
        leaves.c.person_id, leaves.c.kind, leaves.c.start_day, leaves.c.end_day
    ).where(leaves.c.end_day >= first, leaves.c.start_day <= last)
    if person_ids is not None:
        query = query.where(leaves.c.person_id.in_(list(person_ids)))
    found: dict[str, dict[date, str]] = {}
    for person_id, kind, start, end in conn.execute(query):
        days = found.setdefault(person_id, {})
        day = max(start, first)
        while day <= min(end, last):
            days[day] = kind
            day += timedelta(days=1)
    return found


def _resolve_person(conn: Connection, value: str) -> tuple[str, bool]:
    """The id of the person ``value`` names (their id first, else their HR employee id), and
    whether it was the employee id. Locks the person's row until the transaction ends
    (PostgreSQL), so two requests cannot both pass the overlap check for one person; SQLite's
    write transactions are serialised already."""
    for column, by_employee_id in ((people.c.id, False), (people.c.employee_id, True)):
        found = conn.execute(
            sa.select(people.c.id).where(column == value).with_for_update()
        ).scalar_one_or_none()
        if found is not None:
            return str(found), by_employee_id
    raise NotFoundError("unknown_person", f"no person with id or employee id {value!r}")


def _check_days(start: date, end: date) -> None:
    if end < start:
        raise UnacceptableError("end_before_start", f"the end {end} is before the start {start}")
    days = (end - start).days + 1
    if days > MAX_LEAVE_DAYS:
        raise UnacceptableError(
            "leave_too_long",
            f"{days} days from {start} to {end}: a leave is at most {MAX_LEAVE_DAYS} days "
            "(enter a longer absence as several)",
        )


def _overlap_error(person_id: str, which: str, kind: str, start: date, end: date) -> ConflictError:
    return ConflictError(
        "leave_overlap", f"overlaps {which}, {person_id}'s {kind} from {start} to {end}"
    )


def _check_overlap(
    conn: Connection, person_id: str, start: date, end: date, *, other_than: int | None = None
) -> None:
    query = (
        sa.select(leaves.c.id, leaves.c.kind, leaves.c.start_day, leaves.c.end_day)
        .where(
            leaves.c.person_id == person_id, leaves.c.start_day <= end, leaves.c.end_day >= start
        )
        .order_by(leaves.c.start_day)
        .limit(1)
    )
    if other_than is not None:
        query = query.where(leaves.c.id != other_than)
    row = conn.execute(query).first()
    if row is not None:
        raise _overlap_error(person_id, f"leave {row.id}", row.kind, row.start_day, row.end_day)


def _insert(
    conn: Connection,
    *,
    person_id: str,
    kind: str,
    start: date,
    end: date,
    note: str | None,
    actor: str,
    now: datetime,
    action: str,
) -> RowMapping:
    leave_id = conn.execute(
        sa.insert(leaves)
        .values(
            person_id=person_id,
            kind=kind,
            start_day=start,
            end_day=end,
            note=note,
            created_at=now,
            created_by=actor,
        )
        .returning(leaves.c.id)
    ).scalar_one()
    row = _load(conn, int(leave_id))
    audit.record(
        conn,
        actor=actor,
        action=action,
        entity="leave",
        entity_id=str(leave_id),
        now=now,
        after=_leave_values(row),
    )
    return row


def create_leave(db: Database, body: LeaveCreate, *, actor: str, now: datetime) -> LeaveInfo:
    end = body.end or body.start
    with db.write() as conn:
        person_id, _ = _resolve_person(conn, body.person)
        kind = Kinds.load(conn).for_new_leave(body.kind)
        _check_days(body.start, end)
        _check_overlap(conn, person_id, body.start, end)
        row = _insert(
            conn,
            person_id=person_id,
            kind=kind["code"],
            start=body.start,
            end=end,
            note=body.note,
            actor=actor,
            now=now,
            action="create",
        )
        return leave_info(row)


def update_leave(
    db: Database, leave_id: int, body: LeaveUpdate, *, actor: str, now: datetime
) -> LeaveInfo:
    sent = body.model_fields_set
    with db.write() as conn:
        before = _load(conn, leave_id)
        _resolve_person_lock(conn, before["person_id"])
        values: dict[str, Any] = {}
        if "kind" in sent and body.kind is not None:
            found = Kinds.load(conn).find(body.kind)
            # A leave keeps a kind retired since; changing to a retired kind is refused.
            if found["code"] != before["kind"]:
                values["kind"] = Kinds.load(conn).for_new_leave(body.kind)["code"]
        if "start" in sent and body.start is not None:
            values["start_day"] = body.start
        if "end" in sent and body.end is not None:
            values["end_day"] = body.end
        if "note" in sent:
            values["note"] = body.note
        start = values.get("start_day", before["start_day"])
        end = values.get("end_day", before["end_day"])
        _check_days(start, end)
        _check_overlap(conn, before["person_id"], start, end, other_than=leave_id)
        changed = {k: v for k, v in values.items() if before[k] != v}
        if not changed:
            return leave_info(before)
        conn.execute(sa.update(leaves).where(leaves.c.id == leave_id).values(changed))
        after = _load(conn, leave_id)
        audit.record(
            conn,
            actor=actor,
            action="update",
            entity="leave",
            entity_id=str(leave_id),
            now=now,
            before=_leave_values(before),
            after=_leave_values(after),
        )
        return leave_info(after)


def _resolve_person_lock(conn: Connection, person_id: str) -> None:
    """Lock the person's row, if the person still exists, for the overlap check (see
    _resolve_person); leave of a person deleted since can still be changed or deleted."""
    conn.execute(sa.select(people.c.id).where(people.c.id == person_id).with_for_update())


def delete_leave(db: Database, leave_id: int, *, actor: str, now: datetime) -> LeaveInfo:
    with db.write() as conn:
        before = _load(conn, leave_id)
        conn.execute(sa.delete(leaves).where(leaves.c.id == leave_id))
        audit.record(
            conn,
            actor=actor,
            action="delete",
            entity="leave",
            entity_id=str(leave_id),
            now=now,
            before=_leave_values(before),
        )
        return leave_info(before)


# --- CSV import -------------------------------------------------------------------------------


class _LineRefusedError(Exception):
    """One line of an import refused: ``reason`` for machines, ``value`` the value at fault."""

    def __init__(self, reason: str, value: str | None, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.value = value
        self.detail = detail


class _DryRunRollbackError(Exception):
    """Raised inside the import's transaction to roll it back, carrying the report out."""

    def __init__(self, report: LeaveImportReport) -> None:
        super().__init__("dry run")
        self.report = report


def _text(data: bytes) -> str:
    try:
        # utf-8-sig drops the byte order mark a spreadsheet's "CSV UTF-8" puts first.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UnacceptableError(
            "not_utf8",
            f"the file is not UTF-8 text (line {line}, byte {exc.start + 1}): save it as CSV UTF-8",
        ) from exc


def _columns(header: Sequence[str]) -> dict[str, int]:
    """Column name -> index, from the header line; the whole file is refused without one."""
    found: dict[str, int] = {}
    for index, name in enumerate(header):
        word = name.strip().casefold()
        column = HEADER_WORDS.get(word)
        if column is None:
            if word or index < len(REQUIRED_COLUMNS):
                raise UnacceptableError(
                    "bad_header",
                    f"the first line must be the header person,kind,start,end[,note]; "
                    f"{name.strip()!r} is not a column name",
                )
            continue
        if column in found:
            raise UnacceptableError("bad_header", f"the header names {column!r} twice")
        found[column] = index
    missing = [c for c in REQUIRED_COLUMNS if c not in found]
    if missing:
        raise UnacceptableError(
            "bad_header",
            f"the header lacks {', '.join(missing)}: it must be person,kind,start,end[,note]",
        )
    return found


def _day(name: str, value: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise _LineRefusedError(
            "bad_date", value, f"{name} {value!r} is not a date (YYYY-MM-DD)"
        ) from exc
    if not FIRST_DAY <= day <= LAST_DAY:
        raise _LineRefusedError(
            "bad_date", value, f"{name} {value} is outside {FIRST_DAY.year}-{LAST_DAY.year}"
        )
    return day


@dataclass(frozen=True, slots=True)
class _People:
    """Every person's id and HR employee id, loaded once per import."""

    ids: frozenset[str]
    by_employee_id: Mapping[str, str]

    @classmethod
    def load(cls, conn: Connection) -> _People:
        rows = conn.execute(sa.select(people.c.id, people.c.employee_id)).all()
        return cls(
            frozenset(r.id for r in rows),
            {r.employee_id: r.id for r in rows if r.employee_id is not None},
        )

    def find(self, value: str) -> tuple[str, bool]:
        if value in self.ids:
            return value, False
        found = self.by_employee_id.get(value)
        if found is None:
            raise _LineRefusedError(
                "unknown_person", value, f"no person with id or employee id {value!r}"
            )
        return found, True


@dataclass(slots=True)
class _Held:
    """A leave a person already has, or one an earlier line of the file adds (``line``)."""

    start: date
    end: date
    kind: str
    leave_id: int | None = None
    line: int | None = None

    def which(self) -> str:
        # A leave of this file is named by its line: its id does not exist yet (and never
        # in a dry run, whose report must be the real one's).
        return (
            f"line {self.line} of this file" if self.line is not None else f"leave {self.leave_id}"
        )


@dataclass(frozen=True, slots=True)
class _Good:
    """A line that passed every check: what it adds."""

    number: int
    person_id: str
    kind: str
    start: date
    end: date
    note: str | None
    detail: str


def _held(conn: Connection, person_ids: Iterable[str]) -> dict[str, list[_Held]]:
    """The leave of these people, their rows locked first (as _resolve_person does, in id
    order so that two imports cannot deadlock), in a few queries however long the file."""
    ids = sorted(set(person_ids))
    found: dict[str, list[_Held]] = {}
    for index in range(0, len(ids), 1000):
        chunk = ids[index : index + 1000]
        conn.execute(
            sa.select(people.c.id)
            .where(people.c.id.in_(chunk))
            .order_by(people.c.id)
            .with_for_update()
        ).all()
        query = sa.select(
            leaves.c.id, leaves.c.person_id, leaves.c.kind, leaves.c.start_day, leaves.c.end_day
        ).where(leaves.c.person_id.in_(chunk))
        for row in conn.execute(query.order_by(leaves.c.start_day)):
            found.setdefault(row.person_id, []).append(
                _Held(row.start_day, row.end_day, row.kind, leave_id=row.id)
            )
    return found


def _check_line(fields: Mapping[str, str], *, who: _People, kinds: Kinds, number: int) -> _Good:
    """Every check of a line that needs no other line: raises _LineRefusedError."""
    for column in ("person", "kind", "start"):
        if not fields.get(column):
            raise _LineRefusedError("missing_value", None, f"no {column}")
    person_id, by_employee_id = who.find(fields["person"])
    try:
        kind = kinds.for_new_leave(fields["kind"])
    except DomainError as exc:
        raise _LineRefusedError(exc.reason, fields["kind"], exc.detail) from exc
    start = _day("start", fields["start"])
    end = _day("end", fields["end"]) if fields.get("end") else start
    note = _unescape_note(fields.get("note", "")) or None
    if note is not None and len(note) > MAX_NOTE:
        raise _LineRefusedError(
            "note_too_long", note[:40], f"the note is over {MAX_NOTE} characters"
        )
    try:
        _check_days(start, end)
    except DomainError as exc:
        value = fields.get("end", "") if exc.reason == "end_before_start" else f"{start}..{end}"
        raise _LineRefusedError(exc.reason, value, exc.detail) from exc
    named = []
    if by_employee_id:
        named.append(f"employee id {fields['person']} is {person_id}")
    if fields["kind"].casefold() != kind["code"]:
        named.append(f"{fields['kind']!r} is {kind['code']}")
    days = (end - start).days + 1
    detail = f"{person_id}: {kind['code']} from {start} to {end}, {days} day" + (
        "s" if days != 1 else ""
    )
    if named:
        detail += f" ({'; '.join(named)})"
    return _Good(number, person_id, str(kind["code"]), start, end, note, detail)


def _refused_line(number: int, refused: _LineRefusedError) -> LeaveImportLine:
    return LeaveImportLine(
        line=number,
        outcome="refused",
        reason=refused.reason,
        value=refused.value,
        detail=refused.detail,
        leave_id=None,
        person_id=None,
        kind=None,
        start=None,
        end=None,
    )


def _added_line(good: _Good, leave_id: int | None) -> LeaveImportLine:
    return LeaveImportLine(
        line=good.number,
        outcome="added",
        reason=None,
        value=None,
        detail=good.detail,
        leave_id=leave_id,
        person_id=good.person_id,
        kind=good.kind,
        start=good.start,
        end=good.end,
    )


def _write_added(
    conn: Connection, added: Sequence[_Good], *, actor: str, now: datetime
) -> list[int]:
    """Insert the good lines' leave in one statement (ids in the lines' order), then one
    audit row ``import`` each."""
    if not added:
        return []
    values = [
        {
            "person_id": g.person_id,
            "kind": g.kind,
            "start_day": g.start,
            "end_day": g.end,
            "note": g.note,
            "created_at": now,
            "created_by": actor,
        }
        for g in added
    ]
    ids = [
        int(i)
        for i in conn.execute(
            sa.insert(leaves).returning(leaves.c.id, sort_by_parameter_order=True), values
        ).scalars()
    ]
    for leave_id, row in zip(ids, values, strict=True):
        audit.record(
            conn,
            actor=actor,
            action="import",
            entity="leave",
            entity_id=str(leave_id),
            now=now,
            after={"id": leave_id, **row},
        )
    return ids


def _rows(text: str) -> tuple[dict[str, int], list[tuple[int, list[str]]]]:
    """The header's columns and every data row with its line number (the line it starts on)."""
    first_line = text.split("\n", 1)[0]
    # A spreadsheet set to Indonesian (or most of Europe) separates with ";".
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if header is None or not any(h.strip() for h in header):
        raise UnacceptableError(
            "bad_header",
            "the file is empty: the first line must be the header person,kind,start,end[,note]",
        )
    columns = _columns(header)
    rows: list[tuple[int, list[str]]] = []
    number = reader.line_num + 1
    try:
        for fields in reader:
            if any(f.strip() for f in fields):
                rows.append((number, fields))
                if len(rows) > MAX_IMPORT_LINES:
                    raise UnacceptableError(
                        "too_many_lines",
                        f"more than {MAX_IMPORT_LINES} lines of leave in one file: split it",
                    )
            number = reader.line_num + 1
    except csv.Error as exc:
        raise UnacceptableError("bad_csv", f"line {number}: not CSV ({exc})") from exc
    return columns, rows


def import_csv(
    db: Database, data: bytes, *, actor: str, now: datetime, dry_run: bool = False
) -> LeaveImportReport:
    """Add the leave of a CSV file (``person,kind,start,end[,note]``, header first).

    Each line is added or refused on its own: a refused line writes nothing, the good lines
    are written, all in one transaction (one audit row ``import`` per leave added). A dry run
    checks the same and writes nothing, so its report is the one a real import would give
    now. A file that cannot be read at all (not UTF-8, no header) is refused whole.

    The checks run in memory against the people, kinds and leave loaded once (the people's
    rows locked, as for one leave), and the good lines are inserted together: a line per
    statement made a 5,000-line file take most of a minute.
    """
    columns, rows = _rows(_text(data))
    width = max(columns.values()) + 1
    try:
        with db.write() as conn:
            who = _People.load(conn)
            kinds = Kinds.load(conn)
            checked: list[_Good | tuple[int, _LineRefusedError]] = []
            for number, raw in rows:
                fields = {c: raw[i].strip() if i < len(raw) else "" for c, i in columns.items()}
                try:
                    if len(raw) > width and any(f.strip() for f in raw[width:]):
                        raise _LineRefusedError(
                            "too_many_values",
                            raw[width].strip(),
                            f"{len(raw)} values, the header has {width} columns",
                        )
                    checked.append(_check_line(fields, who=who, kinds=kinds, number=number))
                except _LineRefusedError as refused:
                    checked.append((number, refused))
            held = _held(conn, (c.person_id for c in checked if isinstance(c, _Good)))
            added: list[_Good] = []
            outcome: list[_Good | tuple[int, _LineRefusedError]] = []
            for item in checked:
                if isinstance(item, _Good):
                    mine = held.setdefault(item.person_id, [])
                    clash = next(
                        (h for h in mine if h.start <= item.end and h.end >= item.start), None
                    )
                    if clash is not None:
                        error = _overlap_error(
                            item.person_id, clash.which(), clash.kind, clash.start, clash.end
                        )
                        value = f"{item.start}..{item.end}"
                        item = (item.number, _LineRefusedError(error.reason, value, error.detail))
                    else:
                        mine.append(_Held(item.start, item.end, item.kind, line=item.number))
                        added.append(item)
                outcome.append(item)
            ids = iter([] if dry_run else _write_added(conn, added, actor=actor, now=now))
            report = [
                _added_line(item, None if dry_run else next(ids))
                if isinstance(item, _Good)
                else _refused_line(*item)
                for item in outcome
            ]
            answer = LeaveImportReport(
                dry_run=dry_run, added=len(added), refused=len(report) - len(added), lines=report
            )
            if dry_run:
                raise _DryRunRollbackError(answer)
            return answer
    except _DryRunRollbackError as rolled_back:
        return rolled_back.report


def export_csv(conn: Connection, *, first: date | None = None, last: date | None = None) -> str:
    """The leave of a range as a CSV file the import reads back (person id, kind code, days,
    note), so leave moves between sites or through a spreadsheet."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    query = sa.select(leaves).order_by(leaves.c.start_day, leaves.c.person_id, leaves.c.id)
    if first is not None:
        query = query.where(leaves.c.end_day >= first)
    if last is not None:
        query = query.where(leaves.c.start_day <= last)
    for row in conn.execute(query).mappings():
        writer.writerow(
            [
                row["person_id"],
                row["kind"],
                row["start_day"].isoformat(),
                row["end_day"].isoformat(),
                _escape_note(row["note"] or ""),
            ]
        )
    return out.getvalue()
