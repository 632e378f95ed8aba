"""The Calendar page (/admin/calendar): weeks, days off, import; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable

from sync_server import audit
from sync_server.db import Database
from tests.web.conftest import ADMIN_USER, Web
from tests.web.conftest import make_web as make_web  # the web pages' fixtures, reused
from tests.web.conftest import web as web

PAGE = "/admin/calendar"


def _row(html: str, attribute: str, value: str) -> str:
    found = re.search(rf'<(tr|li) [^>]*{attribute}="{re.escape(value)}".*?</\1>', html, re.S)
    assert found is not None, f"no row {attribute}={value}"
    return found.group(0)


def _audit(web: Web, entity: str) -> list[audit.AuditEntry]:
    db = Database.from_url(web.config.database_url, pool_size=1)
    try:
        with db.read() as conn:
            return audit.entries(conn, entity=entity)
    finally:
        db.dispose()


def test_the_page_needs_a_login(make_web: Callable[..., Web]) -> None:
    anonymous = make_web()
    response = anonymous.get(PAGE, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/login?next=")
    assert anonymous.client.post(
        f"{PAGE}/days-off", data={}, follow_redirects=False
    ).status_code in (
        303,
        403,
    )


def test_the_weeks_show_every_group_and_a_week_is_set_and_unset(web: Web) -> None:
    web.api.create_person("budi", group="pabrik")
    web.api.create_terminal("gerbang", group="kantor")
    page = web.get(PAGE)
    assert page.status_code == 200
    assert 'data-group="*" data-weekdays="1111100"' in page.text
    assert "pabrik" in page.text
    assert "kantor" in page.text

    # Six ticked boxes of one name: a list, which Web.post's plain form does not take.
    ticked = {"day": ["0", "1", "2", "3", "4", "5"], "year": "2026", "action": "save"}
    saved = web.client.post(
        f"{PAGE}/weeks/pabrik", data={"csrf_token": web.csrf, **ticked}, follow_redirects=False
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{PAGE}?year=2026&done=week_saved"
    after = web.get(saved.headers["location"])
    assert 'id="calendar-done"' in after.text
    row = _row(after.text, "data-group", "pabrik")
    assert 'data-weekdays="1111110"' in row
    assert "Mon-Sat" in row
    assert "Use the default" in row

    unset = web.post(f"{PAGE}/weeks/pabrik", data={"action": "unset", "year": "2026"})
    assert unset.status_code == 303
    assert 'data-weekdays="1111100"' in _row(web.get(PAGE).text, "data-group", "pabrik")
    rows = _audit(web, "work_week")
    assert [(r.action, r.actor) for r in reversed(rows)] == [
        ("create", ADMIN_USER),
        ("delete", ADMIN_USER),
    ]


def test_a_week_without_a_working_day_is_refused_on_the_page(web: Web) -> None:
    response = web.post(f"{PAGE}/weeks/*", data={"action": "save"})
    assert response.status_code == 422
    assert 'id="calendar-problem"' in response.text
    assert "at least one working day" in response.text
    assert _audit(web, "work_week") == []


def test_days_off_are_added_renamed_and_deleted_from_the_page(web: Web) -> None:
    added = web.post(
        f"{PAGE}/days-off",
        data={"day": "2026-03-18", "to": "2026-03-20", "kind": "day_off", "name": "Cuti bersama"},
    )
    assert added.status_code == 303
    assert added.headers["location"] == f"{PAGE}?year=2026&done=days_added"
    page = web.get(f"{PAGE}?year=2026").text
    for day in ("2026-03-18", "2026-03-19", "2026-03-20"):
        assert 'data-kind="day_off"' in _row(page, "data-day", day)
    assert "Cuti bersama" in page
    assert 'data-day="2026-03-18"' not in web.get(f"{PAGE}?year=2027").text

    renamed = web.post(
        f"{PAGE}/days-off/2026-03-20",
        data={"name": "Hari Raya Idul Fitri", "kind": "holiday", "year": "2026"},
    )
    assert renamed.status_code == 303
    row = _row(web.get(f"{PAGE}?year=2026").text, "data-day", "2026-03-20")
    assert 'data-kind="holiday"' in row
    assert "Hari Raya Idul Fitri" in row

    deleted = web.post(f"{PAGE}/days-off/2026-03-19/delete", data={"year": "2026"})
    assert deleted.status_code == 303
    assert 'data-day="2026-03-19"' not in web.get(f"{PAGE}?year=2026").text
    rows = list(reversed(_audit(web, "day_off")))
    assert [r.action for r in rows] == ["create", "create", "create", "update", "delete"]
    assert {r.actor for r in rows} == {ADMIN_USER}

    csv = web.get(f"{PAGE}/days-off.csv?year=2026")
    assert csv.status_code == 200
    assert csv.text.splitlines() == [
        "date,name,kind",
        "2026-03-18,Cuti bersama,day_off",
        "2026-03-20,Hari Raya Idul Fitri,holiday",
    ]


def test_a_refused_day_off_keeps_what_was_typed_and_says_why(web: Web) -> None:
    web.post(f"{PAGE}/days-off", data={"day": "2026-12-25", "name": "Natal"})
    clash = web.post(
        f"{PAGE}/days-off", data={"day": "2026-12-24", "to": "2026-12-26", "name": "Cuti Natal"}
    )
    assert clash.status_code == 409
    assert "2026-12-25 (Natal)" in clash.text
    assert 'value="Cuti Natal"' in clash.text
    empty = web.post(f"{PAGE}/days-off", data={"day": "2026-12-24", "name": "  "})
    assert empty.status_code == 422
    assert "name" in empty.text
    missing = web.post(f"{PAGE}/days-off/2026-01-02/delete", data={})
    assert missing.status_code == 404
    assert "no day off on 2026-01-02" in missing.text


def test_an_import_is_previewed_then_done_with_its_report(web: Web) -> None:
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
        "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\nSUMMARY:Hari Raya Natal\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260101\r\nRRULE:FREQ=DAILY\r\nSUMMARY:x\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    files = {"file": ("libur.ics", ics.encode(), "text/calendar")}
    preview = web.post(f"{PAGE}/import", data={"action": "preview", "year": "2026"}, files=files)
    assert preview.status_code == 200
    assert 'data-dry-run="yes"' in preview.text
    assert 'data-outcome="added" data-line="3"' in preview.text
    assert 'data-outcome="refused" data-line="9"' in preview.text
    assert "FREQ=DAILY" in preview.text
    assert 'data-day="2026-12-25"' not in web.get(f"{PAGE}?year=2026").text

    done = web.post(f"{PAGE}/import", data={"action": "import", "year": "2026"}, files=files)
    assert done.status_code == 200
    assert 'data-dry-run="no"' in done.text
    assert 'data-day="2026-12-25"' in done.text
    rows = _audit(web, "day_off")
    assert [(r.action, r.entity_id, r.actor) for r in rows] == [
        ("import", "2026-12-25", ADMIN_USER)
    ]
    again = web.post(f"{PAGE}/import", data={"action": "import", "year": "2026"}, files=files)
    assert 'data-outcome="unchanged" data-line="3"' in again.text
    assert len(_audit(web, "day_off")) == 1


def test_an_unreadable_file_or_none_is_one_problem_on_the_page(web: Web) -> None:
    files = {"file": ("x.ics", b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n", "text/calendar")}
    broken = web.post(f"{PAGE}/import", data={"action": "import"}, files=files)
    assert broken.status_code == 422
    assert "line 2: BEGIN:VEVENT is never closed" in broken.text
    none = web.post(
        f"{PAGE}/import", data={"action": "import"}, files={"file": ("", b"", "text/csv")}
    )
    assert none.status_code == 422
    assert "Choose a file" in none.text


def test_a_bad_year_is_a_clear_page_and_forms_carry_the_csrf_token(web: Web) -> None:
    response = web.get(f"{PAGE}?year=20x6")
    assert response.status_code == 422
    assert "Not a year: 20x6." in response.text
    forged = web.client.post(
        f"{PAGE}/days-off",
        data={"csrf_token": "forged", "day": "2026-01-01", "name": "x"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert _audit(web, "day_off") == []


def test_the_page_speaks_indonesian_to_an_indonesian_browser(web: Web) -> None:
    web.post(f"{PAGE}/days-off", data={"day": "2026-08-17", "name": "Hari Kemerdekaan"})
    page = web.get(f"{PAGE}?year=2026", headers={"Accept-Language": "id-ID,id;q=0.9"})
    assert page.status_code == 200
    assert '<html lang="id"' in page.text
    # Dates in the locale's form (the ISO date stays in the markup for machines).
    assert '<time datetime="2026-08-17">17 Agu 2026</time>' in page.text
    english = web.get(f"{PAGE}?year=2026", headers={"Accept-Language": "en-US"})
    assert '<time datetime="2026-08-17">Aug 17, 2026</time>' in english.text
