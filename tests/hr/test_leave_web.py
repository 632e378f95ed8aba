"""The leave page (/admin/leave) on SQLite and PostgreSQL: the month's leave with filters, enter
and delete leave, the import's report, the kinds, CSRF, and the web account in the audit."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from sync_server import audit
from sync_server.config import ServerConfig
from sync_server.db import Database, migrate
from sync_server.web.accounts import set_account
from tests.web.conftest import ADMIN_PASSWORD, ADMIN_USER, Web


@pytest.fixture
def web(settings: ServerConfig) -> Iterator[Web]:
    """Logged in as alice (tests/web/conftest.py's client), with two people."""
    from fastapi.testclient import TestClient

    from sync_server.app import create_app

    db = Database.from_url(settings.database_url, pool_size=1)
    try:
        migrate(db)
        set_account(db, ADMIN_USER, ADMIN_PASSWORD)
    finally:
        db.dispose()
    with TestClient(create_app(settings, environ={}), base_url="http://testserver") as client:
        browser = Web(client, settings)
        assert browser.login().status_code == 303
        browser.api.create_person("siti", name="Siti Rahayu")
        browser.api.create_person("budi", name="Budi Santoso")
        yield browser


def _audit(web: Web, entity: str) -> list[audit.AuditEntry]:
    db = Database.from_url(web.config.database_url, pool_size=1)
    try:
        with db.read() as conn:
            return audit.entries(conn, entity=entity)
    finally:
        db.dispose()


def _rows(html: str) -> list[tuple[str, str, str]]:
    pattern = r'<tr data-leave="(\d+)" data-person="([^"]+)" data-kind="([^"]+)"'
    return [(m[1], m[2], m[3]) for m in re.finditer(pattern, html)]


def test_enter_list_and_delete_leave(web: Web) -> None:
    page = web.get("/admin/leave?month=2026-12")
    assert page.status_code == 200
    assert "Siti Rahayu" in page.text  # the person picker
    assert '<option value="sick"' in page.text
    added = web.post(
        "/admin/leave",
        {
            "new_person": "siti",
            "new_kind": "sick",
            "new_start": "2026-11-30",
            "new_end": "2026-12-01",
            "new_note": "demam",
        },
    )
    assert added.status_code == 303, added.text
    assert added.headers["location"] == "/admin/leave?month=2026-11&added=1"
    for month in ("2026-11", "2026-12"):
        listed = web.get(f"/admin/leave?month={month}").text
        assert _rows(listed) == [("1", "siti", "sick")]
    assert "demam" in listed
    assert _rows(web.get("/admin/leave?month=2027-01").text) == []
    entry = _audit(web, "leave")[0]
    assert (entry.actor, entry.action) == (ADMIN_USER, "create")

    deleted = web.post("/admin/leave/1/delete", {"month": "2026-12"})
    assert deleted.status_code == 303
    assert deleted.headers["location"] == "/admin/leave?month=2026-12&deleted=1"
    assert _rows(web.get("/admin/leave?month=2026-12").text) == []
    assert [(e.action, e.actor) for e in _audit(web, "leave")] == [
        ("delete", ADMIN_USER),
        ("create", ADMIN_USER),
    ]


def test_filters_by_person_and_kind(web: Web) -> None:
    for person, kind in (("siti", "sick"), ("budi", "annual")):
        web.post(
            "/admin/leave",
            {"new_person": person, "new_kind": kind, "new_start": "2026-12-07", "new_end": ""},
        )
    everyone = _rows(web.get("/admin/leave?month=2026-12").text)
    assert sorted(p for _, p, _ in everyone) == ["budi", "siti"]
    assert [p for _, p, _ in _rows(web.get("/admin/leave?month=2026-12&person=budi").text)] == [
        "budi"
    ]
    assert [k for _, _, k in _rows(web.get("/admin/leave?month=2026-12&kind=sick").text)] == [
        "sick"
    ]


@pytest.mark.parametrize(
    ("form", "status", "words"),
    [
        ({"new_person": "nobody", "new_kind": "sick", "new_start": "2026-12-01"}, 404, "no person"),
        (
            {
                "new_person": "siti",
                "new_kind": "sick",
                "new_start": "2026-12-05",
                "new_end": "2026-12-01",
            },
            422,
            "before the start",
        ),
        ({"new_person": "siti", "new_kind": "sick", "new_start": "soon"}, 422, "start"),
    ],
)
def test_a_refused_leave_shows_why_and_keeps_the_form(
    web: Web, form: dict[str, str], status: int, words: str
) -> None:
    answer = web.post("/admin/leave", form)
    assert answer.status_code == status
    problem = re.search(r'id="leave-problem">([^<]*)<', answer.text)
    assert problem is not None
    assert words in problem.group(1)
    assert f'value="{form["new_person"]}"' in answer.text
    assert _audit(web, "leave") == []


def test_an_overlap_names_the_leave_in_the_way(web: Web) -> None:
    web.post("/admin/leave", {"new_person": "siti", "new_kind": "sick", "new_start": "2026-12-01"})
    answer = web.post(
        "/admin/leave", {"new_person": "siti", "new_kind": "annual", "new_start": "2026-12-01"}
    )
    assert answer.status_code == 409
    assert "overlaps leave 1" in answer.text


def test_import_report_on_the_page_and_check_only(web: Web) -> None:
    csv = (
        b"person,kind,start,end,note\n"
        b"siti,Sakit,2026-12-01,2026-12-02,\n"
        b"hantu,sick,2026-12-01,,\n"
        b"budi,cuti,2026-12-03,2026-12-01,\n"
    )

    def send(dry_run: bool) -> str:
        data = {"csrf_token": web.csrf} | ({"dry_run": "yes"} if dry_run else {})
        answer = web.client.post(
            "/admin/leave/import", data=data, files={"file": ("leave.csv", csv, "text/csv")}
        )
        assert answer.status_code == 200, answer.text
        html: str = answer.text
        return html

    checked = send(True)
    lines = re.findall(r'data-line="(\d+)" data-outcome="(\w+)" data-reason="(\w*)"', checked)
    assert lines == [
        ("2", "added", ""),
        ("3", "refused", "unknown_person"),
        ("4", "refused", "end_before_start"),
    ]
    assert "nothing written" in checked
    assert _rows(web.get("/admin/leave?month=2026-12").text) == []
    imported = send(False)
    assert re.findall(r'data-line="(\d+)" data-outcome="(\w+)"', imported) == [
        ("2", "added"),
        ("3", "refused"),
        ("4", "refused"),
    ]
    # (PostgreSQL's sequence is not rolled back with the check's transaction: no fixed id.)
    assert [row[1:] for row in _rows(web.get("/admin/leave?month=2026-12").text)] == [
        ("siti", "sick")
    ]
    assert [(e.action, e.actor) for e in _audit(web, "leave")] == [("import", ADMIN_USER)]


def test_an_unreadable_file_is_refused_on_the_page(web: Web) -> None:
    answer = web.client.post(
        "/admin/leave/import",
        data={"csrf_token": web.csrf},
        files={"file": ("leave.csv", b"alice,sick,2026-12-01,\n", "text/csv")},
    )
    assert answer.status_code == 422
    assert 'id="import-problem"' in answer.text
    assert "header" in answer.text


def test_kinds_add_relabel_retire_and_offer_again(web: Web) -> None:
    added = web.post(
        "/admin/leave/kinds",
        {"kind_code": "maternity", "kind_en": "Maternity leave", "kind_id": "Cuti melahirkan"},
    )
    assert added.status_code == 303, added.text
    page = web.get("/admin/leave").text
    assert 'data-kind="maternity" data-active="yes"' in page
    relabelled = web.post(
        "/admin/leave/kinds/maternity",
        {"label_en": "Maternity leave", "label_id": "Cuti bersalin"},
    )
    assert relabelled.status_code == 303
    assert 'value="Cuti bersalin"' in web.get("/admin/leave").text
    assert web.post("/admin/leave/kinds/maternity", {"active": "0"}).status_code == 303
    page = web.get("/admin/leave").text
    assert 'data-kind="maternity" data-active="no"' in page
    # A retired kind is not offered for new leave.
    new_kinds = page.split('id="new-kind"')[1].split("</select>")[0]
    assert 'value="maternity"' not in new_kinds
    refused = web.post(
        "/admin/leave",
        {"new_person": "siti", "new_kind": "maternity", "new_start": "2026-12-01"},
    )
    assert refused.status_code == 422
    assert "retired" in refused.text
    assert web.post("/admin/leave/kinds/maternity", {"active": "1"}).status_code == 303
    assert 'data-kind="maternity" data-active="yes"' in web.get("/admin/leave").text
    clash = web.post(
        "/admin/leave/kinds", {"kind_code": "flu", "kind_en": "Sick", "kind_id": "Flu"}
    )
    assert clash.status_code == 409
    assert 'id="kind-problem"' in clash.text
    actions = [(e.action, e.actor) for e in reversed(_audit(web, "leave_kind"))]
    assert actions == [("create", ADMIN_USER)] + [("update", ADMIN_USER)] * 3


def test_every_form_needs_the_csrf_token(web: Web) -> None:
    for path, form in (
        ("/admin/leave", {"new_person": "siti", "new_kind": "sick", "new_start": "2026-12-01"}),
        ("/admin/leave/kinds", {"kind_code": "x", "kind_en": "X", "kind_id": "X"}),
        ("/admin/leave/kinds/sick", {"active": "0"}),
    ):
        answer = web.client.post(path, data=form, follow_redirects=False)
        assert answer.status_code == 403, path
    assert _audit(web, "leave") == []
    assert _audit(web, "leave_kind") == []


def test_a_visitor_without_a_session_gets_the_login_page(web: Web) -> None:
    web.client.cookies.clear()
    answer = web.get("/admin/leave", follow_redirects=False)
    assert answer.status_code in {302, 303, 401}
    assert "leave-table" not in answer.text


def test_the_kinds_are_labelled_in_the_pages_language(web: Web) -> None:
    web.post("/admin/leave", {"new_person": "siti", "new_kind": "sick", "new_start": "2026-12-01"})
    english = web.get("/admin/leave?month=2026-12").text
    indonesian = web.get("/admin/leave?month=2026-12", headers={"Accept-Language": "id-ID"}).text
    assert re.search(r'<option value="sick"\s*>Sick</option>', english)
    assert re.search(r'<option value="permission"\s*>Izin</option>', indonesian)
    assert '<span class="badge leave">Sakit</span>' in indonesian
    assert '<span class="badge leave">Sick</span>' in english


def test_change_a_leave_keeps_a_retired_kind_and_refuses_an_overlap(web: Web) -> None:
    web.post("/admin/leave", {"new_person": "siti", "new_kind": "duty", "new_start": "2026-12-01"})
    web.post("/admin/leave", {"new_person": "siti", "new_kind": "sick", "new_start": "2026-12-05"})
    assert web.post("/admin/leave/kinds/duty", {"active": "0"}).status_code == 303
    form = web.get("/admin/leave/1")
    assert form.status_code == 200
    assert re.search(
        r'<option value="duty"\s*selected>Official duty \(retired\)</option>', form.text
    )
    changed = web.post(
        "/admin/leave/1",
        {"kind": "duty", "start": "2026-12-01", "end": "2026-12-03", "note": "Surabaya"},
    )
    assert changed.status_code == 303, changed.text
    assert changed.headers["location"] == "/admin/leave?month=2026-12&changed=1"
    listed = web.get("/admin/leave?month=2026-12").text
    assert "Surabaya" in listed
    assert 'data-day="2026-12-03"' in listed
    overlap = web.post(
        "/admin/leave/1", {"kind": "duty", "start": "2026-12-01", "end": "2026-12-05"}
    )
    assert overlap.status_code == 409
    assert "overlaps leave 2" in overlap.text
    assert 'value="2026-12-05"' in overlap.text  # the form keeps what was sent
    assert web.get("/admin/leave/99").status_code == 404
    update = _audit(web, "leave")[0]
    assert (update.action, update.actor, update.entity_id) == ("update", ADMIN_USER, "1")
    assert update.after is not None
    assert update.after["note"] == "Surabaya"
