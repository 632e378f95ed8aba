"""Enrolment feed: versions, paging, compaction, tombstones, groups and resets."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edge.protocol import EnrolmentPage, decode_template
from tests.server.helpers import Api, Mirror, heartbeat, template


def test_empty_feed(api: Api) -> None:
    token = api.create_terminal("t1")
    page = api.changes(token, 0)
    assert page == {
        "since": 0,
        "version": 0,
        "more": False,
        "changes": [],
        "reset": False,
    }


def test_upsert_carries_full_template_set(api: Api) -> None:
    token = api.create_terminal("t1")
    api.enrol("alice", 1)
    api.add_templates("alice", template(2))
    page = EnrolmentPage.model_validate(api.changes(token, 0))
    assert [c.person_id for c in page.changes] == ["alice"]
    (change,) = page.changes
    assert change.op == "upsert"
    assert change.name == "Alice"
    assert len(change.templates) == 2
    expected = decode_template(template(1))
    np.testing.assert_array_equal(decode_template(change.templates[0]), expected)
    assert page.version == change.version == 2


def test_person_without_templates_is_not_sent(api: Api) -> None:
    token = api.create_terminal("t1")
    api.create_person("nobody-yet")
    assert api.changes(token, 0)["changes"] == []


def test_versions_increase_and_only_later_changes_come(api: Api) -> None:
    token = api.create_terminal("t1")
    v1 = api.enrol("a", 1)
    v2 = api.enrol("b", 2)
    assert v2 > v1
    page = api.changes(token, v1)
    assert [c["person_id"] for c in page["changes"]] == ["b"]
    assert api.changes(token, v2)["changes"] == []


def test_delete_reaches_terminals_that_had_the_person(api: Api) -> None:
    token = api.create_terminal("t1")
    api.enrol("a", 1)
    api.enrol("b", 2)
    mirror = Mirror().pull(api, token)
    assert set(mirror.people) == {"a", "b"}

    deleted = api.admin("DELETE", "/admin/people/a")
    assert deleted.status_code == 200
    version = deleted.json()["version"]
    page = api.changes(token, mirror.version)
    assert page["changes"] == [{"op": "delete", "version": version, "person_id": "a"}]
    mirror.apply(page)
    assert set(mirror.people) == {"b"}
    assert api.admin("GET", "/admin/people/a").status_code == 404
    assert api.counts()["templates"] == 1


def test_from_zero_tombstones_are_skipped_and_changes_compacted(api: Api) -> None:
    token = api.create_terminal("t1")
    api.enrol("a", 1)
    api.enrol("gone", 2)
    api.add_templates("a", template(3))
    api.add_templates("a", template(4))
    api.admin("DELETE", "/admin/people/gone")
    page = api.changes(token, 0)
    # One entry for a (its latest state, three templates), nothing for the deleted person.
    assert [(c["op"], c["person_id"], len(c["templates"])) for c in page["changes"]] == [
        ("upsert", "a", 3)
    ]
    # The deletion is the newest change; the terminal skips to it although it got no entry.
    assert page["version"] == 5


def test_removing_the_last_template_is_a_delete(api: Api) -> None:
    token = api.create_terminal("t1")
    api.enrol("a", 1)
    mirror = Mirror().pull(api, token)
    person = api.admin("GET", "/admin/people/a").json()
    template_id = person["templates"][0]["id"]
    response = api.admin("DELETE", f"/admin/people/a/templates/{template_id}")
    assert response.status_code == 200
    page = api.changes(token, mirror.version)
    assert [c["op"] for c in page["changes"]] == ["delete"]
    assert api.admin("DELETE", f"/admin/people/a/templates/{template_id}").status_code == 404


def test_paging_delivers_everything_once(api: Api) -> None:
    token = api.create_terminal("t1")
    for n in range(23):
        api.enrol(f"p{n:02d}", n)
    mirror = Mirror()
    seen: list[str] = []
    while True:
        page = api.changes(token, mirror.version, limit=5)
        seen.extend(c["person_id"] for c in page["changes"])
        mirror.apply(page)
        if not page["more"]:
            break
    assert seen == [f"p{n:02d}" for n in range(23)]
    assert mirror.pages == 5


def test_page_size_is_capped_by_config(make_api: Callable[..., Api]) -> None:
    api = make_api(enrolment_page_size=3)
    token = api.create_terminal("t1")
    for n in range(5):
        api.enrol(f"p{n}", n)
    page = api.changes(token, 0, limit=1000)
    assert len(page["changes"]) == 3
    assert page["more"] is True


def test_changes_during_paging_are_not_lost(api: Api) -> None:
    token = api.create_terminal("t1")
    for n in range(6):
        api.enrol(f"p{n}", n)
    mirror = Mirror()
    mirror.apply(api.changes(token, 0, limit=2))  # p0, p1
    api.add_templates("p0", template(100))  # already delivered person changes again
    api.add_templates("p4", template(101))  # not yet delivered person changes
    api.admin("DELETE", "/admin/people/p3")
    mirror.pull(api, token, limit=2)
    assert set(mirror.people) == {"p0", "p1", "p2", "p4", "p5"}
    assert len(mirror.people["p0"]) == 2
    assert len(mirror.people["p4"]) == 2


def test_terminal_reads_only_its_group(api: Api) -> None:
    token_a = api.create_terminal("ta", group="site-a")
    token_b = api.create_terminal("tb", group="site-b")
    api.enrol("alice", 1, group="site-a")
    api.enrol("bob", 2, group="site-b")
    api.enrol("carol", 3, group="site-a")
    assert set(Mirror().pull(api, token_a).people) == {"alice", "carol"}
    assert set(Mirror().pull(api, token_b).people) == {"bob"}


def test_moving_a_person_between_groups(api: Api) -> None:
    token_a = api.create_terminal("ta", group="site-a")
    token_b = api.create_terminal("tb", group="site-b")
    api.enrol("alice", 1, group="site-a")
    mirror_a = Mirror().pull(api, token_a)
    mirror_b = Mirror().pull(api, token_b)
    moved = api.admin("PATCH", "/admin/people/alice", json={"group": "site-b", "name": "Alice B"})
    assert moved.status_code == 200
    assert moved.json()["group"] == "site-b"
    assert mirror_a.pull(api, token_a).people == {}
    assert set(mirror_b.pull(api, token_b).people) == {"alice"}


def test_moving_a_terminal_resets_its_copy(api: Api) -> None:
    token = api.create_terminal("t1", group="site-a")
    api.enrol("alice", 1, group="site-a")
    for n in range(5):
        api.enrol(f"b{n}", 10 + n, group="site-b")
    mirror = Mirror().pull(api, token)
    assert set(mirror.people) == {"alice"}

    response = api.admin("PATCH", "/admin/terminals/t1", json={"group": "site-b"})
    assert response.status_code == 200
    # The heartbeat answer tells the terminal to pull.
    ack = api.as_terminal(token, "POST", "/heartbeat", json=heartbeat("t1")).json()
    assert ack["enrolment_version"] > mirror.version

    page = api.changes(token, mirror.version)
    assert page == {"since": 0, "version": 0, "more": True, "changes": [], "reset": True}
    # A terminal that did not apply the reset (crashed) is told again.
    assert api.changes(token, mirror.version)["reset"] is True
    mirror.apply(page)
    # Small pages: the copy's intermediate versions are below the move and must not re-reset.
    mirror.pull(api, token, limit=2)
    assert set(mirror.people) == {f"b{n}" for n in range(5)}
    assert api.changes(token, mirror.version)["changes"] == []


def test_version_ahead_of_server_resets(api: Api) -> None:
    token = api.create_terminal("t1")
    api.enrol("a", 1)
    page = api.changes(token, 999)
    assert page["reset"] is True
    mirror = Mirror()
    mirror.apply(page)
    assert set(mirror.pull(api, token).people) == {"a"}


def test_import_validates_templates(api: Api) -> None:
    api.create_person("a")
    before = api.counts()
    response = api.admin("POST", "/admin/people/a/templates", json={"templates": ["AAAA"]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["body", "templates"]
    response = api.admin(
        "POST", "/admin/people/nobody/templates", json={"templates": [template(1)]}
    )
    assert response.status_code == 404
    assert api.counts() == before


def test_at_most_64_templates(api: Api) -> None:
    api.create_person("a")
    api.add_templates("a", *(template(n) for n in range(60)))
    before = api.counts()
    response = api.admin(
        "POST", "/admin/people/a/templates", json={"templates": [template(n) for n in range(5)]}
    )
    assert response.status_code == 409
    assert response.json()["reason"] == "too_many_templates"
    assert api.counts() == before


def test_person_crud(api: Api) -> None:
    api.create_person("emp-001", name="Ada")
    assert (
        api.admin("POST", "/admin/people", json={"id": "emp-001", "name": "X"}).status_code == 409
    )
    bad = api.admin("POST", "/admin/people", json={"id": "no spaces", "name": "X"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "id"]
    renamed = api.admin("PATCH", "/admin/people/emp-001", json={"name": "Ada L."}).json()
    assert renamed["name"] == "Ada L."
    listed = api.admin("GET", "/admin/people").json()["people"]
    assert [p["id"] for p in listed] == ["emp-001"]
    assert api.admin("GET", "/admin/people", params={"group": "other"}).json()["people"] == []
    assert api.admin("DELETE", "/admin/people/emp-001").json()["version"] is None
    assert api.admin("DELETE", "/admin/people/emp-001").status_code == 404
