"""Leave and permissions through the admin API (sync_server/leave.py, api/leave.py), on SQLite
and PostgreSQL: kinds, the rules of a leave, the CSV import's report, the audit rows."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync_server import audit, leave
from sync_server.db import Database, leaves
from tests.server.helpers import Api


def _leave(api: Api, **body: Any) -> Any:
    return api.admin("POST", "/admin/leave", json=body)


def _people(api: Api, *ids: str) -> None:
    for person_id in ids:
        api.create_person(person_id)


def _audit(api: Api, entity: str) -> list[audit.AuditEntry]:
    db = Database.from_url(api.config.database_url, pool_size=1)
    try:
        with db.read() as conn:
            return audit.entries(conn, entity=entity, limit=1000)
    finally:
        db.dispose()


def _import(api: Api, text: str, *, dry_run: bool = False, bom: bool = False) -> Any:
    data = ("\ufeff" if bom else "").encode() + text.encode()
    return api.admin(
        "POST",
        "/admin/leave/import",
        params={"dry_run": str(dry_run).lower()},
        content=data,
        headers={"Content-Type": "text/csv"},
    )


def _set_employee_id(api: Api, person_id: str, employee_id: str) -> None:
    answer = api.admin(
        "PATCH", f"/admin/people/{person_id}/attendance", json={"employee_id": employee_id}
    )
    assert answer.status_code == 200, answer.text


# --- kinds --------------------------------------------------------------------------------


def test_the_seeded_kinds_have_english_and_indonesian_labels(api: Api) -> None:
    answer = api.admin("GET", "/admin/leave-kinds")
    assert answer.status_code == 200
    kinds = {k["code"]: (k["label_en"], k["label_id"], k["active"]) for k in answer.json()["kinds"]}
    assert kinds["sick"] == ("Sick", "Sakit", True)
    assert kinds["annual"][1] == "Cuti"
    assert kinds["permission"][1] == "Izin"
    assert set(kinds) == {"sick", "annual", "permission", "duty", "other"}


def test_kind_label_follows_the_language() -> None:
    row = {"code": "sick", "label_en": "Sick", "label_id": "Sakit"}
    assert leave.kind_label(row, "id") == "Sakit"
    assert leave.kind_label(row, "id-ID") == "Sakit"
    assert leave.kind_label(row, "en") == "Sick"
    assert leave.kind_label(row, None) == "Sick"


def test_add_relabel_retire_and_delete_a_kind_with_audit_rows(api: Api) -> None:
    created = api.admin(
        "POST",
        "/admin/leave-kinds",
        json={"code": "maternity", "label_en": "Maternity leave", "label_id": "Cuti melahirkan"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["active"] is True
    again = api.admin(
        "POST", "/admin/leave-kinds", json={"code": "maternity", "label_en": "M", "label_id": "M"}
    )
    assert (again.status_code, again.json()["reason"]) == (409, "leave_kind_exists")
    # A label that names another kind would make the import's lookup ambiguous.
    clash = api.admin(
        "POST", "/admin/leave-kinds", json={"code": "flu", "label_en": "Flu", "label_id": "sakit"}
    )
    assert (clash.status_code, clash.json()["reason"]) == (409, "leave_kind_name_taken")
    relabelled = api.admin(
        "PATCH", "/admin/leave-kinds/maternity", json={"label_id": "Cuti bersalin"}
    )
    assert relabelled.json()["label_id"] == "Cuti bersalin"
    assert relabelled.json()["label_en"] == "Maternity leave"
    retired = api.admin("PATCH", "/admin/leave-kinds/maternity", json={"active": False})
    assert retired.json()["active"] is False
    assert api.admin("DELETE", "/admin/leave-kinds/maternity").status_code == 204
    assert api.admin("DELETE", "/admin/leave-kinds/maternity").status_code == 404
    actions = [(e.action, e.entity_id) for e in reversed(_audit(api, "leave_kind"))]
    assert actions == [
        ("create", "maternity"),
        ("update", "maternity"),
        ("update", "maternity"),
        ("delete", "maternity"),
    ]
    relabel = _audit(api, "leave_kind")[2]
    assert relabel.before is not None
    assert relabel.after is not None
    assert (relabel.before["label_id"], relabel.after["label_id"]) == (
        "Cuti melahirkan",
        "Cuti bersalin",
    )
    assert relabel.actor == audit.API_ACTOR


def test_a_kind_in_use_is_retired_not_deleted_and_old_leave_keeps_it(api: Api) -> None:
    _people(api, "siti")
    first = _leave(api, person="siti", kind="duty", start="2026-11-02", end="2026-11-03")
    assert first.status_code == 201, first.text
    refused = api.admin("DELETE", "/admin/leave-kinds/duty")
    assert (refused.status_code, refused.json()["reason"]) == (409, "leave_kind_in_use")
    assert api.admin("PATCH", "/admin/leave-kinds/duty", json={"active": False}).status_code == 200
    new = _leave(api, person="siti", kind="duty", start="2026-11-10")
    assert (new.status_code, new.json()["reason"]) == (422, "retired_leave_kind")
    by_label = _leave(api, person="siti", kind="Dinas luar", start="2026-11-10")
    assert by_label.json()["reason"] == "retired_leave_kind"
    # The old leave keeps its kind, and can still have its note changed.
    leave_id = first.json()["id"]
    changed = api.admin("PATCH", f"/admin/leave/{leave_id}", json={"note": "Surabaya"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["kind"], changed.json()["note"]) == ("duty", "Surabaya")
    listed = api.admin("GET", "/admin/leave-kinds").json()["kinds"]
    assert {k["code"]: k["in_use"] for k in listed}["duty"] == 1


# --- leave --------------------------------------------------------------------------------


def test_leave_over_a_month_boundary_is_listed_in_both_months(api: Api) -> None:
    _people(api, "siti")
    answer = _leave(
        api, person="siti", kind="sick", start="2026-11-28", end="2026-12-03", note="demam"
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["days"] == 6
    assert (body["kind_label_en"], body["kind_label_id"]) == ("Sick", "Sakit")
    assert body["created_by"] == audit.API_ACTOR
    for first, last in (("2026-11-01", "2026-11-30"), ("2026-12-01", "2026-12-31")):
        found = api.admin("GET", "/admin/leave", params={"from": first, "to": last}).json()
        assert [x["id"] for x in found["leave"]] == [body["id"]]
    january = api.admin("GET", "/admin/leave", params={"from": "2027-01-01", "to": "2027-01-31"})
    assert january.json()["leave"] == []


def test_one_day_leave_without_end_and_filters(api: Api) -> None:
    _people(api, "siti", "budi")
    assert _leave(api, person="siti", kind="permission", start="2026-12-04").json()["days"] == 1
    assert _leave(api, person="budi", kind="sick", start="2026-12-04").status_code == 201
    by_person = api.admin("GET", "/admin/leave", params={"person": "budi"}).json()["leave"]
    assert [x["person_id"] for x in by_person] == ["budi"]
    by_kind = api.admin("GET", "/admin/leave", params={"kind": "Izin"}).json()["leave"]
    assert [(x["person_id"], x["kind"]) for x in by_kind] == [("siti", "permission")]
    backwards = api.admin("GET", "/admin/leave", params={"from": "2026-12-02", "to": "2026-12-01"})
    assert (backwards.status_code, backwards.json()["reason"]) == (422, "bad_range")
    unknown = api.admin("GET", "/admin/leave", params={"kind": "holiday"})
    assert (unknown.status_code, unknown.json()["reason"]) == (422, "unknown_leave_kind")


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"person": "nobody", "kind": "sick", "start": "2026-12-01"}, 404, "unknown_person"),
        ({"person": "siti", "kind": "vacation", "start": "2026-12-01"}, 422, "unknown_leave_kind"),
        (
            {"person": "siti", "kind": "sick", "start": "2026-12-05", "end": "2026-12-04"},
            422,
            "end_before_start",
        ),
        (
            {"person": "siti", "kind": "annual", "start": "2026-01-01", "end": "2027-01-02"},
            422,
            "leave_too_long",
        ),
        ({"person": "siti", "kind": "sick", "start": "2026-12-32"}, 422, "invalid_request"),
        ({"person": "siti", "kind": "sick", "start": 20261201}, 422, "invalid_request"),
    ],
)
def test_leave_is_refused_with_a_reason(
    api: Api, body: dict[str, Any], status: int, reason: str
) -> None:
    _people(api, "siti")
    answer = _leave(api, **body)
    assert (answer.status_code, answer.json()["reason"]) == (status, reason)
    db = Database.from_url(api.config.database_url, pool_size=1)
    try:
        with db.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(leaves)).scalar_one() == 0
    finally:
        db.dispose()


def test_366_days_is_the_longest_leave(api: Api) -> None:
    _people(api, "siti")
    answer = _leave(api, person="siti", kind="other", start="2028-01-01", end="2028-12-31")
    assert answer.status_code == 201, answer.text
    assert answer.json()["days"] == 366


def test_an_overlap_is_refused_naming_the_other_leave(api: Api) -> None:
    _people(api, "siti", "budi")
    first = _leave(api, person="siti", kind="sick", start="2026-12-01", end="2026-12-03").json()
    overlap = _leave(api, person="siti", kind="annual", start="2026-12-03", end="2026-12-05")
    assert overlap.status_code == 409
    assert overlap.json()["reason"] == "leave_overlap"
    assert f"leave {first['id']}" in overlap.json()["detail"]
    assert "sick from 2026-12-01 to 2026-12-03" in overlap.json()["detail"]
    # The day after is free, and another person's leave never overlaps.
    assert _leave(api, person="siti", kind="annual", start="2026-12-04").status_code == 201
    assert _leave(api, person="budi", kind="sick", start="2026-12-02").status_code == 201
    # Moving a leave onto another is refused the same way; moving it onto itself is fine.
    second = _leave(api, person="siti", kind="duty", start="2026-12-10").json()
    moved = api.admin("PATCH", f"/admin/leave/{second['id']}", json={"start": "2026-12-04"})
    assert (moved.status_code, moved.json()["reason"]) == (409, "leave_overlap")
    widened = api.admin(
        "PATCH", f"/admin/leave/{second['id']}", json={"start": "2026-12-09", "end": "2026-12-11"}
    )
    assert widened.status_code == 200, widened.text
    assert widened.json()["days"] == 3


def test_a_person_is_found_by_employee_id(api: Api) -> None:
    _people(api, "siti")
    _set_employee_id(api, "siti", "E-0042")
    answer = _leave(api, person="E-0042", kind="sick", start="2026-12-01")
    assert answer.status_code == 201, answer.text
    assert answer.json()["person_id"] == "siti"
    listed = api.admin("GET", "/admin/leave", params={"person": "E-0042"}).json()["leave"]
    assert [x["id"] for x in listed] == [answer.json()["id"]]


def test_every_change_writes_an_audit_row(api: Api) -> None:
    _people(api, "siti")
    created = _leave(api, person="siti", kind="sick", start="2026-12-01", note="flu").json()
    path = f"/admin/leave/{created['id']}"
    assert api.admin("PATCH", path, json={"end": "2026-12-02"}).status_code == 200
    # A change that changes nothing writes nothing.
    assert api.admin("PATCH", path, json={"end": "2026-12-02"}).status_code == 200
    assert api.admin("DELETE", path).status_code == 204
    assert api.admin("DELETE", path).status_code == 404
    rows = list(reversed(_audit(api, "leave")))
    assert [(r.action, r.entity_id, r.actor) for r in rows] == [
        ("create", str(created["id"]), audit.API_ACTOR),
        ("update", str(created["id"]), audit.API_ACTOR),
        ("delete", str(created["id"]), audit.API_ACTOR),
    ]
    assert rows[0].after is not None
    assert rows[0].after["note"] == "flu"
    assert rows[1].before is not None
    assert rows[1].after is not None
    assert (rows[1].before["end_day"], rows[1].after["end_day"]) == ("2026-12-01", "2026-12-02")
    assert rows[2].before is not None
    assert rows[2].after is None


def test_leave_by_day_gives_the_reports_each_day_and_kind(api: Api) -> None:
    _people(api, "siti", "budi")
    _leave(api, person="siti", kind="sick", start="2026-11-29", end="2026-12-02")
    _leave(api, person="budi", kind="annual", start="2026-12-31", end="2027-01-02")
    db = Database.from_url(api.config.database_url, pool_size=1)
    try:
        with db.read() as conn:
            december = leave.leave_by_day(conn, date(2026, 12, 1), date(2026, 12, 31))
            only_budi = leave.leave_by_day(conn, date(2026, 12, 1), date(2026, 12, 31), ["budi"])
    finally:
        db.dispose()
    assert december == {
        "siti": {date(2026, 12, 1): "sick", date(2026, 12, 2): "sick"},
        "budi": {date(2026, 12, 31): "annual"},
    }
    assert list(only_budi) == ["budi"]


# --- CSV import -----------------------------------------------------------------------------

MIXED_FILE = """person,kind,start,end,note
siti,sick,2026-12-01,2026-12-02,surat dokter
E-0042,Sakit,2026-12-01,,
budi,cuti,2026-12-31,2027-01-02,akhir tahun
hantu,sick,2026-12-01,2026-12-01,
siti,vacation,2026-12-10,2026-12-10,
siti,izin,2026-12-02,2026-12-03,overlaps line 2
budi,izin,2026-12-20,2026-12-19,
budi,izin,2026-12-40,,

budi,duty,2026-12-07,2026-12-07,"Surabaya, two days' training"
"""


def _lines(report: dict[str, Any]) -> list[tuple[int, str, str | None, str | None]]:
    return [(x["line"], x["outcome"], x["reason"], x["value"]) for x in report["lines"]]


EXPECTED = [
    (2, "added", None, None),
    (3, "added", None, None),
    (4, "added", None, None),
    (5, "refused", "unknown_person", "hantu"),
    (6, "refused", "unknown_leave_kind", "vacation"),
    (7, "refused", "leave_overlap", "2026-12-02..2026-12-03"),
    (8, "refused", "end_before_start", "2026-12-19"),
    (9, "refused", "bad_date", "2026-12-40"),
    (11, "added", None, None),
]


def test_the_import_reports_every_line_and_writes_the_good_ones(api: Api) -> None:
    _people(api, "siti", "budi", "rina")
    _set_employee_id(api, "rina", "E-0042")
    dry = _import(api, MIXED_FILE, dry_run=True)
    assert dry.status_code == 200, dry.text
    assert _lines(dry.json()) == EXPECTED
    assert (dry.json()["added"], dry.json()["refused"], dry.json()["dry_run"]) == (4, 5, True)
    assert api.admin("GET", "/admin/leave").json()["leave"] == []
    assert _audit(api, "leave") == []

    real = _import(api, MIXED_FILE, bom=True)
    assert real.status_code == 200, real.text
    report = real.json()
    assert _lines(report) == EXPECTED
    assert report["dry_run"] is False
    by_line = {x["line"]: x for x in report["lines"]}
    # The dry run's report is the real one but for the new ids.
    assert [{**x, "leave_id": None} for x in report["lines"]] == dry.json()["lines"]
    assert (by_line[3]["person_id"], by_line[3]["kind"]) == ("rina", "sick")
    assert "employee id E-0042 is rina" in by_line[3]["detail"]
    assert by_line[4]["kind"] == "annual"
    assert "line 2 of this file" in by_line[7]["detail"]
    assert "no person" in by_line[5]["detail"]
    stored = api.admin("GET", "/admin/leave").json()["leave"]
    assert sorted(x["id"] for x in stored) == sorted(by_line[n]["leave_id"] for n in (2, 3, 4, 11))
    assert {x["note"] for x in stored} == {
        "surat dokter",
        None,
        "akhir tahun",
        "Surabaya, two days' training",
    }
    imported = _audit(api, "leave")
    assert sorted(e.action for e in imported) == ["import"] * 4
    assert {e.actor for e in imported} == {audit.API_ACTOR}


def test_the_import_takes_semicolons_indonesian_headers_and_a_multipart_upload(api: Api) -> None:
    _people(api, "siti")
    text = "Pegawai;Jenis;Mulai;Selesai;Catatan\r\nsiti;Cuti;2026-12-21;2026-12-24;mudik\r\n"
    answer = api.admin(
        "POST",
        "/admin/leave/import",
        files={"file": ("cuti.csv", text.encode("utf-8"), "text/csv")},
    )
    assert answer.status_code == 200, answer.text
    [line] = answer.json()["lines"]
    assert (line["outcome"], line["kind"], line["start"], line["end"]) == (
        "added",
        "annual",
        "2026-12-21",
        "2026-12-24",
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "bad_header"),
        (b"siti,sick,2026-12-01,2026-12-01\n", "bad_header"),
        (b"person,kind,start\nsiti,sick,2026-12-01\n", "bad_header"),
        (b"person,kind,start,end\nsiti,sick,2026-12-01,\xff\n", "not_utf8"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole(api: Api, data: bytes, reason: str) -> None:
    _people(api, "siti")
    answer = api.admin(
        "POST", "/admin/leave/import", content=data, headers={"Content-Type": "text/csv"}
    )
    assert (answer.status_code, answer.json()["reason"]) == (422, reason)
    assert api.admin("GET", "/admin/leave").json()["leave"] == []


def test_the_import_refuses_other_content_types(api: Api) -> None:
    answer = api.admin("POST", "/admin/leave/import", json={"person": "siti"})
    assert answer.status_code == 415


def test_the_admin_token_is_required(api: Api) -> None:
    for method, path in (("GET", "/admin/leave"), ("POST", "/admin/leave/import")):
        answer = api.client.request(method, "/api/v1" + path)
        assert answer.status_code == 401


_NOTE = st.text(
    alphabet=st.characters(
        codec="utf-8", categories=("L", "N", "P", "S", "Zs"), exclude_characters="\r\n"
    ),
    max_size=40,
).map(str.strip)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    plan=st.lists(
        st.tuples(
            st.sampled_from(["siti", "budi"]),
            st.sampled_from(["sick", "annual", "permission", "duty", "other"]),
            st.integers(0, 700),
            st.integers(0, 20),
            _NOTE,
        ),
        max_size=8,
    )
)
def test_export_then_import_gives_the_same_leave(api: Api, plan: list[Any]) -> None:
    """Leave exported as CSV and imported into an empty calendar comes back the same."""
    if api.admin("GET", "/admin/people/siti").status_code == 404:
        _people(api, "siti", "budi")
    for existing in api.admin("GET", "/admin/leave", params={"limit": 10000}).json()["leave"]:
        api.admin("DELETE", f"/admin/leave/{existing['id']}")
    start0 = date(2026, 1, 1).toordinal()
    for person, kind, offset, length, note in plan:
        start = date.fromordinal(start0 + offset)
        end = date.fromordinal(start0 + offset + length)
        _leave(api, person=person, kind=kind, start=str(start), end=str(end), note=note or None)

    def held() -> list[tuple[Any, ...]]:
        rows = api.admin("GET", "/admin/leave", params={"limit": 10000}).json()["leave"]
        return sorted((x["person_id"], x["kind"], x["start"], x["end"], x["note"]) for x in rows)

    before = held()
    exported = api.admin("GET", "/admin/leave/export.csv")
    assert exported.status_code == 200
    for existing in api.admin("GET", "/admin/leave", params={"limit": 10000}).json()["leave"]:
        api.admin("DELETE", f"/admin/leave/{existing['id']}")
    report = _import(api, exported.text).json()
    assert report["refused"] == 0, report
    assert held() == before


def test_two_overlapping_requests_at_once_give_one_leave(api: Api) -> None:
    """The overlap check and the insert are one step per person (the person's row is locked on
    PostgreSQL; SQLite's writes are serial): of many requests at once, one wins."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from edge.clock import utc_now
    from sync_server.domain_errors import ConflictError
    from sync_server.schemas.leave import LeaveCreate

    _people(api, "siti")
    db = Database.from_url(api.config.database_url, pool_size=8)
    start = threading.Barrier(6)

    def enter(day: int) -> str:
        body = LeaveCreate.model_validate(
            {"person": "siti", "kind": "sick", "start": f"2026-12-{day:02d}", "end": "2026-12-10"}
        )
        start.wait()
        try:
            leave.create_leave(db, body, actor="t", now=utc_now())
        except ConflictError as exc:
            return exc.reason
        return "created"

    try:
        with ThreadPoolExecutor(6) as pool:
            outcomes = sorted(pool.map(enter, range(1, 7)))
    finally:
        db.dispose()
    assert outcomes == ["created"] + ["leave_overlap"] * 5
    assert len(api.admin("GET", "/admin/leave").json()["leave"]) == 1


def test_a_persons_leave_is_theirs_only_when_an_employee_id_equals_another_id(api: Api) -> None:
    _people(api, "siti", "budi")
    _set_employee_id(api, "budi", "siti")  # budi's HR number happens to be siti's id
    mine = _leave(api, person="siti", kind="sick", start="2026-12-01").json()
    _leave(api, person="budi", kind="annual", start="2026-12-01")
    listed = api.admin("GET", "/admin/leave", params={"person": "siti"}).json()["leave"]
    assert [x["id"] for x in listed] == [mine["id"]]
    gone = api.admin("GET", "/admin/leave", params={"person": "nobody"}).json()["leave"]
    assert gone == []
