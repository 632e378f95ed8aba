"""The admin web's shape (docs/architecture.md, the admin web): every route but the login
router's needs a session through its router, so a new page cannot forget it; the web stands
beside the JSON API on the operations below both, never on the API itself."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.routing import APIRoute

from sync_server.web.app import ROUTERS
from sync_server.web.session import login_required, login_required_json
from tests.web.conftest import Web

# The login router's routes: the only ones a visitor without a session may reach.
PUBLIC = {
    ("/admin", "GET"),
    ("/admin/login", "GET"),
    ("/admin/login", "POST"),
    ("/admin/logout", "POST"),
}
_PARAM = re.compile(r"\{[^}]+\}")


def test_every_route_but_login_needs_a_session_by_its_router(
    make_web: Callable[..., Web],
) -> None:
    web = make_web()
    guarded: set[str] = set()
    routes = [route for router in ROUTERS for route in router.routes]
    for route in routes:
        assert isinstance(route, APIRoute)
        methods = sorted(route.methods or ())
        if {(route.path, method) for method in methods} <= PUBLIC:
            continue
        calls = {dependency.call for dependency in route.dependant.dependencies}
        json = login_required_json in calls
        assert json or login_required in calls, f"{route.path} has no login dependency"
        url = _PARAM.sub("x", route.path)
        for method in methods:
            response = web.client.request(method, url, follow_redirects=False)
            if json:
                assert response.status_code == 401, (method, url)
                assert response.json()["reason"] == "login_required"
            else:
                assert response.status_code == 303, (method, url)
                assert response.headers["location"].startswith("/admin/login?next=")
        guarded.add(route.path)
    # The walk saw the pages, the data downloads and the forms, not an empty list.
    assert {"/admin/", "/admin/today.json", "/admin/people/{person_id}/delete"} <= guarded

