"""Enrolment integrity without photos: bounded ids, descriptor-shaped templates only."""

from __future__ import annotations

import pytest

from tests.server.helpers import Api


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
