"""Everything the server holds about one person, for their right of access (UU 27/2022 art. 7,
GDPR art. 15): profile, consent history, templates (count and dates: never the vectors),
attendance events, corrections, leave, and the audit rows about them.

Two shapes of the same content (docs/privacy.md, "A person's data"): one JSON document, or a
zip of one CSV per section (each section has its own columns, which one CSV could only hold
by leaving most cells empty). The tables are read directly, every column, so nothing the
server keeps about the person is left out by a report's choice of columns.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Literal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_server.db import audit_log, consents, corrections, events, leaves, people, templates
from sync_server.domain_errors import PersonNotFoundError

Format = Literal["json", "csv"]
FORMAT_NAME = "hadir-person-export"
FORMAT_VERSION = 1
# The sections, in the order of the JSON document and of the files in the zip.
SECTIONS = ("profile", "consents", "templates", "events", "corrections", "leaves", "audit")
# Of a template only that it exists and when: the vector is biometric data, and even the
# photo's digest identifies a photo.
TEMPLATE_COLUMNS = ("id", "created_at")
AUDIT_COLUMNS = ("id", "at", "actor", "action", "entity", "entity_id", "before", "after")


@dataclass(frozen=True, slots=True)
class PersonData:
    person_id: str
    exported_at: datetime
    sections: dict[str, list[dict[str, Any]]]
    columns: dict[str, tuple[str, ...]]


def _value(value: Any) -> Any:
    """A JSON value: times and dates ISO 8601, ids as text."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def _rows(conn: Connection, query: sa.Select[Any]) -> list[dict[str, Any]]:
    return [{k: _value(v) for k, v in row.items()} for row in conn.execute(query).mappings()]


def _like_literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _audit_query(person_id: str) -> sa.Select[Any]:
    """Audit rows about the person: their person and consent rows (entity id = person id),
    and any row whose before or after names them (templates, leave, corrections)."""
    # audit.record writes sorted JSON with the default separators.
    named = f"%{_like_literal(json.dumps({'person_id': person_id}, ensure_ascii=False)[1:-1])}%"
    return (
        sa.select(audit_log)
        .where(
            sa.or_(
                sa.and_(
                    audit_log.c.entity.in_(("person", "consent")),
                    audit_log.c.entity_id == person_id,
                ),
                audit_log.c.before.like(named, escape="\\"),
                audit_log.c.after.like(named, escape="\\"),
            )
        )
        .order_by(audit_log.c.at, audit_log.c.id)
    )


def collect(conn: Connection, person_id: str, now: datetime) -> PersonData:
    """Read everything about ``person_id``. A person deleted since still has their attendance
    and audit rows: they are exported with an empty profile. Nothing at all: not found."""
    sections: dict[str, list[dict[str, Any]]] = {
        "profile": _rows(conn, sa.select(people).where(people.c.id == person_id)),
        "consents": _rows(
            conn,
            sa.select(consents)
            .where(consents.c.person_id == person_id)
            .order_by(consents.c.given_at, consents.c.id),
        ),
        "templates": _rows(
            conn,
            sa.select(*(templates.c[name] for name in TEMPLATE_COLUMNS))
            .where(templates.c.person_id == person_id)
            .order_by(templates.c.id),
        ),
        "events": _rows(
            conn,
            sa.select(events)
            .where(events.c.person_id == person_id)
            .order_by(events.c.effective_us, events.c.id),
        ),
        "corrections": _rows(
            conn,
            sa.select(corrections)
            .where(corrections.c.person_id == person_id)
            .order_by(corrections.c.created_at, corrections.c.id),
        ),
        "leaves": _rows(
            conn,
            sa.select(leaves)
            .where(leaves.c.person_id == person_id)
            .order_by(leaves.c.start_day, leaves.c.id),
        ),
    }
    audit_rows = _rows(conn, _audit_query(person_id))
    for row in audit_rows:
        for key in ("before", "after"):
            row[key] = None if row[key] is None else json.loads(row[key])
    sections["audit"] = audit_rows
    if not any(sections.values()):
        raise PersonNotFoundError(person_id)
    columns = {
        "profile": tuple(people.c.keys()),
        "consents": tuple(consents.c.keys()),
        "templates": TEMPLATE_COLUMNS,
        "events": tuple(events.c.keys()),
        "corrections": tuple(corrections.c.keys()),
        "leaves": tuple(leaves.c.keys()),
        "audit": AUDIT_COLUMNS,
    }
    return PersonData(person_id, now, sections, columns)


def to_json(data: PersonData) -> bytes:
    """One JSON document: the profile an object (null once deleted), every other section a
    list, the templates' count given outright."""
    document: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "person_id": data.person_id,
        "exported_at": data.exported_at.isoformat(),
        "profile": data.sections["profile"][0] if data.sections["profile"] else None,
        "template_count": len(data.sections["templates"]),
    }
    for name in SECTIONS[1:]:
        document[name] = data.sections[name]
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


def _csv(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name in columns])
    # utf-8-sig: spreadsheet programs then read the names' accents right.
    return out.getvalue().encode("utf-8-sig")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def to_zip(data: PersonData) -> bytes:
    """A zip of ``<section>.csv`` files, one per section, each with its header row even when
    empty (so an empty section says "nothing held", not "not exported")."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in SECTIONS:
            archive.writestr(f"{name}.csv", _csv(data.columns[name], data.sections[name]))
    return buffer.getvalue()


def filename(person_id: str, fmt: Format, now: datetime) -> str:
    suffix = "json" if fmt == "json" else "zip"
    return f"hadir-person-{person_id}-{now:%Y%m%d}.{suffix}"


def media_type(fmt: Format) -> str:
    return "application/json" if fmt == "json" else "application/zip"


def render(data: PersonData, fmt: Format) -> bytes:
    return to_json(data) if fmt == "json" else to_zip(data)
