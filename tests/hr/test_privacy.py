"""The export of everything held about a person (sync_server/person_export.py): the API, the
admin web's downloads and ``hadir person export``; JSON and the zip of CSVs parsed back, the
same content in both, never a template vector. SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import csv
import io
import json
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from edge.cli import build_parser
from sync_server import admin_cli, audit
from sync_server.admin_client import AdminClient, AdminCredentials
from sync_server.db import Database, corrections, epoch_us, leaves
from sync_server.person_export import SECTIONS
from tests.server.helpers import ADMIN_TOKEN, Api, batch, event, template
from tests.web.conftest import Web
from tests.web.conftest import make_web as make_web  # the web pages' fixtures, reused
from tests.web.conftest import web as web

AT = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


def _seed(api: Api, person_id: str = "ann") -> None:
    """A person with consent, two templates, two events, a correction, a leave, and the audit
    rows other parts of the server write about them; and a neighbour whose id is a LIKE
    pattern of hers, whose data must not leak into her export."""
    # a_n -> axn (the LIKE wildcard), ann -> annie (a prefix)
    neighbour = person_id.replace("_", "x") if "_" in person_id else person_id + "ie"
    token = api.create_terminal("door-1")
    api.enrol(person_id, 1, 2)
    api.enrol(neighbour, 3)
    punches = [event("door-1", person_id, kind=k) for k in ("in", "out")]
    punches.append(event("door-1", neighbour))
    assert api.post_batch(token, batch("door-1", punches)).status_code == 200
    db = Database.from_url(api.config.database_url, pool_size=1)
    try:
        with db.write() as conn:
            conn.execute(
                sa.insert(corrections).values(
                    person_id=person_id,
                    action="add",
                    kind="out",
                    at=AT,
                    effective_us=epoch_us(AT),
                    reason="forgot to check out",
                    created_at=AT,
                    created_by="siti",
                )
            )
            conn.execute(
                sa.insert(leaves).values(
                    person_id=person_id,
                    kind="sick",
                    start_day=date(2026, 11, 27),
                    end_day=date(2026, 12, 1),
                    note="flu",
                    created_at=AT,
                    created_by="siti",
                )
            )
            for who in (person_id, neighbour):
                audit.record(
                    conn,
                    actor="siti",
                    action="create",
                    entity="leave",
                    entity_id="1",
                    now=AT,
                    after={"person_id": who, "kind": "sick"},
                )
    finally:
        db.dispose()


def _zip_sections(data: bytes) -> dict[str, list[dict[str, str]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == sorted(f"{s}.csv" for s in SECTIONS)
        return {
            name: list(csv.DictReader(io.StringIO(archive.read(f"{name}.csv").decode("utf-8-sig"))))
            for name in SECTIONS
        }


def _check_no_templates(raw: bytes) -> None:
    text = raw.decode("utf-8", errors="replace")
    assert "vector" not in text
    for seed in (1, 2):
        assert template(seed) not in text
    assert "photo_sha256" not in text.split('"audit"')[0]  # only audit rows name digests


def test_json_export_has_every_section_and_no_template(api: Api) -> None:
    _seed(api, "a_n")
    answer = api.admin("GET", "/admin/people/a_n/export")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert "attachment" in answer.headers["content-disposition"]
    _check_no_templates(answer.content)
    doc = json.loads(answer.content)
    assert doc["format"] == "hadir-person-export"
    assert doc["person_id"] == "a_n"
    assert doc["profile"]["id"] == "a_n"
    assert doc["profile"]["name"] == "A_N"
    assert doc["template_count"] == 2
    assert [sorted(t) for t in doc["templates"]] == [["created_at", "id"]] * 2
    [consent] = doc["consents"]
    assert (consent["collected_by"], consent["channel"]) == (audit.API_ACTOR, "api")
    assert sorted(e["kind"] for e in doc["events"]) == ["in", "out"]
    assert {e["person_id"] for e in doc["events"]} == {"a_n"}
    [fix] = doc["corrections"]
    assert (fix["action"], fix["reason"]) == ("add", "forgot to check out")
    [leave] = doc["leaves"]
    assert (leave["kind"], leave["start_day"], leave["end_day"]) == (
        "sick",
        "2026-11-27",
        "2026-12-01",
    )
    # Her person, consent and template rows, and the leave row naming her; not axn's.
    kinds = sorted((r["entity"], r["action"]) for r in doc["audit"])
    assert kinds == [
        ("consent", "create"),
        ("leave", "create"),
        ("person", "create"),
        ("template", "import"),
        ("template", "import"),
    ]
    assert all("axn" not in json.dumps(r) for r in doc["audit"])


def test_csv_export_is_the_same_content_as_the_json(api: Api) -> None:
    _seed(api)
    doc = api.admin("GET", "/admin/people/ann/export", params={"format": "json"}).json()
    answer = api.admin("GET", "/admin/people/ann/export", params={"format": "csv"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    assert 'filename="hadir-person-ann-' in answer.headers["content-disposition"]
    _check_no_templates(answer.content)
    sections = _zip_sections(answer.content)
    assert [row["id"] for row in sections["profile"]] == ["ann"]
    for name in SECTIONS[1:]:
        assert len(sections[name]) == len(doc[name]), name
    assert [r["id"] for r in sections["events"]] == [e["id"] for e in doc["events"]]
    assert [r["id"] for r in sections["templates"]] == [str(t["id"]) for t in doc["templates"]]
    assert list(sections["templates"][0]) == ["id", "created_at"]
    assert sections["leaves"][0]["note"] == "flu"
    audit_after = [json.loads(r["after"]) for r in sections["audit"] if r["after"]]
    assert audit_after == [r["after"] for r in doc["audit"] if r["after"]]
    assert all("annie" not in json.dumps(after) for after in audit_after)  # not a prefix match
    assert {e["person_id"] for e in sections["events"]} == {"ann"}


def test_a_deleted_person_is_exported_with_what_remains_and_nobody_is_404(api: Api) -> None:
    _seed(api)
    assert api.admin("DELETE", "/admin/people/ann").status_code == 200
    doc = api.admin("GET", "/admin/people/ann/export").json()
    assert doc["profile"] is None
    assert doc["template_count"] == 0
    assert len(doc["events"]) == 2
    assert doc["consents"][0]["withdrawn_at"] is not None
    missing = api.admin("GET", "/admin/people/nobody/export")
    assert missing.status_code == 404
    assert missing.json()["reason"] == "unknown_person"
    assert api.admin("GET", "/admin/people/ann/export?format=xml").status_code == 422


def test_web_downloads(web: Web) -> None:
    _seed(web.api)
    page = web.get("/admin/people/ann").text
    assert 'href="/admin/people/ann/export?format=json"' in page
    assert 'href="/admin/people/ann/export?format=csv"' in page
    as_json = web.get("/admin/people/ann/export?format=json")
    assert as_json.status_code == 200
    assert json.loads(as_json.content)["template_count"] == 2
    as_zip = web.get("/admin/people/ann/export?format=csv")
    assert as_zip.headers["content-type"] == "application/zip"
    assert len(_zip_sections(as_zip.content)["events"]) == 2
    assert web.get("/admin/people/nobody/export").status_code == 404


def test_web_export_needs_a_login(make_web: Any) -> None:
    anonymous = make_web()
    answer = anonymous.get("/admin/people/ann/export", follow_redirects=False)
    assert answer.status_code == 303
    assert "/admin/login" in answer.headers["location"]


def test_cli_export_writes_the_file(
    api: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(api)
    credentials = AdminCredentials("http://testserver", ADMIN_TOKEN)
    transport = api.client._transport
    monkeypatch.setattr(
        admin_cli, "_client", lambda _args: AdminClient(credentials, transport=transport)
    )

    def hadir(*argv: str) -> int:
        args: argparse.Namespace = build_parser().parse_args(list(argv))
        return int(args.handler(args))

    assert hadir("person", "export", "ann", "-o", str(tmp_path / "ann.json")) == 0
    doc = json.loads((tmp_path / "ann.json").read_text(encoding="utf-8"))
    assert doc["person_id"] == "ann"
    assert len(doc["events"]) == 2
    out = tmp_path / "ann.zip"
    assert hadir("person", "export", "ann", "--format", "csv", "-o", str(out)) == 0
    assert len(_zip_sections(out.read_bytes())["corrections"]) == 1
    assert "written to" in capsys.readouterr().err
