"""Where the audit trail is read (docs/corrections.md): the API list and its paging and
filters, the CSV parsed back, the admin page with changed fields marked, and that no API
route or web form can edit or delete an audit row. SQLite and PostgreSQL."""

from __future__ import annotations

import ast
import csv
import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi.routing import APIRoute

from edge.protocol import API_PREFIX
from sync_server import audit
from sync_server.db import Database, audit_log
from tests.hr.corrections_support import hr_web_fixture, make_hr_web_fixture  # noqa: F401
from tests.server.helpers import Api
from tests.support import ROOT
from tests.web.conftest import Web

JAKARTA = ZoneInfo("Asia/Jakarta")


def _write(database_url: str, rows: list[dict[str, Any]]) -> list[int]:
    db = Database.from_url(database_url, pool_size=1)
    try:
        with db.write() as conn:
            return [audit.record(conn, **row) for row in rows]
    finally:
        db.dispose()


def _count(database_url: str) -> int:
    db = Database.from_url(database_url, pool_size=1)
    try:
        with db.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar_one())
    finally:
        db.dispose()


def _row(n: int, **fields: Any) -> dict[str, Any]:
    base = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    return {
        "actor": "siti",
        "action": "update",
        "entity": "shift",
        "entity_id": str(n % 3 + 1),
        "now": base + timedelta(hours=n),
        "before": {"grace_minutes": n, "name": "pagi"},
        "after": {"grace_minutes": n + 1, "name": "pagi"},
    } | fields


def test_the_api_pages_back_newest_first_and_filters(make_api: Callable[..., Api]) -> None:
    api = make_api(site_timezone="Asia/Jakarta")
    base = _count(api.config.database_url)
    ids = _write(api.config.database_url, [_row(n) for n in range(25)])
    _write(
        api.config.database_url,
        [_row(30, actor="budi", entity="leave", entity_id="9", action="create", before=None)],
    )
    first = api.admin("GET", "/admin/audit", params={"entity": "shift", "limit": 10}).json()
    assert [e["id"] for e in first["entries"]] == ids[::-1][:10]
    assert first["next_before_id"] == ids[-10]
    seen = [e["id"] for e in first["entries"]]
    cursor = first["next_before_id"]
    while cursor is not None:
        page = api.admin(
            "GET", "/admin/audit", params={"entity": "shift", "limit": 10, "before_id": cursor}
        ).json()
        seen += [e["id"] for e in page["entries"]]
        cursor = page["next_before_id"]
    assert seen == ids[::-1]
    entry = first["entries"][0]
    assert entry["at"] == "2026-11-02T09:00:00+07:00"  # hour 24 after 02:00 UTC, site offset
    assert entry["before"] == {"grace_minutes": 24, "name": "pagi"}

    def found(**params: Any) -> list[int]:
        answer = api.admin("GET", "/admin/audit", params={"limit": 1000} | params)
        assert answer.status_code == 200, answer.text
        return [e["id"] for e in answer.json()["entries"]]

    assert len(found(actor="budi")) == 1
    assert len(found(entity="shift", entity_id="1")) == 9
    # Days on the site's clock: 2 November 00:00-23:59 WIB is hours 15..38 after 1 Nov 02:00 UTC.
    assert found(entity="shift", **{"from": "2026-11-02", "to": "2026-11-02"}) == ids[15:25][::-1]
    assert len(found()) == 26 + base
    bad = api.admin("GET", "/admin/audit", params={"entity": "nonsense"})
    assert (bad.status_code, bad.json()["reason"]) == (422, "unknown_entity")
    backwards = api.admin("GET", "/admin/audit", params={"from": "2026-11-03", "to": "2026-11-01"})
    assert (backwards.status_code, backwards.json()["reason"]) == (422, "bad_range")


def test_the_audit_csv_parses_back_to_the_rows(make_api: Callable[..., Api]) -> None:
    api = make_api(site_timezone="Asia/Jakarta")
    rows = [
        _row(1),
        _row(2, actor="=HYPERLINK(1)", entity="person", entity_id="-ani", action="delete"),
        _row(
            3,
            entity="correction",
            action="create",
            before=None,
            after={"reason": 'lupa, "pulang" cepat\nbaris dua', "at": "x"},
        ),
    ]
    ids = _write(api.config.database_url, rows)
    answer = api.admin("GET", "/admin/audit.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.text.count("\r\n") >= 4
    parsed = list(csv.DictReader(io.StringIO(answer.text, newline="")))
    assert list(parsed[0]) == [
        "id", "at", "actor", "action", "entity", "entity_id", "before", "after",
    ]  # fmt: skip
    mine = {int(r["id"]): r for r in parsed if int(r["id"]) in ids}
    assert sorted(mine) == sorted(ids)
    assert [int(r["id"]) for r in parsed] == sorted((int(r["id"]) for r in parsed), reverse=True)
    one, two, three = (mine[i] for i in ids)
    assert one["at"] == "2026-11-01T10:00:00+07:00"
    assert (one["actor"], one["action"], one["entity"], one["entity_id"]) == (
        "siti",
        "update",
        "shift",
        "2",
    )
    assert json.loads(one["before"]) == {"grace_minutes": 1, "name": "pagi"}
    assert json.loads(one["after"]) == {"grace_minutes": 2, "name": "pagi"}
    # A spreadsheet would run these as formulas: they start with ' in the file.
    assert (two["actor"], two["entity_id"]) == ("'=HYPERLINK(1)", "'-ani")
    assert three["before"] == ""
    assert json.loads(three["after"])["reason"] == 'lupa, "pulang" cepat\nbaris dua'
    only = api.admin("GET", "/admin/audit.csv", params={"entity": "correction"}).text
    assert len(list(csv.DictReader(io.StringIO(only, newline="")))) == 1
    assert api.admin("GET", "/admin/audit.csv", params={"entity": "x"}).status_code == 422


def test_the_audit_csv_streams_every_row_past_one_page(make_api: Callable[..., Api]) -> None:
    api = make_api()
    base = _count(api.config.database_url)
    _write(api.config.database_url, [_row(n) for n in range(2100)])
    text = api.admin("GET", "/admin/audit.csv").text
    parsed = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(parsed) == 2100 + base
    assert len({r["id"] for r in parsed}) == len(parsed)


ENGLISH_HEADER = ["id", "at", "actor", "action", "entity", "entity_id", "before", "after"]
INDONESIAN_HEADER = [
    "id", "waktu", "pelaku", "tindakan", "entitas", "id_entitas", "sebelum", "sesudah",
]  # fmt: skip


def _audit_header(text: str) -> list[str]:
    return next(csv.reader(io.StringIO(text, newline="")))


def test_the_audit_csv_header_is_in_the_readers_language(
    make_api: Callable[..., Api], make_hr_web: Callable[..., Web]
) -> None:
    """lang, else Accept-Language (API) or the account's choice (web), else English; the
    cells are the same codes, times and JSON in every language."""
    api = make_api()
    _write(api.config.database_url, [_row(1)])
    english = api.admin("GET", "/admin/audit.csv")
    assert _audit_header(english.text) == ENGLISH_HEADER
    assert english.headers["content-language"] == "en"
    by_link = api.admin("GET", "/admin/audit.csv", params={"lang": "id"})
    assert _audit_header(by_link.text) == INDONESIAN_HEADER
    assert by_link.headers["content-language"] == "id"
    # Only the header changes: the rows are the English file's rows.
    assert by_link.text.split("\r\n", 1)[1] == english.text.split("\r\n", 1)[1]
    by_browser = api.admin("GET", "/admin/audit.csv", headers={"Accept-Language": "id-ID"})
    assert _audit_header(by_browser.text) == INDONESIAN_HEADER
    bad = api.admin("GET", "/admin/audit.csv", params={"lang": "fr"})
    assert bad.status_code == 422

    web = make_hr_web()
    assert _audit_header(web.get("/admin/audit.csv").text) == ENGLISH_HEADER
    indonesian = web.get("/admin/audit.csv", headers={"Accept-Language": "id"})
    assert _audit_header(indonesian.text) == INDONESIAN_HEADER
    assert _audit_header(web.get("/admin/audit.csv", params={"lang": "en"}).text) == (
        ENGLISH_HEADER
    )
    assert web.get("/admin/audit.csv", params={"lang": "xx"}).status_code == 422


def test_the_audit_page_shows_changes_marked_filters_and_pages(
    make_hr_web: Callable[..., Web],
) -> None:
    web = make_hr_web()
    ids = _write(web.config.database_url, [_row(n) for n in range(105)])
    page = web.get("/admin/audit", params={"entity": "shift"})
    assert page.status_code == 200
    html = page.text
    assert html.count("data-audit=") == 100
    newest = html.split(f'data-audit="{ids[-1]}"')[1].split("</table>")[0]
    assert '<tr data-field="grace_minutes" data-changed="yes">' in newest
    assert "<del>104</del></td><td><mark>105</mark>" in newest
    assert '<tr data-field="name" data-changed="no">' in newest
    assert "2026-11-05 17:00:00" in html  # 02:00 UTC + 104 h, on the Jakarta clock
    assert 'href="/admin/audit.csv?entity=shift"' in html
    assert f"before={ids[5]}" in html  # the link to the older page
    rest = web.get("/admin/audit", params={"entity": "shift", "before": ids[5]}).text
    assert rest.count("data-audit=") == 5
    assert 'id="newest"' in rest
    assert 'id="older"' not in rest
    downloaded = web.get("/admin/audit.csv", params={"entity": "shift"})
    assert downloaded.status_code == 200
    assert len(list(csv.DictReader(io.StringIO(downloaded.text, newline="")))) == 105
    assert web.get("/admin/audit", params={"entity": "nonsense"}).status_code == 422
    assert web.get("/admin/audit", params={"before": "x"}).status_code == 422
    empty = web.get("/admin/audit", params={"actor": "nobody"}).text
    assert "No audit row with these filters." in empty


def test_nothing_can_edit_or_delete_the_audit_trail(make_hr_web: Callable[..., Web]) -> None:
    web = make_hr_web()
    _write(web.config.database_url, [_row(1)])
    before = _count(web.config.database_url)
    # Every route that names the audit trail only reads it.
    app = web.client.app
    for route in app.routes:  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and "audit" in route.path:
            assert set(route.methods or ()) <= {"GET", "HEAD"}, (route.path, route.methods)
    paths = [
        f"{API_PREFIX}/admin/audit",
        f"{API_PREFIX}/admin/audit.csv",
        f"{API_PREFIX}/admin/audit/1",
        "/admin/audit",
        "/admin/audit.csv",
    ]
    for path in paths:
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            answer = web.api.client.request(
                method,
                path,
                headers={"Authorization": "Bearer test-admin-token-0123456789"},
                data={"csrf_token": web.csrf, "id": "1"},
            )
            assert answer.status_code in (404, 405), (method, path, answer.status_code)
            if path.endswith(("audit", "audit.csv")):
                assert answer.status_code == 405, (method, path)
    assert _count(web.config.database_url) == before


# The one module allowed to delete audit rows: the retention job (docs/privacy.md).
RETENTION = "sync_server/retention.py"
_RAW_SQL = re.compile(r"\b(UPDATE|DELETE\s+FROM|TRUNCATE(\s+TABLE)?)\s+\"?audit_log\b", re.I)


def _writes_audit_log(tree: ast.Module) -> list[int]:
    """Lines of ``update(audit_log)``, ``delete(audit_log)``, ``audit_log.update()`` or
    ``audit_log.delete()`` in a module (SQLAlchemy Core's ways to change rows)."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in {"update", "delete"}:
            continue
        on_table = isinstance(func, ast.Attribute) and getattr(func.value, "id", "") == "audit_log"
        given = any(getattr(arg, "id", "") == "audit_log" for arg in node.args)
        if on_table or given:
            found.append(node.lineno)
    return found


def test_no_module_but_retention_updates_or_deletes_audit_rows() -> None:
    offenders = {}
    modules = sorted((ROOT / "sync_server").rglob("*.py"))
    for path in modules:
        name = path.relative_to(ROOT).as_posix()
        if name == RETENTION or "/migrations/" in name:
            continue
        source = path.read_text(encoding="utf-8")
        lines = _writes_audit_log(ast.parse(source))
        lines += [source.count("\n", 0, m.start()) + 1 for m in _RAW_SQL.finditer(source)]
        if lines:
            offenders[name] = lines
    assert offenders == {}
    # The check sees a deletion where there is one: the retention job's.
    retention = (ROOT / RETENTION).read_text(encoding="utf-8")
    assert _writes_audit_log(ast.parse(retention)) != []
    assert len(modules) > 40


def test_field_changes_show_instants_on_the_site_clock_and_skip_empty_fields() -> None:
    from sync_server.corrections import FieldChange, field_changes

    before = {"at": "2026-12-01T09:05:00+00:00", "kind": "out", "event_id": None, "n": 1}
    after = {"at": "2026-12-01T10:05:00.250000+00:00", "kind": "out", "event_id": None}
    assert field_changes(before, after, JAKARTA) == [
        FieldChange("at", "2026-12-01 16:05:00", "2026-12-01 17:05:00", changed=True),
        FieldChange("kind", "out", "out", changed=False),
        FieldChange("n", "1", "", changed=True),
    ]
    # Without a zone the row's own text; text that only looks like a time stays as it is.
    [shown] = field_changes(None, {"note": "2026-12-01T09:05:00+00:00 pulang"})
    assert (shown.before, shown.after, shown.changed) == (
        "",
        "2026-12-01T09:05:00+00:00 pulang",
        True,
    )
    assert field_changes(None, {"ids": [1, 2], "who": {"a": None}}) == [
        FieldChange("ids", "", "[1, 2]", changed=True),
        FieldChange("who", "", '{"a": null}', changed=True),
    ]
