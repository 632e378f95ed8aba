"""Request body limits: declared or streamed, refused with 413 before anything is written."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from tests.server.helpers import Api, batch, event


def test_declared_oversized_batch_is_413(make_api: Callable[..., Api]) -> None:
    api = make_api(max_json_body_bytes=4096)
    token = api.create_terminal("t1")
    before = api.counts()
    response = api.post_batch(token, batch("t1", [event("t1") for _ in range(40)]))
    assert response.status_code == 413
    assert response.json()["reason"] == "body_too_large"
    assert api.counts() == before


def test_streamed_oversized_batch_is_413(make_api: Callable[..., Api]) -> None:
    api = make_api(max_json_body_bytes=4096)
    token = api.create_terminal("t1")
    before = api.counts()
    body = json.dumps(batch("t1", [event("t1") for _ in range(40)])).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    # A generator body goes out chunked, without Content-Length.
    response = api.as_terminal(
        token, "POST", "/events", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert api.counts() == before


def test_body_under_the_limit_passes(make_api: Callable[..., Api]) -> None:
    api = make_api(max_json_body_bytes=4096)
    token = api.create_terminal("t1")
    response = api.post_batch(token, batch("t1", [event("t1")]))
    assert response.status_code == 200


def test_photo_limit_is_separate(make_api: Callable[..., Api]) -> None:
    api = make_api(max_json_body_bytes=2048, max_body_bytes=10_000)
    api.create_person("p1")
    before = api.counts()
    response = api.admin(
        "POST",
        "/admin/people/p1/photos",
        content=b"\xff" * 20_000,
        headers={"Content-Type": "image/jpeg"},
    )
    assert response.status_code == 413
    # Between the JSON limit and the photo limit: reaches the decoder, which refuses it.
    response = api.admin(
        "POST",
        "/admin/people/p1/photos",
        content=b"\xff" * 5_000,
        headers={"Content-Type": "image/jpeg"},
    )
    assert response.status_code == 422
    assert response.json()["reason"] == "unreadable"
    assert api.counts() == before


def test_invalid_content_length_is_400(api: Api) -> None:
    token = api.create_terminal("t1")
    response = api.as_terminal(
        token,
        "POST",
        "/events",
        content=b"{}",
        headers={"Content-Type": "application/json", "Content-Length": "abc"},
    )
    assert response.status_code == 400
