"""The admin web's languages: catalogues complete, the language chosen per request, locale
formats, the site's time zone on every page (issue 15, "Languages and local conventions").

The page tests run on SQLite and PostgreSQL (the web fixtures).
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from babel.messages.catalog import Catalog
from starlette.requests import Request

from scripts import i18n as catalogues
from sync_server import audit, catalogue
from sync_server.db import Database, admin_accounts, audit_log
from sync_server.web import accounts, i18n
from sync_server.web.render import Page, environment, render
from tests.web.conftest import ADMIN_USER, Web
from tests.web.conftest import make_web as make_web  # the web pages' fixtures, reused
from tests.web.conftest import web as web

# --------------------------------------------------------------------------- catalogues


def test_every_template_string_has_an_indonesian_translation() -> None:
    """Every string in _() of every template (everyone's) and every marked Python string has a
    non-fuzzy Indonesian translation: scripts/i18n.py check, in process."""
    template = catalogues.extract()
    # The extraction itself works: the nav's words are found where they are.
    nav = template.get("Needs review")
    assert nav is not None
    assert "sync_server/web/templates/base.html" in {f for f, _line in nav.locations}
    problems = catalogues.missing(template)
    assert not problems, "no Indonesian translation:\n" + "\n".join(map(str, problems))


def test_check_names_a_string_without_translation(tmp_path: Path) -> None:
    """check fails, naming the msgid and where it is, for a string added to a template."""
    sources = tmp_path / "sync_server"
    (sources / "web" / "templates").mkdir(parents=True)
    (sources / "web" / "templates" / "x.html").write_text(
        '<p>{{ _("Log out") }}</p>\n<p>{{ _("A sentence nobody translated") }}</p>\n'
    )
    (sources / "web" / "y.py").write_text('from sync_server.web.i18n import N_\nN_("Today")\n')
    found = catalogues.missing(catalogues.extract(sources))
    assert [(m.language, m.msgid) for m in found] == [("id", "A sentence nobody translated")]
    assert "x.html:2" in str(found[0])


# The templates of the pages this part wrote; the others' are checked once their owners
# have wrapped them (scripts/i18n.py unwrapped lists what is left).
MINE = (
    "base.html",
    "login.html",
    "today.html",
    "terminals.html",
    "terminal_token.html",
    "review.html",
    "error.html",
    "people.html",
    "person_delete.html",
    "_photo_results.html",
    "_day_table.html",
    "_filters.html",
)


def test_no_words_outside_gettext_in_these_templates() -> None:
    """Text a reader sees outside _() would stay English on an Indonesian page."""
    left = [u for u in catalogues.unwrapped() if u.template.rsplit("/", 1)[-1] in MINE]
    assert not left, "\n".join(map(str, left))


def test_unwrapped_finds_text_and_shown_attributes(tmp_path: Path) -> None:
    (tmp_path / "x.html").write_text(
        '{% extends "base.html" %}\n'
        '<h1>{{ _("Wrapped") }}</h1>\n'
        "<p>Plain words {{ name }} here</p>\n"
        '<input placeholder="{{ _(\'all\') }}" title="Type a name">\n'
        "<code>hadir server add-admin NAME</code> {{ value }} 12 · CSV\n"
        "{% trans %}Hello {{ who }}{% endtrans %}\n"
    )
    found = [(u.line, u.text) for u in catalogues.unwrapped(tmp_path)]
    assert found == [(3, "Plain words … here"), (4, "Type a name")]


def test_fuzzy_entries_are_not_translations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fuzzy entry (a guess) is reported by check, and left out by the server."""
    po = tmp_path / "id" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        '#, fuzzy\nmsgid "Log out"\nmsgstr "Keluar"\n\nmsgid "Today"\nmsgstr "Hari ini"\n\n'
        'msgid "Token for %(terminal)s"\nmsgstr "Token untuk %(terminal)"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(catalogues, "LOCALE_DIR", tmp_path)
    template = Catalog()
    template.add("Log out")
    template.add("Today")
    template.add("Token for %(terminal)s")
    found = [(m.msgid, m.fuzzy, m.wrong) for m in catalogues.missing(template)]
    # A translation that drops or misspells a value fails the page: check names it.
    assert found == [("Log out", True, False), ("Token for %(terminal)s", False, True)]
    # The server reads the catalogues through sync_server.catalogue (the web, the CSV and the
    # CLI alike).
    monkeypatch.setattr(catalogue, "LOCALE_DIR", tmp_path)
    monkeypatch.setattr(catalogue, "_loaded", {})
    words = i18n.translations("id")
    assert words.gettext("Today") == "Hari ini"
    assert words.gettext("Log out") == "Log out"


# --------------------------------------------------------------------------- negotiation


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("id-ID,id;q=0.9,en-US;q=0.8,en;q=0.7", "id"),
        ("id", "id"),
        ("in", "id"),
        ("in-ID", "id"),
        ("en-US,en;q=0.9,id;q=0.8", "en"),
        ("de-DE,de;q=0.9,id;q=0.5", "id"),
        ("fr, en;q=0.1, id;q=0.5", "id"),
        ("id;q=0, en", "en"),
        ("de, *;q=0.1", "en"),
        ("ms-MY", "en"),
        ("", "en"),
        (None, "en"),
        ("id;q=abc, en", "en"),
    ],
)
def test_accept_language(header: str | None, expected: str) -> None:
    assert i18n.negotiate(header) == expected


# --------------------------------------------------------------------------- formats


def test_dates_and_numbers_in_the_locale() -> None:
    ind, eng = i18n.lang("id"), i18n.lang("en")
    day = date(2026, 12, 2)
    assert ind.format_date(day) == "2 Des 2026"
    assert eng.format_date(day) == "Dec 2, 2026"
    assert ind.format_date("2026-12-02", "full") == "Rabu, 02 Desember 2026"
    assert ind.format_percent(0.955) == "95,5%"
    assert eng.format_percent(0.955) == "95.5%"
    assert ind.format_decimal(1234.5) == "1.234,5"
    assert eng.format_decimal(1234.5) == "1,234.5"
    assert ind.format_decimal(7.25, 1) == "7,2"
    assert ind.format_decimal(None) == ""
    assert ind.format_date(None) == ""
    moment = datetime(2026, 12, 2, 1, 5, tzinfo=UTC)
    # On the site's clock: 01:05 UTC is 08:05 in Jakarta.
    assert ind.format_datetime(moment, ZoneInfo("Asia/Jakarta"), "short") == "2/12/26 08.05"
    assert ind.duration(65) == "1 j 05 mnt"
    assert eng.duration(timedelta(minutes=65)) == "1 h 05 min"
    assert ind.ago(30) == "30 dtk lalu"
    assert eng.ago(None) == "never"
    assert ind.plural(3, "person") == "3 orang"
    assert eng.plural(3, "person") == "3 people"
    assert eng.plural(1, "person") == "1 person"


def test_filters_in_templates_follow_the_environments_language() -> None:
    source = (
        "{{ d | format_date }} {{ p | format_percent }} {{ m | duration }} "
        "{{ plural(2, 'person') }}"
    )
    values = {"d": date(2026, 12, 2), "p": 0.955, "m": 75}
    assert (
        environment("id").from_string(source).render(**values)
        == "2 Des 2026 95,5% 1 j 15 mnt 2 orang"
    )
    assert (
        environment("en").from_string(source).render(**values)
        == "Dec 2, 2026 95.5% 1 h 15 min 2 people"
    )


def test_the_time_zone_line() -> None:
    assert i18n.lang("id").zone(ZoneInfo("Asia/Jakarta")) == "Waktu: Asia/Jakarta (WIB)"
    assert i18n.lang("en").zone(ZoneInfo("Asia/Makassar")) == "Time zone: Asia/Makassar (WITA)"
    assert i18n.lang("en").zone(ZoneInfo("Asia/Jayapura")) == "Time zone: Asia/Jayapura (WIT)"
    assert i18n.lang("en").zone(ZoneInfo("UTC")) == "times in UTC"
    assert i18n.lang("id").zone(ZoneInfo("UTC")) == "waktu dalam UTC"


# --------------------------------------------------------------------------- thread safety


def _request(accept_language: str) -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/admin/login",
        "query_string": b"",
        "headers": [(b"accept-language", accept_language.encode())],
        "server": ("testserver", 80),
        "scheme": "http",
        "root_path": "",
    }
    return Request(scope)


def test_concurrent_renders_in_two_languages_keep_their_own() -> None:
    """Forty renders at once, half in each language, from a shared environment cache: each
    page is wholly in its own language (no request sees another's translations)."""
    tz = ZoneInfo("Asia/Jakarta")
    start = threading.Barrier(40)

    def one(n: int) -> tuple[str, str]:
        wanted = "id-ID" if n % 2 else "en-GB"
        page = Page(_request(wanted), None, tz)
        start.wait()
        html = render(
            page, "login.html", problem=None, username="", login_csrf="x", next="/admin/"
        ).body
        assert isinstance(html, bytes)
        return wanted, html.decode()

    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(one, range(40)))
    for wanted, html in results:
        if wanted == "id-ID":
            assert '<html lang="id">' in html
            assert "Nama pengguna" in html
            assert "Username" not in html
            assert "Waktu: Asia/Jakarta (WIB)" in html
        else:
            assert '<html lang="en">' in html
            assert "Username" in html
            assert "Nama pengguna" not in html
            assert "Time zone: Asia/Jakarta (WIB)" in html


# --------------------------------------------------------------------------- pages


def _lang_of(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)">', html)
    assert found is not None
    return found.group(1)


def test_login_page_follows_the_browser(make_web: Callable[..., Web]) -> None:
    client = make_web()
    ind = client.get("/admin/login", headers={"Accept-Language": "id-ID,id;q=0.9"})
    assert _lang_of(ind.text) == "id"
    assert "<h1>Masuk</h1>" in ind.text
    assert "Kata sandi" in ind.text
    eng = client.get("/admin/login", headers={"Accept-Language": "en-US"})
    assert _lang_of(eng.text) == "en"
    assert "<h1>Log in</h1>" in eng.text
    assert _lang_of(client.get("/admin/login").text) == "en"
    # A refusal in the reader's language too.
    wrong = client.client.post(
        "/admin/login",
        data={"username": ADMIN_USER, "password": "not it at all"},
        headers={"Accept-Language": "id"},
    )
    assert wrong.status_code == 403
    assert "formulir masuk kedaluwarsa" in wrong.text


def test_pages_in_indonesian_for_the_browser_and_the_account(web: Web) -> None:
    ind = {"Accept-Language": "id-ID"}
    page = web.get("/admin/terminals", headers=ind).text
    assert _lang_of(page) == "id"
    assert "<h1>Terminal</h1>" in page
    assert "Daftarkan terminal" in page
    assert ">Perlu ditinjau<" in page
    assert ">Keluar<" in page
    page = web.get("/admin/terminals").text
    assert _lang_of(page) == "en"
    assert "Register a terminal" in page

    # The account chooses Indonesian: every page in it, whatever the browser asks.
    # The switch comes back to the page it was on, query and all.
    form = web.get("/admin/review?reviewed=1").text
    assert '<input type="hidden" name="next" value="/admin/review?reviewed=1">' in form
    chosen = web.post("/admin/language", {"locale": "id", "next": "/admin/terminals"})
    assert chosen.status_code == 303
    assert chosen.headers["location"] == "/admin/terminals"
    page = web.get("/admin/terminals", headers={"Accept-Language": "en-US"}).text
    assert _lang_of(page) == "id"
    assert "Daftarkan terminal" in page
    assert '<option value="id" lang="id" selected>' in page
    review = web.get("/admin/review").text
    assert "Tidak ada yang perlu ditinjau." in review

    # Back to the browser's language.
    assert web.post("/admin/language", {"locale": ""}).headers["location"] == "/admin/"
    assert _lang_of(web.get("/admin/terminals").text) == "en"
    assert _lang_of(web.get("/admin/terminals", headers=ind).text) == "id"


def test_board_gives_its_script_the_words_in_the_pages_language(web: Web) -> None:
    """The live board rewrites its table with the words the page hands its script."""
    page = web.get("/admin/", headers={"Accept-Language": "id"}).text
    found = re.search(r"data-words='([^']*)'", page)
    assert found is not None
    words = json.loads(unescape(found.group(1)))
    assert words["updated"] == "Diperbarui {time}"
    assert words["late"] == "terlambat {minutes} mnt"
    assert words["status"]["not_yet"] == "belum absen"
    assert words["status"]["complete"] == "lengkap"


def test_language_switch_is_stored_audited_and_needs_the_csrf_token(web: Web) -> None:
    refused = web.client.post("/admin/language", data={"locale": "id"}, follow_redirects=False)
    assert refused.status_code == 403
    db = Database.from_url(web.config.database_url, pool_size=1)
    try:
        with db.read() as conn:
            assert conn.execute(sa.select(admin_accounts.c.locale)).scalar_one() is None
        assert web.post("/admin/language", {"locale": "id"}).status_code == 303
        # The same choice again changes nothing and writes no second row.
        assert web.post("/admin/language", {"locale": "id"}).status_code == 303
        # An unknown language is the browser's again, not an error page.
        assert web.post("/admin/language", {"locale": "xx"}).status_code == 303
        with db.read() as conn:
            assert conn.execute(sa.select(admin_accounts.c.locale)).scalar_one() is None
            rows = [
                (e.actor, e.action, e.before, e.after)
                for e in audit.entries(conn, entity="account")
                if e.before is not None
            ]
    finally:
        db.dispose()
    assert rows == [
        (ADMIN_USER, "update", {"locale": "id"}, {"locale": None}),
        (ADMIN_USER, "update", {"locale": None}, {"locale": "id"}),
    ]


def test_time_zone_on_every_page(make_web: Callable[..., Web]) -> None:
    client = make_web(site_timezone="Asia/Jakarta")
    login = client.get("/admin/login").text
    assert "Time zone: Asia/Jakarta (WIB)" in login
    assert "times in UTC" not in login
    assert client.login().status_code == 303
    for path in ("/admin/", "/admin/terminals", "/admin/review", "/admin/people"):
        page = client.get(path, headers={"Accept-Language": "id"})
        assert page.status_code == 200, path
        assert '<span id="timezone">Waktu: Asia/Jakarta (WIB)</span>' in page.text, path
    utc = make_web()
    assert '<span id="timezone">times in UTC</span>' in utc.get("/admin/login").text


# --------------------------------------------------------------------------- accounts


def test_account_changes_write_audit_rows_without_the_password(db_url: str) -> None:
    from sync_server.db import migrate

    db = Database.from_url(db_url, pool_size=1)
    try:
        migrate(db)
        password = "a long secret 123"
        assert accounts.set_account(db, "hr.officer", password) is True
        assert accounts.set_account(db, "hr.officer", password + "!", reset=True) is False
        assert accounts.set_locale(db, "hr.officer", "id") is True
        with pytest.raises(accounts.AccountError):
            accounts.set_locale(db, "nobody", "id")
        with db.read() as conn:
            hashed = conn.execute(sa.select(admin_accounts.c.password_hash)).scalar_one()
            raw = conn.execute(
                sa.select(audit_log.c.before, audit_log.c.after).order_by(audit_log.c.id)
            ).all()
            entries = audit.entries(conn)
    finally:
        db.dispose()
    assert [(e.actor, e.action, e.entity, e.entity_id) for e in entries] == [
        ("hr.officer", "update", "account", "hr.officer"),
        (accounts.SERVER_CLI_ACTOR, "update", "account", "hr.officer"),
        (accounts.SERVER_CLI_ACTOR, "create", "account", "hr.officer"),
    ]
    # Only that the password was set or changed: never it, nor its hash.
    text = json.dumps([list(r) for r in raw])
    assert password not in text
    assert hashed not in text
    assert "scrypt" not in text
    assert [e.after for e in reversed(entries)] == [
        {"username": "hr.officer", "password": "set"},
        {"password": "changed", "unlocked": True, "sessions": "ended"},
        {"locale": "id"},
    ]


# --------------------------------------------------------------------------- install


INSTALL_SERVER = Path(__file__).resolve().parents[2] / "scripts" / "install-server.sh"


@pytest.mark.parametrize("zone", ["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"])
def test_install_writes_the_site_time_zone(zone: str) -> None:
    result = subprocess.run(
        ["bash", str(INSTALL_SERVER), "--print-config", "--timezone", zone],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert tomllib.loads(result.stdout)["site_timezone"] == zone


def test_install_refuses_an_unknown_time_zone() -> None:
    """A zone the time-zone database does not know would stop the server at its first start:
    the installer refuses it at once (usage error, exit 2), naming it."""
    result = subprocess.run(
        ["bash", str(INSTALL_SERVER), "--print-config", "--timezone", "Asia/Jakarat"],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "Asia/Jakarat: not a known IANA time zone" in result.stderr
    assert result.stdout == ""
