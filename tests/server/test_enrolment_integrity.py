"""Enrolment integrity without photos: bounded ids, descriptor-shaped templates only."""

from __future__ import annotations

import base64
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import sqlalchemy as sa

from edge.clock import utc_now
from edge.protocol import decode_template
from sync_server import people
from sync_server.db import Database, templates
from sync_server.domain_errors import UnacceptableError
from sync_server.feed import publish, template_bytes
from tests.server.helpers import Api, Mirror, template


@pytest.mark.parametrize("template_id", ["99999999999999999999", "2147483648", "0", "-1"])
def test_out_of_range_template_id_is_a_client_error(api: Api, template_id: str) -> None:
    api.enrol("a", 1)
    before = api.counts()
    response = api.admin("DELETE", f"/admin/people/a/templates/{template_id}")
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["path", "template_id"]
    assert api.counts() == before


def test_largest_template_id_is_an_unknown_template(api: Api) -> None:
    api.enrol("a", 1)
    response = api.admin("DELETE", "/admin/people/a/templates/2147483647")
    assert response.status_code == 404, response.text
    assert response.json()["reason"] == "unknown_template"


def _raw(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()


POISON = np.where(np.arange(128) % 2, 1, -1).astype(np.float32) * np.float32(3e38)


def test_import_refuses_a_crafted_template(api: Api) -> None:
    api.create_person("mallory")
    before = api.counts()
    response = api.admin(
        "POST", "/admin/people/mallory/templates", json={"templates": [template(1), _raw(POISON)]}
    )
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["loc"][:2] == ["body", "templates"]
    assert "magnitude 3e+38" in problem["msg"]
    assert "not a face descriptor" in problem["msg"]
    assert api.counts() == before


def test_feed_skips_a_crafted_template_stored_before_the_bounds(api: Api) -> None:
    """A server upgraded with a crafted template already in its database keeps serving its
    terminals: the bad row is left out of the feed (and logged), never sent."""
    token = api.create_terminal("t1")
    api.enrol("alice", 1)
    api.enrol("mallory", 2)
    db = Database.from_url(api.config.database_url, pool_size=1)
    try:
        with db.write() as conn:
            conn.execute(
                sa.insert(templates).values(
                    person_id="mallory", vector=POISON.astype("<f4").tobytes(),
                    source="import", created_at=utc_now(),
                )
            )  # fmt: skip
            publish(db, conn, "mallory", "default")
    finally:
        db.dispose()
    mirror = Mirror().pull(api, token)
    assert mirror.people == {"alice": [template(1)], "mallory": [template(2)]}


def test_two_first_faces_at_once_cannot_both_join_a_person(api: Api) -> None:
    """The same-person check runs in the transaction that stores: of two far-apart faces sent
    at once to a person without templates, one is stored and the other refused."""
    api.create_person("p1")
    db = Database.from_url(api.config.database_url, pool_size=2)
    faces = [decode_template(template(seed)) for seed in (1, 2)]  # ~1.0 apart
    barrier = threading.Barrier(2)

    def add(vector: np.ndarray) -> str:
        barrier.wait()
        try:
            people.add_templates(
                db,
                "p1",
                [people.NewTemplate(template_bytes(vector), None, "test")],
                same_person_within=api.config.recognition.matching.threshold,
            )
        except UnacceptableError as exc:
            return exc.reason
        return "stored"

    try:
        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(add, faces))
    finally:
        db.dispose()
    assert outcomes == ["not_same_person", "stored"]
    assert api.counts()["templates"] == 1
