"""Logins, sessions, lockout and CSRF of the admin web."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa

from edge.clock import utc_now
from sync_server.config import AuthConfig, WebConfig
from sync_server.db import Database, admin_accounts, migrate, web_sessions
from sync_server.web import accounts
from sync_server.web.session import SESSION_COOKIE
from tests.server.helpers import table_counts
from tests.web.conftest import ADMIN_PASSWORD, ADMIN_USER, Web, csrf_of

PAGES = ["/admin/", "/admin/people", "/admin/terminals", "/admin/reports"]


def _sessions(web: Web) -> int:
    db = Database.from_url(web.config.database_url, pool_size=1)
    try:
        with db.read() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(web_sessions)).scalar_one()
            )
    finally:
        db.dispose()


def test_every_page_needs_a_login(make_web: Callable[..., Web]) -> None:
    web = make_web()
    for page in PAGES:
        response = web.get(page + "?group=x", follow_redirects=False)
        assert response.status_code == 303, page
        assert response.headers["location"] == f"/admin/login?next={quote(page + '?group=x')}"
    for data in ("/admin/today.json", "/admin/reports/export.csv", "/admin/reports/hrms.json"):
        response = web.get(data)
        assert response.status_code == 401
        assert response.json()["reason"] == "login_required"
    # A POST without a session changes nothing, whatever it carries.
    before = table_counts(web.config.database_url)
    response = web.post("/admin/people", {"id": "p1", "name": "P", "group": "default"})
    assert response.status_code == 303
    assert table_counts(web.config.database_url) == before


def test_login_session_cookie_and_logout(make_web: Callable[..., Web]) -> None:
    web = make_web()
    response = web.login(next="/admin/reports")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/reports"
    cookie = response.headers["set-cookie"].lower()
    for attribute in ("httponly", "samesite=strict", "path=/admin"):
        assert attribute in cookie
    assert "secure" not in cookie.split(SESSION_COOKIE)[1].split(",")[0]  # plain http here
    for page in PAGES:
        page_response = web.get(page)
        assert page_response.status_code == 200, page
        assert ADMIN_USER in page_response.text
    assert _sessions(web) == 1

    assert web.post("/admin/logout").status_code == 303
    assert _sessions(web) == 0
    assert web.get("/admin/", follow_redirects=False).status_code == 303


def test_stolen_cookie_value_is_useless_after_logout(make_web: Callable[..., Web]) -> None:
    web = make_web()
    web.login()
    value = web.client.cookies[SESSION_COOKIE]
    web.post("/admin/logout")
    other = make_web()
    other.client.cookies.set(SESSION_COOKIE, value, path="/admin")
    assert other.get("/admin/", follow_redirects=False).status_code == 303


def test_a_failed_login_keeps_where_the_admin_was_going(make_web: Callable[..., Web]) -> None:
    web = make_web()
    refused = web.login(password="not the password", next="/admin/terminals")
    assert 'name="next" value="/admin/terminals"' in refused.text


def test_open_redirects_are_refused(make_web: Callable[..., Web]) -> None:
    for target in ("https://evil.example/", "//evil.example/admin", "/api/v1/admin/people"):
        web = make_web()
        response = web.login(next=target)
        assert response.headers["location"] == "/admin/", target


def test_wrong_password_and_unknown_user_look_the_same(make_web: Callable[..., Web]) -> None:
    web = make_web()
    wrong = web.login(password="not the password")
    unknown = web.login(username="mallory")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "wrong username or password" in response.text
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert _sessions(web) == 0


def test_lockout_after_repeated_failures(make_web: Callable[..., Web]) -> None:
    web = make_web(web=WebConfig(max_login_failures=3, lockout_minutes=10))
    for n in range(1, 5):
        # The lock is not announced to a wrong password: an unknown name would not be locked.
        wrong = web.login(password=f"wrong-{n}")
        assert wrong.status_code == 401
        assert "wrong username or password" in wrong.text
    # Locked: the right password is refused too, and no session is made.
    refused = web.login()
    assert refused.status_code == 429
    assert "locked after too many failed logins; try again in 10 minutes" in refused.text
    assert _sessions(web) == 0


_PROBLEM = re.compile(r'<p class="problem"[^>]*>([^<]*)</p>')


def _answer(response: httpx.Response) -> tuple[int, str]:
    found = _PROBLEM.search(response.text)
    return response.status_code, found.group(1) if found else ""


def test_accounts_and_unknown_names_get_the_same_answers(make_web: Callable[..., Web]) -> None:
    # Issue 10 item 7: the fifth wrong password of a real account said "now locked" (and later
    # answers came faster); an unknown name never did. Every answer must be the same.
    config = WebConfig(max_login_failures=3, lockout_minutes=10)
    web = make_web(web=config, auth=AuthConfig(max_failures=100))
    account = [_answer(web.login(password=f"wrong-{n}")) for n in range(6)]
    unknown = [_answer(web.login(username="mallory", password=f"wrong-{n}")) for n in range(6)]
    assert account == unknown
    assert set(account) == {(401, "wrong username or password")}


def test_every_login_path_costs_one_scrypt_check(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Equal time by equal work: count the password hashes each kind of attempt computes.
    config = WebConfig(max_login_failures=2, lockout_minutes=15)
    db = Database.from_url(db_url, pool_size=1)
    try:
        migrate(db)
        accounts.set_account(db, "bob", ADMIN_PASSWORD)
        costs: list[tuple[object, ...]] = []
        scrypt = hashlib.scrypt

        def counting_scrypt(password: bytes, **kwargs: Any) -> bytes:
            costs.append((kwargs["n"], kwargs["r"], kwargs["p"], kwargs["dklen"]))
            return scrypt(password, **kwargs)

        monkeypatch.setattr(hashlib, "scrypt", counting_scrypt)
        now = utc_now()
        attempts = [
            ("unknown name", "mallory", "x"),
            ("wrong password", "bob", "x"),
            ("wrong password, locks", "bob", "y"),
            ("locked, wrong password", "bob", "z"),
            ("locked, right password", "bob", ADMIN_PASSWORD),
            ("unknown name again", "mallory", ADMIN_PASSWORD),
        ]
        for what, username, password in attempts:
            before = len(costs)
            accounts.check_login(db, username, password, config, now=now)
            assert len(costs) == before + 1, what
        assert len(set(costs)) == 1
        ok = accounts.check_login(
            db, "bob", ADMIN_PASSWORD, config, now=now + timedelta(minutes=16)
        )
        assert ok.username == "bob"
        assert len(costs) == len(attempts) + 1
    finally:
        db.dispose()


def test_a_right_password_passes_when_the_address_is_over_the_limit(
    make_web: Callable[..., Web],
) -> None:
    web = make_web(auth=AuthConfig(max_failures=3, failure_window_s=300))
    token = web.api.create_terminal("t1")
    answers = [web.login(username=f"guess-{n}", password="x").status_code for n in range(5)]
    assert answers == [401, 401, 401, 429, 429]
    # Logins and API tokens share the address count; the right credentials are never refused.
    assert web.api.as_terminal(token, "GET", "/terminal").status_code == 200
    assert web.login().status_code == 303
    assert web.api.as_terminal("bad-token", "GET", "/terminal").status_code == 429
    assert "too many failed logins" in web.login(username="guess-9", password="x").text


def test_concurrent_wrong_passwords_lock_the_account(make_web: Callable[..., Web]) -> None:
    # One UPDATE ... RETURNING per wrong password: a concurrent burst cannot lose counts.
    config = WebConfig(max_login_failures=4, lockout_minutes=15)
    web = make_web(web=config, auth=AuthConfig(max_failures=100))
    db = Database.from_url(web.config.database_url, pool_size=8)
    try:
        start = threading.Barrier(8)

        def attempt(n: int) -> None:
            start.wait()
            accounts.check_login(db, ADMIN_USER, f"wrong-{n}", config)

        threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with db.read() as conn:
            row = conn.execute(sa.select(admin_accounts)).one()
        assert row.locked_until is not None
        assert accounts.check_login(db, ADMIN_USER, ADMIN_PASSWORD, config).locked
    finally:
        db.dispose()


def test_lockout_ends_and_a_good_login_resets_the_count(settings: object, db_url: str) -> None:
    config = WebConfig(max_login_failures=2, lockout_minutes=15)
    db = Database.from_url(db_url, pool_size=1)
    try:
        from sync_server.db import migrate

        migrate(db)
        accounts.set_account(db, "bob", ADMIN_PASSWORD)
        now = utc_now()
        assert accounts.check_login(db, "bob", "x", config, now=now).problem
        assert accounts.check_login(db, "bob", ADMIN_PASSWORD, config, now=now).username == "bob"
        # The good login reset the count: one more failure does not lock.
        assert not accounts.check_login(db, "bob", "x", config, now=now).locked
        # The second in a row locks it; only the right password is told so.
        assert accounts.check_login(db, "bob", "x", config, now=now).problem == (
            "wrong username or password"
        )
        later = now + timedelta(minutes=14)
        assert accounts.check_login(db, "bob", ADMIN_PASSWORD, config, now=later).locked
        after = now + timedelta(minutes=15, seconds=1)
        ok = accounts.check_login(db, "bob", ADMIN_PASSWORD, config, now=after)
        assert ok.username == "bob"
        with db.read() as conn:
            row = conn.execute(sa.select(admin_accounts)).one()
        assert (row.failed_logins, row.locked_until) == (0, None)
    finally:
        db.dispose()


def test_sessions_end_when_idle_or_old(db_url: str) -> None:
    config = WebConfig(session_idle_minutes=30, session_max_hours=2)
    db = Database.from_url(db_url, pool_size=1)
    try:
        from sync_server.db import migrate

        migrate(db)
        accounts.set_account(db, "bob", ADMIN_PASSWORD)
        start = utc_now()
        cookie = accounts.start_session(db, "bob", "127.0.0.1", config, now=start)
        # Used every 20 minutes it lives until its absolute end, not beyond.
        at = start
        while at + timedelta(minutes=20) < start + timedelta(hours=2):
            at += timedelta(minutes=20)
            assert accounts.load_session(db, cookie, config, now=at) is not None, at - start
        assert accounts.load_session(db, cookie, config, now=start + timedelta(hours=2)) is None
        idle = accounts.start_session(db, "bob", "127.0.0.1", config, now=start)
        assert accounts.load_session(db, idle, config, now=start + timedelta(minutes=31)) is None
        assert accounts.load_session(db, "made-up", config, now=start) is None
    finally:
        db.dispose()


def test_login_form_needs_its_own_token(make_web: Callable[..., Web]) -> None:
    web = make_web()
    page = web.get("/admin/login")
    token = csrf_of(page.text)
    # A forged cross-site login: right password, but the page's token and cookie are missing.
    forged = make_web().client.post(
        "/admin/login",
        data={"username": ADMIN_USER, "password": ADMIN_PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert "expired" in forged.text
    assert _sessions(web) == 0


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/admin/people", {"id": "p1", "name": "P", "group": "default"}),
        ("/admin/terminals", {"id": "door-9", "group": "default"}),
        ("/admin/logout", {}),
    ],
)
def test_posts_need_the_session_token_and_this_origin(
    web: Web, path: str, data: dict[str, str]
) -> None:
    before = table_counts(web.config.database_url)
    sessions = _sessions(web)
    missing = web.client.post(path, data=data, follow_redirects=False)
    wrong = web.client.post(path, data={**data, "csrf_token": "x" * 43}, follow_redirects=False)
    cross = web.post(path, data, headers={"Origin": "https://evil.example"})
    for response in (missing, wrong, cross):
        assert response.status_code == 403
        assert "not sent from this site" in response.text
    assert table_counts(web.config.database_url) == before
    assert _sessions(web) == sessions
    same_origin = web.post(path, data, headers={"Origin": "http://testserver"})
    assert same_origin.status_code in {200, 303}


def test_security_headers_on_pages_and_assets(web: Web) -> None:
    for path in [*PAGES, "/admin/login", "/admin/static/hadir.css", "/admin/static/hadir.js"]:
        response = web.get(path)
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self'" in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert web.get("/admin/").headers["cache-control"] == "no-store"
    # Nothing is fetched from another host: every asset is served here.
    html = web.get("/admin/").text
    assert "http://" not in html
    assert "https://" not in html


def test_secure_cookie_when_asked(make_web: Callable[..., Web]) -> None:
    web = make_web(web=WebConfig(secure_cookies="always"))
    form = web.get("/admin/login")
    assert "secure" in form.headers["set-cookie"].lower()


def test_web_can_be_switched_off(make_web: Callable[..., Web]) -> None:
    web = make_web(web=WebConfig(enabled=False))
    assert web.get("/admin/login").status_code == 404
    assert web.get("/healthz").status_code == 200
