"""Consent to face templates (sync_server/consent.py): required before any photo or template,
through the API, the admin web and the CLI; withdrawing erases the templates everywhere and
the feed tells the terminals; audit rows for people, templates and consent. SQLite and
PostgreSQL (the api and web fixtures)."""

from __future__ import annotations

import argparse
import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from edge.cli import build_parser
from sync_server import admin_cli, audit
from sync_server.admin_client import AdminClient, AdminCredentials
from sync_server.db import Database, people, templates
from tests.server.helpers import ADMIN_TOKEN, Api, Mirror, batch, event, template
from tests.web.conftest import ADMIN_USER, Web
from tests.web.conftest import make_web as make_web  # the web pages' fixtures, reused
from tests.web.conftest import web as web

NOT_AN_IMAGE = b"these bytes are no photo"


def _audit(api: Api, **filters: Any) -> list[audit.AuditEntry]:
    db = Database.from_url(api.config.database_url, pool_size=1)
    try:
        with db.read() as conn:
            return audit.entries(conn, limit=1000, **filters)
    finally:
        db.dispose()


def _photo(api: Api, person_id: str, data: bytes = NOT_AN_IMAGE) -> httpx.Response:
    return api.admin(
        "POST", f"/admin/people/{person_id}/photos", files={"photo": ("a.jpg", data, "image/jpeg")}
    )


# --- API -----------------------------------------------------------------------------------


def test_no_photo_or_template_without_consent_and_the_answer_says_what_to_do(api: Api) -> None:
    api.create_person("ann", consent=False)
    assert api.admin("GET", "/admin/people/ann").json()["consent"] is None
    photo = _photo(api, "ann")
    # 409 before the photo is looked at: these bytes would be 422 unreadable otherwise.
    assert photo.status_code == 409, photo.text
    assert photo.json()["reason"] == "consent_missing"
    assert "hadir person consent ann" in photo.json()["detail"]
    assert "/api/v1/admin/people/ann/consent" in photo.json()["detail"]
    imported = api.admin("POST", "/admin/people/ann/templates", json={"templates": [template(1)]})
    assert imported.status_code == 409
    assert imported.json()["reason"] == "consent_missing"
    assert api.counts()["templates"] == 0
    # Unknown people stay 404.
    assert _photo(api, "nobody").status_code == 404


def test_consent_recorded_then_enrolment_works(api: Api) -> None:
    api.create_person("ann", consent=False)
    given = api.admin("POST", "/admin/people/ann/consent")
    assert given.status_code == 201, given.text
    body = given.json()
    assert (body["collected_by"], body["text_version"], body["channel"]) == (
        audit.API_ACTOR,
        "1",
        "api",
    )
    assert body["withdrawn_at"] is None
    # Past the consent check: now the photo itself is judged.
    assert _photo(api, "ann").json()["reason"] == "unreadable"
    assert api.add_templates("ann", template(1)) > 0
    person = api.admin("GET", "/admin/people/ann").json()
    assert person["consent"]["given_at"] == body["given_at"]
    assert len(person["templates"]) == 1
    # The same text again records nothing new; another text version does.
    again = api.admin("POST", "/admin/people/ann/consent", json={"channel": "api"})
    assert again.json()["given_at"] == body["given_at"]
    newer = api.admin(
        "POST",
        "/admin/people/ann/consent",
        json={"text_version": "2026-12", "collected_by": "Budi (HR)", "channel": "cli"},
    ).json()
    assert (newer["text_version"], newer["collected_by"], newer["channel"]) == (
        "2026-12",
        "Budi (HR)",
        "cli",
    )
    assert api.admin("GET", "/admin/people/ann").json()["consent"]["text_version"] == "2026-12"
    assert len(_audit(api, entity="consent", entity_id="ann")) == 2
    assert api.admin("POST", "/admin/people/nobody/consent").status_code == 404
    bad = api.admin("POST", "/admin/people/ann/consent", json={"text_version": "no spaces"})
    assert bad.status_code == 422


def test_consent_in_the_create_request_and_the_sites_text_version(make_api: Any) -> None:
    from sync_server.config import PrivacyConfig

    api: Api = make_api(privacy=PrivacyConfig(consent_text_version="2026-12"))
    created = api.admin(
        "POST",
        "/admin/people",
        json={"id": "ann", "name": "Ann", "consent": {"collected_by": "Siti"}},
    )
    assert created.status_code == 201, created.text
    consent = created.json()["consent"]
    assert (consent["text_version"], consent["collected_by"]) == ("2026-12", "Siti")
    [row] = _audit(api, entity="consent")
    assert row.actor == audit.API_ACTOR
    assert row.after is not None
    assert row.after["collected_by"] == "Siti"


def test_withdrawing_erases_the_templates_everywhere_and_keeps_the_attendance(api: Api) -> None:
    token = api.create_terminal("door-1")
    api.enrol("ann", 1, 2)
    api.enrol("bob", 3)
    mirror = Mirror().pull(api, token)
    assert set(mirror.people) == {"ann", "bob"}
    posted = api.post_batch(token, batch("door-1", [event("door-1", "ann")]))
    assert posted.status_code == 200

    answer = api.admin("DELETE", "/admin/people/ann/consent")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["templates_deleted"] == 2
    assert len(body["withdrawn"]) == 1
    assert body["withdrawn"][0]["withdrawn_by"] == audit.API_ACTOR
    assert body["version"] > mirror.version
    # The terminal's next pull drops her; bob stays.
    mirror.pull(api, token)
    assert set(mirror.people) == {"bob"}
    assert mirror.version >= body["version"]
    # The person and the attendance stay; the consent is gone, so is every template.
    person = api.admin("GET", "/admin/people/ann").json()
    assert person["consent"] is None
    assert person["templates"] == []
    events = api.admin("GET", "/admin/events", params={"person_id": "ann"}).json()["events"]
    assert len(events) == 1
    # New templates are refused until a new consent, with the reason.
    refused = api.admin("POST", "/admin/people/ann/templates", json={"templates": [template(5)]})
    assert refused.status_code == 409
    assert "withdrew their consent" in refused.json()["detail"]
    # Again (the POST form): nothing more to do, no feed change.
    again = api.admin("POST", "/admin/people/ann/consent/withdraw").json()
    assert (again["templates_deleted"], again["withdrawn"], again["version"]) == (0, [], None)
    assert api.admin("DELETE", "/admin/people/nobody/consent").status_code == 404


def test_audit_rows_for_people_templates_and_consent_never_hold_a_vector(api: Api) -> None:
    api.enrol("ann", 1)
    api.admin("PATCH", "/admin/people/ann", json={"name": "Ann Lee"})
    [template_id] = [t["id"] for t in api.admin("GET", "/admin/people/ann").json()["templates"]]
    api.admin("DELETE", f"/admin/people/ann/templates/{template_id}")
    api.admin("DELETE", "/admin/people/ann/consent")
    api.admin("DELETE", "/admin/people/ann")
    rows = list(reversed(_audit(api)))
    assert all(r.actor == audit.API_ACTOR for r in rows)
    assert [(r.entity, r.action) for r in rows] == [
        ("person", "create"),
        ("consent", "create"),
        ("template", "import"),
        ("person", "update"),
        ("template", "delete"),
        ("consent", "withdraw"),
        ("person", "delete"),
    ]
    update = rows[3]
    assert (update.before, update.after) == (
        {"id": "ann", "name": "Ann", "group": "default"},
        {"id": "ann", "name": "Ann Lee", "group": "default"},
    )
    imported = rows[2]
    assert imported.entity_id == str(template_id)
    assert imported.after is not None
    assert imported.after["person_id"] == "ann"
    text = json.dumps([(r.before, r.after) for r in rows])
    assert "vector" not in text
    assert template(1) not in text


def test_deleting_a_person_ends_their_consent(api: Api) -> None:
    api.enrol("ann", 1)
    assert api.admin("DELETE", "/admin/people/ann").status_code == 200
    api.create_person("ann", consent=False)
    refused = api.admin("POST", "/admin/people/ann/templates", json={"templates": [template(1)]})
    assert refused.json()["reason"] == "consent_missing"
    [withdrawn] = [r for r in _audit(api, entity="consent") if r.action == "withdraw"]
    assert withdrawn.after is not None
    assert withdrawn.after["withdrawn_at"] is not None


def _legacy_person(api: Api, person_id: str) -> None:
    """A person enrolled before consent was required: templates, no consent row."""
    api.create_person(person_id, consent=False)
    db = Database.from_url(api.config.database_url, pool_size=1)
    try:
        with db.write() as conn:
            conn.execute(
                sa.insert(templates).values(
                    person_id=person_id,
                    vector=b"\0" * 512,
                    photo_sha256=None,
                    source="before consent",
                    created_at=conn.execute(sa.select(people.c.created_at)).scalar_one(),
                )
            )
    finally:
        db.dispose()


def test_people_enrolled_before_keep_their_templates(api: Api) -> None:
    _legacy_person(api, "old")
    person = api.admin("GET", "/admin/people/old").json()
    assert person["consent"] is None
    assert len(person["templates"]) == 1
    # No new template until their consent is collected; withdrawing erases the old ones.
    assert _photo(api, "old").json()["reason"] == "consent_missing"
    assert api.admin("DELETE", "/admin/people/old/consent").json()["templates_deleted"] == 1


# --- admin web -----------------------------------------------------------------------------


def test_web_enrol_form_without_the_box_refuses_the_photos(web: Web) -> None:
    page = web.post(
        "/admin/people",
        {"id": "ann", "name": "Ann", "group": "default"},
        files=[("photos", ("ann.jpg", NOT_AN_IMAGE, "image/jpeg"))],
    )
    assert page.status_code == 200
    assert 'data-reason="consent_missing"' in page.text
    assert 'data-consent="none"' in page.text
    with_box = web.post(
        "/admin/people",
        {"id": "bob", "name": "Bob", "group": "default", "consent": "yes"},
        files=[("photos", ("bob.jpg", NOT_AN_IMAGE, "image/jpeg"))],
    )
    assert 'data-reason="unreadable"' in with_box.text
    assert 'data-consent="given"' in with_box.text
    bob = web.api.admin("GET", "/admin/people/bob").json()["consent"]
    assert (bob["collected_by"], bob["channel"]) == (ADMIN_USER, "web")
    listing = web.get("/admin/people").text
    assert "no consent on record" in listing
    assert '<td data-consent="given">' in listing
    actors = {(r.entity, r.entity_id, r.actor) for r in _audit(web.api)}
    assert ("person", "ann", ADMIN_USER) in actors
    assert ("consent", "bob", ADMIN_USER) in actors


def test_web_consent_form_and_withdrawal(web: Web) -> None:
    web.api.create_person("ann", name="Ann", consent=False)
    page = web.get("/admin/people/ann").text
    assert 'data-consent="none"' in page
    assert 'name="consent_version"' in page
    assert 'value="1"' in page
    unticked = web.post("/admin/people/ann/consent", {"consent_version": "1"})
    assert unticked.status_code == 422
    assert 'id="consent-problem"' in unticked.text
    ticked = web.post("/admin/people/ann/consent", {"consent": "yes", "consent_version": "v2"})
    assert ticked.status_code == 303
    shown = web.get(ticked.headers["location"]).text
    assert "Consent recorded." in shown
    assert 'data-consent="given"' in shown
    assert f"collected by {ADMIN_USER}" in shown
    web.api.add_templates("ann", template(1))

    confirm = web.get("/admin/people/ann/consent/withdraw")
    assert confirm.status_code == 200
    assert "Type ann to confirm" in confirm.text
    wrong = web.post("/admin/people/ann/consent/withdraw", {"confirm": "bob"})
    assert wrong.status_code == 422
    assert web.api.admin("GET", "/admin/people/ann").json()["consent"] is not None
    done = web.post("/admin/people/ann/consent/withdraw", {"confirm": "ann"})
    assert done.status_code == 303
    after = web.get(done.headers["location"]).text
    assert "Consent withdrawn; 1 template(s) deleted." in after
    assert 'id="consent-history"' in after
    assert web.api.admin("GET", "/admin/people/ann").json()["templates"] == []
    [row] = [r for r in _audit(web.api, entity="consent") if r.action == "withdraw"]
    assert row.actor == ADMIN_USER
    assert web.post("/admin/people/nobody/consent", {"consent": "yes"}).status_code == 404


def test_web_legacy_person_shows_no_consent_on_record(web: Web) -> None:
    _legacy_person(web.api, "old")
    page = web.get("/admin/people/old").text
    assert "templates enrolled before consent was required stay" in page
    assert 'data-consent="none"' in page


# --- CLI -----------------------------------------------------------------------------------


@pytest.fixture
def hadir(api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """Run a ``hadir`` command in this process against the test app; (exit, stdout, stderr)."""
    transport = api.client._transport
    credentials = AdminCredentials("http://testserver", ADMIN_TOKEN)
    monkeypatch.setattr(
        admin_cli, "_client", lambda _args: AdminClient(credentials, transport=transport)
    )

    def run(*argv: str) -> tuple[int, str, str]:
        args: argparse.Namespace = build_parser().parse_args(list(argv))
        code = int(args.handler(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_person_add_needs_consent_for_photos(hadir: Any, api: Api, tmp_path: Any) -> None:
    photo = tmp_path / "ann.jpg"
    photo.write_bytes(NOT_AN_IMAGE)
    code, out, err = hadir("person", "add", "Ann", "--photo", str(photo), "--photo", str(photo))
    assert code == 1
    assert "rejected (consent_missing)" in err
    assert err.count("rejected") == 1  # the second photo is not tried
    assert "give --consent" in err
    code, out, err = hadir(
        "person", "add", "Ann", "--consent", "--collected-by", "Siti", "--photo", str(photo)
    )
    assert "consent of ann recorded: text version 1, collected by Siti" in out
    assert "rejected (unreadable)" in err  # past consent: the photo itself is judged
    consent = api.admin("GET", "/admin/people/ann").json()["consent"]
    assert (consent["channel"], consent["collected_by"]) == ("cli", "Siti")


def test_cli_person_consent_and_withdraw(hadir: Any, api: Api) -> None:
    api.create_person("ann", consent=False)
    code, out, _ = hadir("person", "consent", "ann", "--version", "2026-12")
    assert code == 0
    assert "text version 2026-12, collected by admin token" in out
    api.add_templates("ann", template(1), template(2))
    code, out, _ = hadir("person", "consent", "ann", "--withdraw")
    assert code == 0
    assert "consent of ann withdrawn (1 consent ended); 2 templates deleted" in out
    assert api.admin("GET", "/admin/people/ann").json()["templates"] == []
