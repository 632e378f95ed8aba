"""The admin web's shape (docs/architecture.md, the admin web): every route but the login
router's needs a session through its router, so a new page cannot forget it; the web stands
beside the JSON API on the operations below both, never on the API itself."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

from fastapi.routing import APIRoute

from sync_server.web.app import ROUTERS
from sync_server.web.session import login_required, login_required_json
from tests.web.conftest import Web

ROOT = Path(__file__).resolve().parents[2]
# The login router's routes: the only ones a visitor without a session may reach.
PUBLIC = {
    ("/admin", "GET"),
    ("/admin/login", "GET"),
    ("/admin/login", "POST"),
    ("/admin/logout", "POST"),
}
_PARAM = re.compile(r"\{[^}]+\}")


def _imported(tree: ast.Module) -> set[str]:
    """Every module an import names, at any depth; ``from a import b`` names a.b as well."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


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


def test_the_web_imports_nothing_from_the_api() -> None:
    importers = {
        path.relative_to(ROOT).as_posix()
        for path in sorted((ROOT / "sync_server" / "web").rglob("*.py"))
        if any(
            name == "sync_server.api" or name.startswith("sync_server.api.")
            for name in _imported(ast.parse(path.read_text(encoding="utf-8")))
        )
    }
    assert importers == set()
