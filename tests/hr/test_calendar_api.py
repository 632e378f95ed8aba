"""The working calendar's admin API: weeks, days off, import; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest

from sync_server import audit
from sync_server.audit import AuditEntry
from sync_server.db import Database
from tests.server.helpers import Api

WEEKS = "/admin/calendar/weeks"
DAYS = "/admin/calendar/days-off"
IMPORT = "/admin/calendar/import"

# The shape of Indonesia's public holidays as calendar programs export them: CRLF, folded
# lines, a multi-day Idul Fitri (DTEND exclusive), Christmas as a yearly rule, a date-time
# event, a weekly rule (refused on its line), and a VALARM inside an event.
HOLIDAYS_ICS = (
    "BEGIN:VCALENDAR\r\n"
    "VERSION:2.0\r\n"
    "PRODID:-//Pemerintah//Hari Libur Nasional//ID\r\n"
    "BEGIN:VEVENT\r\n"  # line 4
    "UID:idulfitri-2026@example.id\r\n"
    "DTSTART;VALUE=DATE:20260320\r\n"
    "DTEND;VALUE=DATE:20260322\r\n"
    "SUMMARY:Hari Raya Idul Fitri 1447 Hijriah (hari pertama dan \r\n"
    " kedua)\r\n"
    "BEGIN:VALARM\r\n"
    "ACTION:DISPLAY\r\n"
    "TRIGGER:-P1D\r\n"
    "END:VALARM\r\n"
    "END:VEVENT\r\n"
    "BEGIN:VEVENT\r\n"  # line 15
    "DTSTART;VALUE=DATE:20201225\r\n"
    "RRULE:FREQ=YEARLY\r\n"
    "SUMMARY:Hari Raya Natal\r\n"
    "END:VEVENT\r\n"
    "BEGIN:VEVENT\r\n"  # line 20
    "DTSTART:20260816T170000Z\r\n"
    "SUMMARY:Hari Kemerdekaan RI\r\n"
    "END:VEVENT\r\n"
    "BEGIN:VEVENT\r\n"  # line 24
    "DTSTART;VALUE=DATE:20260105\r\n"
    "RRULE:FREQ=WEEKLY;BYDAY=MO\r\n"  # line 26
    "SUMMARY:Rapat mingguan\r\n"
    "END:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


@contextmanager
def _db(api: Api) -> Iterator[Database]:
    db = Database.from_url(api.config.database_url, pool_size=1)
    try:
        yield db
    finally:
        db.dispose()


def _audit(api: Api, entity: str) -> list[AuditEntry]:
    with _db(api) as db, db.read() as conn:
        return audit.entries(conn, entity=entity, limit=1000)


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _create_shift_for(api: Api, group: str) -> int:
    shift = _ok(
        api.admin("POST", "/admin/shifts", json={"name": "pagi", "start": "07:00", "end": "15:00"}),
        201,
    )
    _ok(api.admin("PUT", f"/admin/groups/{group}/shift", json={"shift_id": shift["id"]}))
    return int(shift["id"])


def test_weeks_list_every_group_with_its_week_and_shift(api: Api) -> None:
    api.create_person("budi", group="pabrik")
    api.create_terminal("gate-1", group="kantor")
    shift_id = _create_shift_for(api, "pabrik")
    weeks = {w["group"]: w for w in _ok(api.admin("GET", WEEKS))["weeks"]}
    assert list(weeks)[:1] == ["*"]
    assert set(weeks) == {"*", "pabrik", "kantor"}
    assert weeks["*"]["weekdays"] == "1111100"
    assert weeks["*"]["own"] is False
    assert weeks["pabrik"]["shift"]["id"] == shift_id
    assert weeks["pabrik"]["shift"]["start"] == "07:00:00"
    assert weeks["kantor"]["shift"] is None

    site = _ok(api.admin("PUT", f"{WEEKS}/*", json={"weekdays": "Mon-Sat"}))
    assert (site["weekdays"], site["described"], site["own"]) == ("1111110", "Mon-Sat", True)
    assert site["updated_by"] == audit.API_ACTOR
    office = _ok(api.admin("PUT", f"{WEEKS}/kantor", json={"weekdays": "1111100"}))
    assert office["own"] is True
    weeks = {w["group"]: w for w in _ok(api.admin("GET", WEEKS))["weeks"]}
    assert weeks["pabrik"]["weekdays"] == "1111110"  # the site's default now
    assert weeks["pabrik"]["own"] is False
    assert weeks["kantor"]["described"] == "Mon-Fri"

    _ok(api.admin("DELETE", f"{WEEKS}/kantor"), 204)
    weeks = {w["group"]: w for w in _ok(api.admin("GET", WEEKS))["weeks"]}
    assert (weeks["kantor"]["weekdays"], weeks["kantor"]["own"]) == ("1111110", False)
    gone = api.admin("DELETE", f"{WEEKS}/kantor")
    assert gone.status_code == 404
    assert gone.json()["reason"] == "unknown_week"

    rows = _audit(api, "work_week")
    assert [(r.action, r.entity_id) for r in reversed(rows)] == [
        ("create", "*"),
        ("create", "kantor"),
        ("delete", "kantor"),
    ]
    assert all(r.actor == audit.API_ACTOR for r in rows)
    assert rows[-1].after == {"group": "*", "weekdays": "1111110"}
    assert rows[0].before == {"group": "kantor", "weekdays": "1111100"}


def test_setting_the_same_week_again_changes_and_audits_nothing(api: Api) -> None:
    _ok(api.admin("PUT", f"{WEEKS}/pabrik", json={"weekdays": "Mon-Sat"}))
    _ok(api.admin("PUT", f"{WEEKS}/pabrik", json={"weekdays": "1111110"}))
    changed = _ok(api.admin("PUT", f"{WEEKS}/pabrik", json={"weekdays": "Mon-Fri"}))
    assert changed["weekdays"] == "1111100"
    rows = _audit(api, "work_week")
    assert [r.action for r in reversed(rows)] == ["create", "update"]
    assert rows[0].before == {"group": "pabrik", "weekdays": "1111110"}


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        (f"{WEEKS}/pabrik", {"weekdays": "Mon-Funday"}, "not a week"),
        (f"{WEEKS}/pabrik", {"weekdays": "0000000"}, "at least one working day"),
    ],
)
def test_a_bad_week_is_one_clear_422(api: Api, path: str, body: dict[str, str], where: str) -> None:
    response = api.admin("PUT", path, json=body)
    assert response.status_code == 422
    assert response.json()["reason"] == "bad_week"
    assert where in response.json()["detail"]
    assert _audit(api, "work_week") == []


def test_a_bad_group_name_is_refused_by_the_path(api: Api) -> None:
    response = api.admin("PUT", f"{WEEKS}/-bad", json={"weekdays": "Mon-Fri"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "group"]


def test_days_off_add_a_range_rename_delete_with_audit(api: Api) -> None:
    lebaran = {
        "day": "2026-03-18",
        "to": "2026-03-24",
        "kind": "day_off",
        "name": "Cuti bersama Lebaran",
    }
    added = _ok(api.admin("POST", DAYS, json=lebaran), 201)["days_off"]
    assert [d["day"] for d in added] == [f"2026-03-{n}" for n in range(18, 25)]
    assert {d["kind"] for d in added} == {"day_off"}
    assert added[0]["weekday"] == "Wed"
    assert added[0]["created_by"] == audit.API_ACTOR

    clash = api.admin("POST", DAYS, json={"day": "2026-03-24", "to": "2026-03-25", "name": "x"})
    assert clash.status_code == 409
    assert clash.json()["reason"] == "day_off_exists"
    assert "2026-03-24 (Cuti bersama Lebaran)" in clash.json()["detail"]
    assert len(_ok(api.admin("GET", DAYS))["days_off"]) == 7  # nothing of the range added

    renamed = _ok(
        api.admin("PATCH", f"{DAYS}/2026-03-20", json={"name": "Idul Fitri", "kind": "holiday"})
    )
    assert (renamed["name"], renamed["kind"]) == ("Idul Fitri", "holiday")
    _ok(api.admin("DELETE", f"{DAYS}/2026-03-24"), 204)
    missing = api.admin("DELETE", f"{DAYS}/2026-03-24")
    assert missing.status_code == 404
    assert missing.json()["reason"] == "unknown_day_off"
    assert api.admin("PATCH", f"{DAYS}/2027-01-01", json={"name": "x"}).status_code == 404

    _ok(api.admin("POST", DAYS, json={"day": "2027-01-01", "name": "Tahun Baru"}), 201)
    in_2026 = _ok(api.admin("GET", DAYS, params={"year": 2026}))["days_off"]
    assert [d["day"] for d in in_2026] == [f"2026-03-{n}" for n in range(18, 24)]
    assert len(_ok(api.admin("GET", DAYS))["days_off"]) == 7

    rows = list(reversed(_audit(api, "day_off")))
    assert [r.action for r in rows] == ["create"] * 7 + ["update", "delete", "create"]
    update = rows[7]
    assert update.entity_id == "2026-03-20"
    assert update.before == {"day": "2026-03-20", "kind": "day_off", "name": "Cuti bersama Lebaran"}
    assert update.after == {"day": "2026-03-20", "kind": "holiday", "name": "Idul Fitri"}
    assert rows[8].before is not None
    assert rows[8].after is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"day": "2026-13-01", "name": "x"}, "day"),
        ({"day": "2026-03-18", "name": "   "}, "name"),
        ({"day": "2026-03-18", "name": "x", "kind": "vacation"}, "kind"),
        ({"day": "2026-03-18", "to": "2026-03-17", "name": "x"}, None),
        ({"day": "2026-01-01", "to": "2027-06-01", "name": "x"}, None),
        ({"day": "9999-12-31", "name": "x"}, "day"),
    ],
)
def test_a_bad_day_off_is_refused_naming_its_field(
    api: Api, body: dict[str, str], field: str | None
) -> None:
    response = api.admin("POST", DAYS, json=body)
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert problem["loc"][:2] == (["body", field] if field else ["body"])
    assert _ok(api.admin("GET", DAYS))["days_off"] == []


def test_the_days_off_csv_reads_back_as_the_same_days(api: Api) -> None:
    _ok(api.admin("POST", DAYS, json={"day": "2026-12-25", "name": 'Natal, "Christmas"'}), 201)
    _ok(api.admin("POST", DAYS, json={"day": "2026-12-24", "kind": "day_off", "name": "Cuti"}), 201)
    response = api.admin("GET", f"{DAYS}.csv", params={"year": 2026})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines()[:2] == ["date,name,kind", "2026-12-24,Cuti,day_off"]
    again = _ok(
        api.admin("POST", IMPORT, content=response.content, headers={"Content-Type": "text/csv"})
    )
    assert (again["format"], again["unchanged"], again["added"]) == ("csv", 2, 0)


def _import(api: Api, text: str, name: str = "libur.ics", **params: Any) -> Any:
    return api.admin(
        "POST",
        IMPORT,
        params=params,
        files={"file": (name, text.encode(), "application/octet-stream")},
    )


def test_an_ics_import_reports_every_line_and_a_second_import_changes_nothing(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(site_timezone="Asia/Jakarta")
    preview = _ok(_import(api, HOLIDAYS_ICS, year=2026, dry_run="true"))
    assert preview["dry_run"] is True
    assert _ok(api.admin("GET", DAYS))["days_off"] == []
    assert _audit(api, "day_off") == []

    report = _ok(_import(api, HOLIDAYS_ICS, year=2026))
    assert report["lines"] == preview["lines"]  # the preview said what the import did
    assert (report["format"], report["dry_run"], report["year"]) == ("ics", False, 2026)
    assert (report["added"], report["updated"], report["unchanged"], report["refused"]) == (
        4,
        0,
        0,
        1,
    )
    lines = [(x["line"], x["day"], x["outcome"], x["reason"]) for x in report["lines"]]
    assert lines == [
        (4, "2026-03-20", "added", None),
        (4, "2026-03-21", "added", None),
        (15, "2026-12-25", "added", None),
        # 17:00 UTC on the 16th is midnight of the 17th in Jakarta (the site's zone).
        (20, "2026-08-17", "added", None),
        (26, None, "refused", "unsupported_rule"),
    ]
    assert "FREQ=WEEKLY" in report["lines"][-1]["detail"]
    names = {d["day"]: d["name"] for d in _ok(api.admin("GET", DAYS))["days_off"]}
    assert names["2026-03-20"] == "Hari Raya Idul Fitri 1447 Hijriah (hari pertama dan kedua)"

    again = _ok(_import(api, HOLIDAYS_ICS, year=2026))
    assert (again["added"], again["updated"], again["unchanged"]) == (0, 0, 4)
    rows = _audit(api, "day_off")
    assert len(rows) == 4
    assert {r.action for r in rows} == {"import"}
    assert {r.actor for r in rows} == {audit.API_ACTOR}


def test_an_import_updates_a_name_that_changed_and_says_so(api: Api) -> None:
    _ok(api.admin("POST", DAYS, json={"day": "2026-12-25", "name": "Christmas"}), 201)
    csv_text = (
        "date,name,kind\n2026-12-25,Hari Raya Natal,holiday\n2026-12-26,Cuti bersama,day_off\n"
    )
    preview = _ok(_import(api, csv_text, "libur.csv", dry_run="true"))
    assert [x["outcome"] for x in preview["lines"]] == ["updated", "added"]
    assert "'Christmas'" in preview["lines"][0]["detail"]
    assert _ok(api.admin("GET", DAYS))["days_off"][0]["name"] == "Christmas"
    report = _ok(_import(api, csv_text, "libur.csv"))
    assert (report["format"], report["updated"], report["added"]) == ("csv", 1, 1)
    update = next(
        r for r in _audit(api, "day_off") if r.entity_id == "2026-12-25" and r.action == "import"
    )
    assert update.before == {"day": "2026-12-25", "kind": "holiday", "name": "Christmas"}
    assert update.after == {"day": "2026-12-25", "kind": "holiday", "name": "Hari Raya Natal"}


def test_a_csv_import_refuses_bad_lines_one_by_one_and_imports_the_rest(api: Api) -> None:
    csv_text = (
        "2026-01-01,Tahun Baru Masehi\n"
        "2026-02-30,Hari yang tidak ada\n"
        "2026-02-17,,holiday\n"
        "2026-08-17,Hari Kemerdekaan,festival\n"
        "2026-01-01,Tahun Baru lagi\n"
    )
    report = _ok(api.admin("POST", IMPORT, content=csv_text, headers={"Content-Type": "text/csv"}))
    assert [(x["line"], x["outcome"], x["reason"]) for x in report["lines"]] == [
        (1, "added", None),
        (2, "refused", "bad_date"),
        (3, "refused", "empty_name"),
        (4, "refused", "unknown_kind"),
        (5, "refused", "duplicate_in_file"),
    ]
    assert "line 1" in report["lines"][-1]["detail"]
    assert [d["day"] for d in _ok(api.admin("GET", DAYS))["days_off"]] == ["2026-01-01"]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20260101\r\nEND:VCALENDAR\r\n", 4, "closes"),
        ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\n", 2, "never closed"),
        ("BEGIN:VCALENDAR\r\nthis is not a property\r\nEND:VCALENDAR\r\n", 2, "NAME:value"),
    ],
)
def test_a_file_that_cannot_be_read_is_one_422_naming_its_line(
    api: Api, text: str, line: int, words: str
) -> None:
    response = _import(api, text)
    assert response.status_code == 422
    body = response.json()
    assert body["reason"] == "bad_calendar_file"
    assert body["detail"].startswith(f"line {line}: ")
    assert words in body["detail"]
    assert _ok(api.admin("GET", DAYS))["days_off"] == []


def test_a_file_that_is_not_utf8_names_the_line_of_its_first_bad_byte(api: Api) -> None:
    data = b"2026-01-01,Tahun Baru\n2026-12-25,Natal\n2026-12-26,Cuti \xe9\n"
    response = api.admin("POST", IMPORT, content=data, headers={"Content-Type": "text/csv"})
    assert response.status_code == 422
    assert response.json()["detail"] == "line 3: the file is not UTF-8 text"


def test_an_import_without_a_file_is_refused_clearly(api: Api) -> None:
    assert api.admin("POST", IMPORT, json={"x": 1}).status_code == 415
    response = api.admin("POST", IMPORT, files={"other": ("a.csv", b"x", "text/csv")})
    assert response.status_code == 422
    assert response.json()["reason"] == "missing_file"


def test_a_yearly_rule_is_expanded_for_the_year_asked_for(api: Api) -> None:
    report = _ok(_import(api, HOLIDAYS_ICS, year=2027, dry_run="true"))
    christmas = next(x for x in report["lines"] if x["line"] == 15)
    assert christmas["day"] == "2027-12-25"
    before = _ok(_import(api, HOLIDAYS_ICS, year=2019, dry_run="true"))
    refused = next(x for x in before["lines"] if x["line"] == 17)
    assert (refused["outcome"], refused["reason"]) == ("refused", "no_occurrence")


def test_the_calendar_needs_the_admin_token(api: Api) -> None:
    for method, path in (("GET", WEEKS), ("GET", DAYS), ("POST", IMPORT)):
        response = api.client.request(method, "/api/v1" + path)
        assert response.status_code == 401


def test_concurrent_first_weeks_and_days_off_clash_as_409_never_500(api: Api) -> None:
    """Eight requests at once setting a group's first week, and adding the same day off: on
    PostgreSQL the losers' inserts hit the unique key after their check; they get a 409 (or
    find the week set), never a server error."""

    def week(n: int) -> int:
        body = {"weekdays": "Mon-Sat" if n % 2 else "Mon-Fri"}
        return api.admin("PUT", f"{WEEKS}/pabrik", json=body).status_code

    def day_off(_n: int) -> int:
        body = {"day": "2026-08-17", "name": "HUT RI"}
        return api.admin("POST", DAYS, json=body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        weeks = list(pool.map(week, range(8)))
        days = list(pool.map(day_off, range(8)))
    assert set(weeks) <= {200, 409}
    assert 200 in weeks
    assert sorted(days).count(201) == 1
    assert set(days) == {201, 409}
    assert len(_audit(api, "day_off")) == 1
