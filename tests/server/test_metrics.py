"""Metrics labels are bounded: nothing a client sends can add series (issue 10, item 1)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter

from sync_server.app import create_app
from sync_server.config import ServerConfig
from sync_server.metrics import MAX_LABEL_VALUES, OTHER_VALUE, Bounded
from tests.server.helpers import ADMIN_TOKEN, Api


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    # Labels do not depend on the database: SQLite only, so thousands of requests stay cheap.
    config = ServerConfig(
        database_url=f"sqlite:///{tmp_path / 'server.db'}",
        admin_token=ADMIN_TOKEN,
        data_dir=tmp_path / "data",
    )
    with TestClient(create_app(config, environ={})) as client:
        yield Api(client, config)


def _series(api: Api) -> int:
    """Sample lines in /metrics: every series of every metric, as a scraper sees them."""
    text = api.client.get("/metrics").text
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def _made_up_requests(api: Api, n: int, tag: str) -> None:
    for i in range(n):
        word = f"{tag}{i}"
        api.client.request(f"M{word.upper()}", "/healthz")
        api.client.get(f"/{word}/x/{i}")
        api.client.request(f"X{word.upper()}", f"/admin/static/{word}/a/b")
        if i % 20 == 0:
            # A matched route with a made-up parameter (refused with 401, a database write).
            api.client.get(f"/api/v1/admin/people/{word}")


def test_made_up_methods_and_paths_add_no_series(api: Api) -> None:
    # One round makes every kind of series these requests can make (OTHER, unmatched, 401s),
    # and one /metrics call makes its own; from then on the count must not move.
    _made_up_requests(api, 1, "warm")
    _series(api)
    before = _series(api)
    # More made-up values of each kind than a bounded label keeps (MAX_LABEL_VALUES), so a
    # label that only capped them would show too; each request is one more chance to add one.
    _made_up_requests(api, MAX_LABEL_VALUES + 1, "attack")
    assert _series(api) == before
    text = api.client.get("/metrics").text
    assert 'method="OTHER"' in text
    assert "attack" not in text
    assert 'method="MATTACK' not in text


def test_known_methods_and_route_templates_keep_their_labels(api: Api) -> None:
    api.client.request("DELETE", f"/api/v1/admin/people/{uuid.uuid4()}")
    api.client.request("PATCH", "/healthz")
    text = api.client.get("/metrics").text
    assert 'method="DELETE",route="/api/v1/admin/people/{person_id}",status="401"' in text
    assert 'method="PATCH",route="/healthz",status="405"' in text


def test_a_bounded_metric_keeps_a_fixed_number_of_values() -> None:
    registry = CollectorRegistry()
    bounded = Bounded(Counter("c", "test", ["reason"], registry=registry))
    bounded.labels("invalid").inc()
    for i in range(5 * MAX_LABEL_VALUES):
        bounded.labels(f"made-up-{i}").inc()
    bounded.labels("invalid").inc()
    samples = [s for m in registry.collect() for s in m.samples if s.name == "c_total"]
    assert len(samples) == MAX_LABEL_VALUES
    by_reason = {s.labels["reason"]: s.value for s in samples}
    assert by_reason["invalid"] == 2
    # Everything past the bound is still counted, under one label.
    assert sum(by_reason.values()) == 2 + 5 * MAX_LABEL_VALUES
    assert by_reason[OTHER_VALUE] > 0
