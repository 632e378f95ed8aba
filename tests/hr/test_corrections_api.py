"""Corrections through the admin API (docs/corrections.md), on SQLite and PostgreSQL: an added
punch, a voided event, revocation, every refusal, and the raw events left untouched."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from sync_server.db import Database, corrections, epoch_us, events
from tests.server.helpers import Api, batch, event

JAKARTA = ZoneInfo("Asia/Jakarta")
# The terminal t1 of each test's app, registered at its first punch.
_tokens: dict[str, str] = {}


def _site(make_api: Callable[..., Api], zone: str = "Asia/Jakarta") -> Api:
    api = make_api(site_timezone=zone)
    api.create_person("ani", name="Ani")
    api.create_person("budi", name="Budi")
    return api


def _yesterday() -> date:
    return datetime.now(JAKARTA).date() - timedelta(days=1)


def _punch(api: Api, person: str, at: datetime, kind: str = "in") -> str:
    """A terminal's event of ``person`` at ``at``; returns its id."""
    key = api.config.database_url  # one database per test
    token = _tokens.get(key) or _tokens.setdefault(key, api.create_terminal("t1"))
    body = event("t1", person, wall_time=at, kind=kind)
    answer = api.post_batch(token, batch("t1", [body]))
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["status"] == "accepted", answer.text
    return str(body["id"])


def _add(api: Api, **fields: Any) -> Any:
    body = {
        "action": "add",
        "person_id": "ani",
        "kind": "out",
        "day": _yesterday().isoformat(),
        "time": "17:05",
        "reason": "forgot to check out, confirmed by her manager",
    } | fields
    return api.admin("POST", "/admin/corrections", json=body)


def _void(api: Api, event_id: str, **fields: Any) -> Any:
    body = {"action": "void", "event_id": event_id, "reason": "a colleague's face"} | fields
    return api.admin("POST", "/admin/corrections", json=body)


def _events(api: Api) -> list[Any]:
    db = Database.from_url(api.config.database_url, pool_size=1)
    try:
        with db.read() as conn:
            return [tuple(r) for r in conn.execute(sa.select(events).order_by(events.c.id))]
    finally:
        db.dispose()


def _audit(api: Api, **params: Any) -> list[dict[str, Any]]:
    answer = api.admin("GET", "/admin/audit", params=params)
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()["entries"]
    return entries


def test_an_added_check_out_is_stored_in_utc_at_the_site_clock_with_an_audit_row(
    make_api: Callable[..., Api],
) -> None:
    api = _site(make_api)
    day = _yesterday()
    answer = _add(api, day=day.isoformat(), time="17:05")
    assert answer.status_code == 201, answer.text
    made = answer.json()
    at = datetime.combine(day, datetime.min.time().replace(hour=17, minute=5), JAKARTA)
    assert made["action"] == "add"
    assert made["kind"] == "out"
    assert made["live"] is True
    assert datetime.fromisoformat(made["at"]) == at
    assert made["at"].endswith("+07:00")  # the site's offset, as the reports answer
    assert made["created_by"] == "admin token"
    assert made["person_name"] == "Ani"
    db = Database.from_url(api.config.database_url, pool_size=1)
    try:
        with db.read() as conn:
            row = conn.execute(sa.select(corrections)).one()
    finally:
        db.dispose()
    assert row.at == at.astimezone(UTC)
    assert row.effective_us == epoch_us(at)
    [entry] = _audit(api, entity="correction")
    assert (entry["actor"], entry["action"], entry["entity_id"]) == (
        "admin token",
        "create",
        str(made["id"]),
    )
    assert entry["before"] is None
    assert entry["after"]["reason"] == "forgot to check out, confirmed by her manager"
    assert entry["after"]["effective_us"] == epoch_us(at)


def test_adding_is_refused_for_an_unknown_person_a_future_time_or_no_reason(
    make_api: Callable[..., Api],
) -> None:
    api = _site(make_api)
    unknown = _add(api, person_id="nobody")
    assert (unknown.status_code, unknown.json()["reason"]) == (404, "unknown_person")
    tomorrow = datetime.now(JAKARTA).date() + timedelta(days=1)
    future = _add(api, day=tomorrow.isoformat())
    assert (future.status_code, future.json()["reason"]) == (422, "future_time")
    assert "in the future" in future.json()["detail"]
    for reason in ("", "  ", "ok", "x" * 501):
        refused = _add(api, reason=reason)
        assert refused.status_code == 422, reason
        assert refused.json()["reason"] == "invalid_request"
        assert refused.json()["detail"][0]["loc"][-1] == "reason"
    missing = api.admin(
        "POST",
        "/admin/corrections",
        json={"action": "add", "person_id": "ani", "kind": "in", "day": "2026-11-02"},
    )
    assert missing.status_code == 422
    bad_kind = _add(api, kind="lunch")
    assert bad_kind.status_code == 422
    assert api.admin("GET", "/admin/corrections").json()["corrections"] == []
    assert _audit(api, entity="correction") == []


def test_a_time_the_clocks_skip_is_refused(make_api: Callable[..., Api]) -> None:
    api = _site(make_api, "Europe/Berlin")
    # 29 March 2026, 02:00 -> 03:00 in Berlin: 02:30 never happened.
    skipped = _add(api, day="2026-03-29", time="02:30")
    assert (skipped.status_code, skipped.json()["reason"]) == (422, "no_such_time")
    assert _add(api, day="2026-03-29", time="03:30").status_code == 201


def test_an_add_within_a_minute_of_a_punch_of_the_same_kind_is_refused_naming_it(
    make_api: Callable[..., Api],
) -> None:
    api = _site(make_api)
    day = _yesterday()
    out_at = datetime.combine(day, datetime.min.time().replace(hour=17), JAKARTA)
    event_id = _punch(api, "ani", out_at.astimezone(UTC), kind="out")
    clash = _add(api, day=day.isoformat(), time="17:00:50")
    assert (clash.status_code, clash.json()["reason"]) == (409, "duplicate_event")
    assert event_id in clash.json()["detail"]
    # Another kind, or more than a minute away, is another punch.
    assert _add(api, day=day.isoformat(), time="17:00:30", kind="in").status_code == 201
    first = _add(api, day=day.isoformat(), time="17:02")
    assert first.status_code == 201
    again = _add(api, day=day.isoformat(), time="17:02:40")
    assert (again.status_code, again.json()["reason"]) == (409, "duplicate_correction")
    assert f"correction {first.json()['id']}" in again.json()["detail"]
    # Once the clashing ones are voided or revoked they no longer count.
    assert _void(api, event_id).status_code == 201
    assert _add(api, day=day.isoformat(), time="17:00:20").status_code == 201
    revoked = api.admin(
        "POST",
        f"/admin/corrections/{first.json()['id']}/revoke",
        json={"reason": "entered twice"},
    )
    assert revoked.status_code == 200
    assert _add(api, day=day.isoformat(), time="17:02:30").status_code == 201


def test_voiding_names_the_event_and_leaves_it_untouched(make_api: Callable[..., Api]) -> None:
    api = _site(make_api)
    at = datetime.now(UTC) - timedelta(hours=3)
    event_id = _punch(api, "ani", at)
    before = _events(api)
    answer = _void(api, event_id, person_id="ani")
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert made["action"] == "void"
    assert made["person_id"] == "ani"
    assert made["event"]["id"] == event_id
    assert made["event"]["device_id"] == "t1"
    assert made["kind"] is None
    assert made["at"] is None
    assert _events(api) == before  # the raw event is exactly as the terminal sent it
    [entry] = _audit(api, entity="correction", entity_id=str(made["id"]))
    assert entry["action"] == "void"
    assert entry["after"]["event_id"] == event_id
    assert entry["after"]["event"]["device_id"] == "t1"
    # Nothing is written about the event itself.
    assert _audit(api, entity="event") == []


def test_voiding_is_refused_for_unknown_other_persons_or_voided_events(
    make_api: Callable[..., Api],
) -> None:
    api = _site(make_api)
    event_id = _punch(api, "ani", datetime.now(UTC) - timedelta(hours=2))
    unknown = _void(api, str(uuid.uuid4()))
    assert (unknown.status_code, unknown.json()["reason"]) == (404, "unknown_event")
    other = _void(api, event_id, person_id="budi")
    assert (other.status_code, other.json()["reason"]) == (409, "other_person")
    assert "ani" in other.json()["detail"]
    first = _void(api, event_id)
    assert first.status_code == 201
    twice = _void(api, event_id)
    assert (twice.status_code, twice.json()["reason"]) == (409, "already_voided")
    assert f"correction {first.json()['id']}" in twice.json()["detail"]
    bad = api.admin(
        "POST", "/admin/corrections", json={"action": "void", "event_id": "x", "reason": "abc"}
    )
    assert bad.status_code == 422
    # Revoked, the void no longer counts, and the event can be voided again.
    revoke = api.admin(
        "POST", f"/admin/corrections/{first.json()['id']}/revoke", json={"reason": "it was her"}
    )
    assert revoke.status_code == 200
    assert _void(api, event_id).status_code == 201


def test_revoke_once_with_a_reason_in_the_audit_row(make_api: Callable[..., Api]) -> None:
    api = _site(make_api)
    made = _add(api).json()
    path = f"/admin/corrections/{made['id']}/revoke"
    assert api.admin("POST", path, json={"reason": "no"}).status_code == 422
    answer = api.admin("POST", path, json={"reason": "she did check out, terminal was late"})
    assert answer.status_code == 200, answer.text
    revoked = answer.json()
    assert revoked["live"] is False
    assert revoked["revoked_by"] == "admin token"
    assert revoked["revoked_at"].endswith("+07:00")
    again = api.admin("POST", path, json={"reason": "once more"})
    assert (again.status_code, again.json()["reason"]) == (409, "already_revoked")
    missing = api.admin("POST", "/admin/corrections/999/revoke", json={"reason": "none"})
    assert (missing.status_code, missing.json()["reason"]) == (404, "unknown_correction")
    entries = _audit(api, entity="correction")
    assert [e["action"] for e in entries] == ["revoke", "create"]
    assert entries[0]["before"]["revoked_at"] is None
    assert entries[0]["after"]["revoke_reason"] == "she did check out, terminal was late"
    assert entries[0]["after"]["revoked_by"] == "admin token"
    # Listed still, and one by one.
    one = api.admin("GET", f"/admin/corrections/{made['id']}").json()
    assert one["live"] is False
    live = api.admin("GET", "/admin/corrections", params={"include_revoked": "false"}).json()
    assert live["corrections"] == []


def test_the_list_filters_by_person_and_days_and_pages_back(
    make_api: Callable[..., Api],
) -> None:
    api = _site(make_api)
    today = datetime.now(JAKARTA).date()
    days = [today - timedelta(days=n) for n in (1, 2, 3)]
    for day in days:
        assert _add(api, day=day.isoformat(), time="08:00", kind="in").status_code == 201
    assert _add(api, person_id="budi", day=days[0].isoformat()).status_code == 201
    event_id = _punch(api, "budi", datetime.combine(days[2], datetime.min.time(), JAKARTA)
                      .replace(hour=9).astimezone(UTC))  # fmt: skip
    assert _void(api, event_id).status_code == 201

    def ids(**params: Any) -> list[tuple[str, str]]:
        answer = api.admin("GET", "/admin/corrections", params=params)
        assert answer.status_code == 200, answer.text
        return [(c["person_id"], c["action"]) for c in answer.json()["corrections"]]

    assert len(ids()) == 5
    assert ids(person="budi") == [("budi", "void"), ("budi", "add")]
    assert ids(**{"from": days[2].isoformat(), "to": days[2].isoformat()}) == [
        ("budi", "void"),  # the voided event's day
        ("ani", "add"),
    ]
    assert ids(**{"from": days[1].isoformat()}) == [("budi", "add"), ("ani", "add"), ("ani", "add")]
    bad = api.admin(
        "GET", "/admin/corrections", params={"from": days[0].isoformat(), "to": days[2].isoformat()}
    )
    assert (bad.status_code, bad.json()["reason"]) == (422, "bad_range")
    page1 = api.admin("GET", "/admin/corrections", params={"limit": 2}).json()
    assert len(page1["corrections"]) == 2
    assert page1["next_before_id"] is not None
    seen = [c["id"] for c in page1["corrections"]]
    cursor = page1["next_before_id"]
    while cursor is not None:
        page = api.admin(
            "GET", "/admin/corrections", params={"limit": 2, "before_id": cursor}
        ).json()
        seen += [c["id"] for c in page["corrections"]]
        cursor = page["next_before_id"]
    assert seen == sorted(seen, reverse=True)
    assert len(set(seen)) == 5


def test_corrections_need_the_admin_token(make_api: Callable[..., Api]) -> None:
    api = _site(make_api)
    for method, path in (
        ("GET", "/admin/corrections"),
        ("POST", "/admin/corrections"),
        ("POST", "/admin/corrections/1/revoke"),
        ("GET", "/admin/audit"),
        ("GET", "/admin/audit.csv"),
    ):
        answer = api.admin(method, path, headers={"Authorization": "Bearer wrong-token"})
        assert answer.status_code == 401, (method, path)


def test_the_day_view_reads_events_plus_live_corrections(make_api: Callable[..., Api]) -> None:
    """The contract seen from the reports: an added check-out completes the day, a void
    removes a punch, a revoked correction counts for nothing."""
    api = _site(make_api)
    day = _yesterday()
    at = datetime.combine(day, datetime.min.time().replace(hour=8), JAKARTA)
    event_id = _punch(api, "ani", at.astimezone(UTC))

    def status() -> str:
        answer = api.admin("GET", "/admin/reports/day", params={"date": day.isoformat()})
        assert answer.status_code == 200, answer.text
        [row] = [r for r in answer.json()["rows"] if r["person_id"] == "ani"]
        return str(row["status"])

    assert status() == "in_only"
    added = _add(api, day=day.isoformat(), time="17:00").json()
    assert status() == "complete"
    voided = _void(api, event_id).json()
    assert status() == "out_only"
    for made in (voided, added):
        path = f"/admin/corrections/{made['id']}/revoke"
        assert api.admin("POST", path, json={"reason": "undo"}).status_code == 200
    assert status() == "in_only"


def test_a_correction_cannot_be_edited_or_deleted(make_api: Callable[..., Api]) -> None:
    api = _site(make_api)
    made = _add(api).json()
    for method in ("PUT", "PATCH", "DELETE"):
        for path in ("/admin/corrections", f"/admin/corrections/{made['id']}"):
            answer = api.admin(method, path, json={"reason": "changed my mind"})
            assert answer.status_code == 405, (method, path)
    assert api.admin("GET", f"/admin/corrections/{made['id']}").json() == made
