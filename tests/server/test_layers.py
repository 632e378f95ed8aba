"""The server's layers: operations below both the API and the admin web, refusing with domain
errors that know nothing of HTTP; the status code is chosen once, in sync_server/errors.py."""

from __future__ import annotations

import ast
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from starlette.exceptions import HTTPException

from edge.clock import utc_now
from edge.errors import HadirError
from sync_server import people, reports, review, shifts, terminals
from sync_server.db import Database
from sync_server.domain_errors import (
    ConflictError,
    DomainError,
    NotFoundError,
    PersonNotFoundError,
    ShiftNotFoundError,
    TerminalNotFoundError,
    UnacceptableError,
)
from sync_server.errors import http_status
from sync_server.schemas import PersonCreate, TerminalCreate
from tests.server.helpers import Api

SERVER = Path(__file__).resolve().parents[2] / "sync_server"
# The operations: what the API and the admin web both call.
OPERATIONS = [
    SERVER / "people.py",
    SERVER / "terminals.py",
    SERVER / "shifts.py",
    SERVER / "review.py",
    # Issue 15's operations: the working calendar, leave, corrections and the audit trail,
    # consent, a person's export and retention.
    SERVER / "calendar.py",
    SERVER / "calendar_files.py",
    SERVER / "leave.py",
    SERVER / "corrections.py",
    SERVER / "audit.py",
    SERVER / "consent.py",
    SERVER / "person_export.py",
    SERVER / "retention.py",
    *sorted((SERVER / "reports").glob("*.py")),
]


@pytest.fixture
def db(api: Api) -> Iterator[Database]:
    database = Database.from_url(api.config.database_url, pool_size=2)
    yield database
    database.dispose()


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _refusal(exc: DomainError) -> tuple[type[DomainError], str, int]:
    assert isinstance(exc, HadirError)
    assert not isinstance(exc, HTTPException)
    return type(exc), exc.reason, http_status(exc)


def test_operations_refuse_with_domain_errors_and_errors_py_picks_the_status(
    api: Api, db: Database
) -> None:
    api.create_person("ana")
    with pytest.raises(PersonNotFoundError) as unknown, db.read() as conn:
        people.load(conn, "nobody")
    assert _refusal(unknown.value) == (PersonNotFoundError, "unknown_person", 404)
    assert isinstance(unknown.value, LookupError)
    assert unknown.value.detail == "no person 'nobody'"

    with pytest.raises(ConflictError) as exists:
        people.create(db, PersonCreate(id="ana", name="Ana"))
    assert _refusal(exists.value) == (ConflictError, "person_exists", 409)
    assert isinstance(exists.value, ValueError)

    with pytest.raises(NotFoundError) as template:
        people.delete_template(db, "ana", 7)
    assert _refusal(template.value) == (NotFoundError, "unknown_template", 404)

    terminals.create_terminal(db, TerminalCreate(id="t1"))
    with pytest.raises(ConflictError) as terminal_exists:
        terminals.create_terminal(db, TerminalCreate(id="t1"))
    assert _refusal(terminal_exists.value) == (ConflictError, "terminal_exists", 409)
    with pytest.raises(TerminalNotFoundError) as no_terminal:
        terminals.revoke_terminal(db, "t9")
    assert _refusal(no_terminal.value) == (TerminalNotFoundError, "unknown_terminal", 404)

    with pytest.raises(ShiftNotFoundError) as no_shift:
        shifts.get_shift(db, 99)
    assert _refusal(no_shift.value) == (ShiftNotFoundError, "unknown_shift", 404)

    with pytest.raises(NotFoundError) as no_event:
        review.mark_reviewed(db, uuid.uuid4(), "admin", utc_now())
    assert _refusal(no_event.value) == (NotFoundError, "unknown_event", 404)

    with pytest.raises(UnacceptableError) as backwards:
        reports.check_range(date(2026, 3, 2), date(2026, 3, 1))
    assert _refusal(backwards.value) == (UnacceptableError, "bad_range", 422)


def test_the_api_answers_a_domain_refusal_as_before(api: Api) -> None:
    response = api.admin("GET", "/admin/people/nobody")
    assert response.status_code == 404
    assert response.json() == {"reason": "unknown_person", "detail": "no person 'nobody'"}
    response = api.admin("POST", "/admin/terminals/t9/revoke")
    assert response.status_code == 404
    assert response.json() == {"reason": "unknown_terminal", "detail": "no terminal 't9'"}


@pytest.mark.parametrize("path", OPERATIONS, ids=lambda p: str(p.relative_to(SERVER)))
def test_operations_know_nothing_of_http_errors_or_the_layers_above(path: Path) -> None:
    above = {
        name
        for name in _imports(path)
        if name.startswith(("sync_server.api", "sync_server.web", "sync_server.errors"))
        or name in {"fastapi.HTTPException", "starlette.exceptions.HTTPException"}
    }
    assert above == set()


def test_the_api_imports_nothing_of_the_admin_web() -> None:
    # The other direction is tests/web/test_layout.py's.
    crossing = {
        f"{path.relative_to(SERVER)}: {name}"
        for path in sorted((SERVER / "api").rglob("*.py"))
        for name in _imports(path)
        if name == "sync_server.web" or name.startswith("sync_server.web.")
    }
    assert crossing == set()
