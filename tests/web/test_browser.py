"""The admin web in a real headless Chromium against a real server process.

Chromium is Debian's ``chromium`` package (``.ci/run`` installs it), driven by Playwright;
Playwright's own browser download is never used. Screenshots of every page land in
``test-output/browser/`` (or ``$HADIR_TEST_OUTPUT/browser``) for a human to look at.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.protocol import API_PREFIX
from sync_server.process import ServerProcess
from tests.server.helpers import batch, bearer, event, heartbeat, utcnow
from tests.support import ROOT

pytestmark = [pytest.mark.faces, pytest.mark.slow, pytest.mark.browser]

ADMIN_TOKEN = "browser-test-admin-token-0123"
USER = "alice"
PASSWORD = "correct horse battery"
PHONE = {"width": 390, "height": 844}
FLAGGED = {"score": 0.2, "passed": False, "reasons": ["frame_edges", "flat_motion"]}
DESKTOP = {"width": 1280, "height": 900}
# The flags that keep Chromium off the network of a closed machine (and run it as root).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _missing(message: str) -> None:
    if _in_ci():
        pytest.fail(message + "; CI requires the browser tests")
    pytest.skip(message)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
    path = os.environ.get("HADIR_CHROMIUM") or shutil.which("chromium")
    if not path:
        _missing("no chromium on PATH (apt-get install chromium, or set HADIR_CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots() -> Path:
    base = Path(os.environ.get("HADIR_TEST_OUTPUT") or ROOT / "test-output")
    folder = base / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    # Last run's pictures go; the folders of other walks (month-end/) are theirs to clear.
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path / "srv",
        f"sqlite:///{tmp_path}/srv.db",
        ADMIN_TOKEN,
        extra_toml="[web]\nboard_refresh_s = 1\n",
    )
    with proc:
        # The account comes from the CLI, the password on stdin, as an operator would do it.
        config = str(proc.workdir / "server.toml")
        made = subprocess.run(
            [sys.executable, "-m", "sync_server", "add-admin", USER, "--config", config],
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=False,
        )
        assert made.returncode == 0, made.stderr
        yield proc


def _unlabelled(page: Any) -> list[str]:
    """Form controls without an accessible label (a <label for>, aria-label or labelledby)."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
            .filter(el => el.labels.length === 0 && !el.getAttribute('aria-label')
                          && !el.getAttribute('aria-labelledby'))
            .map(el => el.name || el.id)"""
    )
    return found


def _fits_width(page: Any) -> bool:
    fits: bool = page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    return fits


def _check(page: Any, shots: Path, name: str) -> None:
    """Every page: labelled controls, no sideways scrolling of the page itself, a screenshot."""
    assert _unlabelled(page) == [], name
    assert _fits_width(page), f"{name} is wider than the window"
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def test_admin_day_in_a_real_browser(
    chromium: Any, server: ServerProcess, faces_dir: Path, shots: Path, tmp_path: Path
) -> None:
    context = chromium.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    foreign: list[str] = []
    page.on(
        "request",
        lambda request: None if request.url.startswith(server.url) else foreign.append(request.url),
    )
    page.on("dialog", lambda dialog: dialog.accept())
    # No request may miss, the browser's own favicon request included.
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)

    # Log in: a wrong password first.
    page.goto(server.url + "/admin/")
    assert "/admin/login" in page.url
    page.get_by_label("Username").fill(USER)
    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Log in").click()
    assert "wrong username or password" in page.locator("#login-problem").inner_text()
    _check(page, shots, "01-login-refused")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server.url + "/admin/")
    _check(page, shots, "02-today-empty")

    # Enrol a person with a good photo and one without a face: the reason shows by the photo.
    page.get_by_role("link", name="People").click()
    page.get_by_label("Id").fill("lmm")
    page.get_by_label("Name").fill("Lin-Manuel Miranda")
    page.get_by_label("Department").fill("Cast")
    page.get_by_label("Photos (one face each").set_input_files(
        [
            str(faces_dir / "people/lin_manuel_miranda/lmm1.png"),
            str(faces_dir / "scenes/dogs.jpg"),
        ]
    )
    page.get_by_label("The person has read and accepted the consent text").check()
    page.get_by_role("button", name="Enrol").click()
    results = page.locator("#photo-results")
    results.wait_for()
    accepted = results.locator('li[data-file="lmm1.png"]')
    rejected = results.locator('li[data-file="dogs.jpg"]')
    assert "accepted" in accepted.inner_text()
    assert "rejected" in rejected.inner_text()
    assert "no face" in rejected.inner_text()
    assert page.locator("#template-count").inner_text() == "1"
    _check(page, shots, "03-person-enrolled")
    page.get_by_role("link", name="People").click()
    page.get_by_role("searchbox", name="Search").fill("miranda")
    page.get_by_role("button", name="Search").click()
    assert page.locator('#people-table tr[data-person="lmm"]').count() == 1
    _check(page, shots, "04-people")

    # Register a terminal: its token is shown once.
    page.get_by_role("link", name="Terminals").click()
    page.get_by_label("Device id").fill("door-1")
    page.get_by_label("Where it hangs").fill("Front door")
    page.get_by_role("button", name="Register and issue token").click()
    token = page.get_by_label("Token").input_value()
    assert len(token) >= 40
    _check(page, shots, "05-terminal-token")

    # The today board, open while the terminal posts: the row appears without a reload, marked
    # for review (the terminal's liveness check failed and it recorded the event in flag mode).
    page.get_by_role("link", name="Today").click()
    page.evaluate("() => { window.__sameDocument = true; }")
    assert page.locator('#today-table tr[data-person="lmm"]').count() == 0
    with httpx.Client(base_url=server.url + API_PREFIX, headers=bearer(token)) as terminal:
        at = utcnow() - timedelta(seconds=20)
        flagged = event("door-1", "lmm", kind="in", wall_time=at, liveness=FLAGGED)
        posted = terminal.post("/events", json=batch("door-1", [flagged]))
        assert posted.status_code == 200, posted.text
        assert posted.json()["results"][0]["status"] == "accepted"
        assert terminal.post("/heartbeat", json=heartbeat("door-1", backlog=4)).status_code == 200
    row = page.locator('#today-table tr[data-person="lmm"][data-status="in_only"]')
    row.wait_for(timeout=15_000)
    assert page.evaluate("() => window.__sameDocument === true"), "the board reloaded"
    assert page.locator('[data-total="in_now"]').inner_text() == "1"
    assert page.locator('[data-total="present"]').inner_text() == "1"
    assert "in only" in row.inner_text()
    assert "needs review" in row.inner_text()
    _check(page, shots, "06-today-live")

    # Needs review: the nav counts it; marking it reviewed empties the list.
    page.reload()
    assert page.locator("#nav-review .count").inner_text() == "1"
    page.locator("#nav-review").click()
    review_row = page.locator(f'#review-table tr[data-event="{flagged["id"]}"]')
    assert "frame_edges" in review_row.inner_text()
    _check(page, shots, "06b-review")
    review_row.get_by_role("button", name="Mark reviewed").click()
    page.wait_for_selector("#review-marked")
    assert page.locator("#review-table tr[data-event]").count() == 0
    assert page.locator("#nav-review .count").count() == 0

    # Terminals: online, with the heartbeat's backlog.
    page.get_by_role("link", name="Terminals").click()
    terminal_row = page.locator('#terminals-table tr[data-terminal="door-1"]')
    assert terminal_row.get_attribute("data-state") == "online"
    assert "4" in terminal_row.locator("td").nth(3).inner_text()
    _check(page, shots, "07-terminals")

    # Reports and the CSV export.
    page.get_by_role("link", name="Reports").click()
    assert page.locator('#day-table tr[data-person="lmm"]').count() == 1
    _check(page, shots, "08-reports")
    today = page.get_by_label("Day", exact=True).input_value()
    page.get_by_label("From", exact=True).fill(today)
    page.get_by_label("To", exact=True).fill(today)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download CSV").click()
    saved = tmp_path / "export.csv"
    download_info.value.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert [(r["person_id"], r["status"], r["department"]) for r in rows] == [
        ("lmm", "in_only", "Cast")
    ]

    # Revoke the terminal (the page asks first), then delete the person with confirmation.
    page.get_by_role("link", name="Terminals").click()
    page.locator('tr[data-terminal="door-1"]').get_by_role("button", name="Revoke").click()
    page.wait_for_selector('tr[data-terminal="door-1"][data-state="revoked"]')
    refused = httpx.get(server.url + API_PREFIX + "/terminal", headers=bearer(token))
    assert refused.status_code == 403
    page.goto(server.url + "/admin/people/lmm/delete")
    _check(page, shots, "09-delete-confirm")
    page.get_by_label("Type lmm to confirm").fill("lmm")
    page.get_by_role("button", name="Delete Lin-Manuel Miranda").click()
    page.wait_for_url("**/admin/people?deleted=lmm")
    assert "was deleted" in page.content()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/admin/login")
    page.goto(server.url + "/admin/reports")
    assert "/admin/login" in page.url
    assert foreign == [], f"requests left the server: {foreign}"
    assert missing == [], f"404 answers: {missing}"
    context.close()


def test_phone_sized_screen(chromium: Any, server: ServerProcess, shots: Path) -> None:
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(server.url + "/admin/login")
    _check(page, shots, "phone-01-login")
    page.get_by_label("Username").fill(USER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server.url + "/admin/")
    for name, path in [("today", "/admin/"), ("people", "/admin/people")]:
        page.goto(server.url + path)
        _check(page, shots, f"phone-02-{name}")
    for name in ("terminals", "reports"):
        page.goto(server.url + f"/admin/{name}")
        _check(page, shots, f"phone-03-{name}")
        # Wide tables scroll inside their box; the page itself never scrolls sideways.
        assert page.locator(".scroll").first.is_visible()
    context.close()
