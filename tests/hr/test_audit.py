"""The audit trail's one writer and reader (sync_server/audit.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_server import audit
from sync_server.db import Database, audit_log, migrate

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def test_a_row_says_who_when_what_and_the_row_before_and_after(db: Database) -> None:
    before = {"day": date(2026, 12, 25), "name": "Natal", "at": NOW, "event": UUID(int=7)}
    with db.write() as conn:
        row_id = audit.record(
            conn,
            actor="siti",
            action="update",
            entity="day_off",
            entity_id="2026-12-25",
            now=NOW,
            before=before,
            after={**before, "name": "Hari Natal"},
        )
    with db.read() as conn:
        [entry] = audit.entries(conn)
    assert entry.id == row_id
    assert (entry.actor, entry.action, entry.entity, entry.entity_id) == (
        "siti",
        "update",
        "day_off",
        "2026-12-25",
    )
    assert entry.at == NOW
    assert entry.before == {
        "day": "2026-12-25",
        "name": "Natal",
        "at": NOW.isoformat(),
        "event": str(UUID(int=7)),
    }
    assert entry.after is not None
    assert entry.after["name"] == "Hari Natal"


def test_template_bytes_are_never_written_only_that_they_changed(db: Database) -> None:
    with db.write() as conn:
        audit.record(
            conn,
            actor=audit.API_ACTOR,
            action="create",
            entity="template",
            entity_id="7",
            now=NOW,
            after={"person_id": "ani", "vector": b"\x00" * 1024},
        )
    with db.read() as conn:
        [entry] = audit.entries(conn)
        raw = conn.execute(sa.select(audit_log.c.after)).scalar_one()
    assert entry.after == {"person_id": "ani", "vector": "<1024 bytes>"}
    assert "\\u0000" not in raw


def test_a_change_that_rolls_back_leaves_no_audit_row(db: Database) -> None:
    def change() -> None:
        with db.write() as conn:
            audit.record(conn, actor="s", action="create", entity="leave", entity_id="1", now=NOW)
            raise RuntimeError("the change itself failed")

    with pytest.raises(RuntimeError):
        change()
    with db.read() as conn:
        assert audit.entries(conn) == []


def test_unknown_words_are_refused_before_anything_is_written(db: Database) -> None:
    with db.write() as conn:
        with pytest.raises(ValueError, match="entity 'holiday'"):
            audit.record(conn, actor="a", action="create", entity="holiday", entity_id="x", now=NOW)
        with pytest.raises(ValueError, match="action 'edit'"):
            audit.record(conn, actor="a", action="edit", entity="leave", entity_id="x", now=NOW)
    with db.read() as conn:
        assert audit.entries(conn) == []


def test_filters_and_pages_newest_first(db: Database) -> None:
    with db.write() as conn:
        for i in range(7):
            audit.record(
                conn,
                actor="siti" if i % 2 else "budi",
                action="create",
                entity="leave" if i < 4 else "correction",
                entity_id=str(i),
                now=NOW + timedelta(hours=i),
            )
    with db.read() as conn:
        assert [e.entity_id for e in audit.entries(conn)] == ["6", "5", "4", "3", "2", "1", "0"]
        assert [e.entity_id for e in audit.entries(conn, entity="leave")] == ["3", "2", "1", "0"]
        assert [e.entity_id for e in audit.entries(conn, actor="siti")] == ["5", "3", "1"]
        window = audit.entries(conn, since=NOW + timedelta(hours=2), until=NOW + timedelta(hours=4))
        assert [e.entity_id for e in window] == ["3", "2"]
        first = audit.entries(conn, limit=3)
        second = audit.entries(conn, limit=3, before_id=first[-1].id)
        assert [e.entity_id for e in first + second] == ["6", "5", "4", "3", "2", "1"]
        assert [e.entity_id for e in audit.entries(conn, entity="leave", entity_id="2")] == ["2"]


_json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
_values = st.dictionaries(st.text(min_size=1, max_size=10), _json_scalars, max_size=6)


@settings(max_examples=30, deadline=None)
@given(before=st.none() | _values, after=st.none() | _values)
def test_what_is_written_is_what_is_read(tmp_path_factory: Any, before: Any, after: Any) -> None:
    url = f"sqlite:///{tmp_path_factory.mktemp('audit')}/a.db"
    db = Database.from_url(url)
    migrate(db)
    try:
        with db.write() as conn:
            audit.record(
                conn,
                actor="x",
                action="update",
                entity="person",
                entity_id="p",
                now=NOW,
                before=before,
                after=after,
            )
        with db.read() as conn:
            [entry] = audit.entries(conn)
        assert (entry.before, entry.after) == (before, after)
    finally:
        db.dispose()
