"""The CSV exports' words and ``hadir attendance``'s output in English and Bahasa Indonesia
(issue 15): the language from ``lang`` / the account / Accept-Language (CSV) or ``--lang`` /
the environment (CLI); English exactly as before; one catalogue for every word."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sync_server import catalogue
from sync_server.process import ServerProcess
from sync_server.reports.export import DAY_COLUMNS, EVENT_COLUMNS
from tests.reports.test_calendar_in_reports import HOLIDAY, MONDAY, site  # noqa: F401
from tests.reports.test_cli import _base_env, _seed
from tests.server.helpers import ADMIN_TOKEN
from tests.web.conftest import Web, make_web  # noqa: F401 (the fixture)

# What the day rows' CSV of the site (tests/reports/test_calendar_in_reports.py) was before
# the words could be translated: English stays this, byte for byte.
ENGLISH_DAYS = (
    "date,person_id,name,group,department,employee_id,shift,shift_start,first_in,last_out,"
    "worked_minutes,status,late,late_minutes,events,working_day,day_off,leave,corrected,"
    "corrections\r\n"
    "2026-03-02,ann,Ann,office,,ann,day,09:00,2026-03-02 08:55:00,2026-03-02 17:10:00,495,"
    "complete,no,0,2,yes,,,last_out,added out 17:10: forgot to check out (hr-officer)\r\n"
    "2026-03-02,ben,Ben,office,,ben,day,09:00,2026-03-02 10:00:00,,,in_only,no,,1,yes,,sick,,\r\n"
    "2026-03-02,cat,Cat,office,,cat,day,09:00,2026-03-02 09:30:00,2026-03-02 17:00:00,450,"
    "complete,yes,30,2,yes,,,voided,voided in 07:00: not her face (hr-officer)\r\n"
    "2026-03-02,dan,Dan,office,,dan,day,09:00,,,,absent,,,0,yes,,,,\r\n"
    "2026-03-03,ann,Ann,office,,ann,day,09:00,,,,holiday,,,0,no,Hari Libur,,,\r\n"
    "2026-03-03,ben,Ben,office,,ben,day,09:00,,,,holiday,,,0,no,Hari Libur,,,\r\n"
    "2026-03-03,cat,Cat,office,,cat,day,09:00,,,,holiday,,,0,no,Hari Libur,,,\r\n"
    "2026-03-03,dan,Dan,office,,dan,day,09:00,,,,holiday,,,0,no,Hari Libur,,,\r\n"
)
ENGLISH_EVENTS_HEADER = (
    "event_id,local_time,utc_time,person_id,name,group,department,employee_id,kind,"
    "device_id,time_source,person_known,liveness_score,liveness_passed,liveness_reasons,"
    "needs_review,reviewed_at,reviewed_by,corrected,correction_reason"
)
RANGE = {"from": MONDAY.isoformat(), "to": HOLIDAY.isoformat()}


def indonesian(message: str) -> str:
    """The catalogue's Indonesian for a msgid (the words new with this change are merged
    into the .po by the lead: until then the msgid)."""
    return catalogue.translations("id").gettext(message)


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _api_csv(web: Web, **params: str) -> httpx.Response:
    headers = {"Accept-Language": params.pop("accept")} if "accept" in params else {}
    response = web.api.admin(
        "GET", "/admin/reports/export.csv", params={**RANGE, **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response


def check_indonesian_days(text: str) -> None:
    header, *rows = _rows(text)
    assert header == [indonesian(c) for c in DAY_COLUMNS]
    # Words the catalogue had before: the statuses as the web says them.
    assert header[DAY_COLUMNS.index("late")] == "terlambat"
    assert header[DAY_COLUMNS.index("corrected")] == "dikoreksi"
    by = {(r[0], r[1]): dict(zip(DAY_COLUMNS, r, strict=True)) for r in rows}
    ann, ben = by[("2026-03-02", "ann")], by[("2026-03-02", "ben")]
    assert [by[(d, "dan")]["status"] for d in ("2026-03-02", "2026-03-03")] == [
        "tidak hadir",
        "libur",
    ]
    assert (ann["status"], ben["status"]) == ("lengkap", "hanya masuk")
    assert ann["corrected"] == indonesian("last_out")
    assert ann["corrections"] == "ditambahkan pulang 17:10: forgot to check out (hr-officer)"
    assert by[("2026-03-02", "cat")]["corrected"] == "dibatalkan"
    assert (ann["late"], by[("2026-03-02", "cat")]["late"]) == (
        indonesian("no"),
        indonesian("yes"),
    )
    assert by[("2026-03-03", "ann")]["working_day"] == indonesian("no")
    # Numbers, dates and times stay machine-readable in every language.
    assert (ann["date"], ann["first_in"], ann["worked_minutes"]) == (
        "2026-03-02",
        "2026-03-02 08:55:00",
        "495",
    )


def check_indonesian_events(text: str) -> None:
    header, *rows = _rows(text)
    assert header == [indonesian(c) for c in EVENT_COLUMNS]
    marks = [
        (r[3], r[8], r[1][11:16], r[11], r[15], r[18])
        for r in rows  # person, kind, time, person_known, needs_review, corrected
    ]
    yes, no = indonesian("yes"), indonesian("no")
    assert marks == [
        ("cat", "masuk", "07:00", yes, no, "dibatalkan"),
        ("ann", "masuk", "08:55", yes, no, ""),
        ("cat", "masuk", "09:30", yes, no, ""),
        ("ben", "masuk", "10:00", yes, no, ""),
        ("cat", "pulang", "17:00", yes, no, ""),
        ("ann", "pulang", "17:10", yes, no, "ditambahkan"),
    ]
    assert rows[0][2] == "2026-03-02T06:00:00Z"


def test_api_csv_in_english_is_as_it_was(site: Web) -> None:  # noqa: F811
    plain = _api_csv(site)
    assert plain.text == ENGLISH_DAYS
    assert plain.headers["content-language"] == "en"
    assert _api_csv(site, lang="en").text == ENGLISH_DAYS
    assert _api_csv(site, accept="fr-FR, de;q=0.5").text == ENGLISH_DAYS
    # lang wins over the header.
    assert _api_csv(site, lang="en", accept="id-ID").text == ENGLISH_DAYS
    events = _api_csv(site, rows="events").text
    assert events.splitlines()[0] == ENGLISH_EVENTS_HEADER
    assert [r[8] for r in _rows(events)[1:]] == ["in", "in", "in", "in", "out", "out"]


def test_api_csv_in_indonesian(site: Web) -> None:  # noqa: F811
    by_lang = _api_csv(site, lang="id")
    assert by_lang.headers["content-language"] == "id"
    check_indonesian_days(by_lang.text)
    by_header = _api_csv(site, accept="id-ID,id;q=0.9,en;q=0.8")
    assert by_header.text == by_lang.text
    check_indonesian_events(_api_csv(site, lang="id", rows="events").text)


def test_api_csv_refuses_an_unknown_language(site: Web) -> None:  # noqa: F811
    response = site.api.admin("GET", "/admin/reports/export.csv", params={**RANGE, "lang": "fr"})
    assert response.status_code == 422
    assert "lang" in response.text
    assert "'en' or 'id'" in response.text


def test_web_csv_language_from_link_account_and_browser(site: Web) -> None:  # noqa: F811
    def download(headers: dict[str, str] | None = None, **params: str) -> httpx.Response:
        response = site.get(
            "/admin/reports/export.csv", params={**RANGE, **params}, headers=headers or {}
        )
        assert response.status_code == 200, response.text
        return response

    assert download().text == ENGLISH_DAYS
    check_indonesian_days(download({"Accept-Language": "id"}).text)
    check_indonesian_days(download(lang="id").text)
    check_indonesian_events(download(lang="id", rows="events").text)
    bad = site.get("/admin/reports/export.csv", params={**RANGE, "lang": "xx"})
    assert bad.status_code == 422
    assert bad.json()["reason"] == "bad_lang"
    assert "lang: one of en, id" in bad.text

    # The account's choice comes before the browser's; the link's before both.
    assert site.post("/admin/language", {"locale": "id"}).status_code == 303
    check_indonesian_days(download({"Accept-Language": "en"}).text)
    assert download({"Accept-Language": "id"}, lang="en").text == ENGLISH_DAYS


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "en"),
        ({"LANG": "id_ID.UTF-8"}, "id"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "id_ID.UTF-8", "LC_ALL": "C"}, "en"),
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "id_ID"}, "id"),
        ({"LANG": "id_ID.UTF-8", "LC_MESSAGES": "fr_FR"}, "en"),
        ({"LANGUAGE": "fr:in:en", "LANG": "en_US"}, "id"),
        ({"LANG": "", "LC_ALL": "", "LC_MESSAGES": "id"}, "id"),
    ],
)
def test_the_language_from_the_environment_as_gettext_reads_it(
    environ: dict[str, str], expected: str
) -> None:
    assert catalogue.from_environment(environ) == expected


# Runs the command with Babel hidden, as on a terminal without the server's packages.
WITHOUT_BABEL = """
import sys
from importlib.abc import MetaPathFinder

class NoBabel(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "babel" or name.startswith("babel."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, NoBabel())
from sync_server.reports_cli import main
sys.exit(main(sys.argv[1:]))
"""


def _attendance(
    *args: str, env: dict[str, str], cwd: Path, babel: bool = True
) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in _base_env(cwd).items()
        if k not in catalogue.LOCALE_VARIABLES  # only what the test gives
    }
    start = ["-m", "sync_server.reports_cli"] if babel else ["-c", WITHOUT_BABEL]
    return subprocess.run(
        [sys.executable, *start, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**base, **env},
        timeout=120,
        check=False,
    )


def _line(output: str, start: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(start))


@pytest.fixture
def server_env(db_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A real server process with tests/reports/test_cli.py's people and punches; the
    environment that points the command at it."""
    extra = 'site_timezone = "Europe/Berlin"'
    with ServerProcess(tmp_path / "server", db_url, ADMIN_TOKEN, extra_toml=extra) as server:
        _seed(server.url, db_url)
        yield {"HADIR_SERVER_URL": server.url, "HADIR_ADMIN_TOKEN": ADMIN_TOKEN}


def test_attendance_in_both_languages_against_a_server(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    env = server_env
    english = _attendance("day", "2026-10-14", env=env, cwd=tmp_path)
    assert english.returncode == 0, english.stderr
    assert english.stdout.splitlines()[0] == "Attendance 2026-10-14 (Europe/Berlin)"
    assert english.stdout.splitlines()[2].split()[:3] == ["person", "name", "group"]
    # LANG=C and --lang en are the English of before, word for word.
    for variant in (
        _attendance("day", "2026-10-14", env={**env, "LANG": "C.UTF-8"}, cwd=tmp_path),
        _attendance(
            "day", "2026-10-14", "--lang", "en", env={**env, "LANG": "id_ID.UTF-8"},
            cwd=tmp_path,
        ),
    ):  # fmt: skip
        assert variant.stdout == english.stdout

    day = _attendance("day", "2026-10-14", "--lang", "id", env=env, cwd=tmp_path)
    assert day.returncode == 0, day.stderr
    from_env = _attendance("day", "2026-10-14", env={**env, "LANG": "id_ID.UTF-8"}, cwd=tmp_path)
    assert from_env.stdout == day.stdout
    lines = day.stdout.splitlines()
    # The date as Babel writes it in Indonesian, the words from the catalogue.
    assert lines[0] == indonesian("Attendance %(day)s (%(zone)s)") % {
        "day": "14 Okt 2026",
        "zone": "Europe/Berlin",
    }
    assert lines[2].split()[0] == "orang"  # "person", a word the web has too
    alice = _line(day.stdout, "alice")
    # Babel's Indonesian clock (08.55), the web's duration, the status and "ok".
    assert "08.55" in alice
    assert "17.05" in alice
    assert "8 j 10 mnt" in alice
    assert "lengkap" in alice
    assert "hanya masuk" in _line(day.stdout, "bob")
    assert "06.10+1" in _line(day.stdout, "nina")
    assert lines[-1].startswith("3 orang: ")

    month = _attendance("month", "2026-10", "--lang", "id", env=env, cwd=tmp_path)
    assert month.returncode == 0, month.stderr
    alice_month = _line(month.stdout, "alice").split()
    # Babel's Indonesian numbers: a decimal comma.
    assert alice_month[-2:] == ["100,0%", "8,17"]
    assert "1 Okt 2026" in month.stdout.splitlines()[0]

    out = tmp_path / "hari.csv"
    export = _attendance(
        "export", "--from", "2026-10-14", "--to", "2026-10-14", "--lang", "id",
        "-o", str(out), env=env, cwd=tmp_path,
    )  # fmt: skip
    assert export.returncode == 0, export.stderr
    header, *rows = _rows(out.read_text())
    assert header == [indonesian(c) for c in DAY_COLUMNS]
    assert [r[DAY_COLUMNS.index("status")] for r in rows] == [
        "lengkap",
        "hanya masuk",
        "lengkap",
    ]
    english_csv = _attendance(
        "export", "--from", "2026-10-14", "--to", "2026-10-14", env=env, cwd=tmp_path
    )
    assert english_csv.stdout.splitlines()[0] == ",".join(DAY_COLUMNS)


def test_an_unknown_language_is_one_clear_error(tmp_path: Path) -> None:
    result = _attendance("today", "--lang", "fr", env={}, cwd=tmp_path)
    assert result.returncode == 2
    assert "'fr' is not a language of hadir: en or id" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_babel_english_works_and_indonesian_says_why(
    server_env: dict[str, str], tmp_path: Path
) -> None:

    def run(*args: str, **more: str) -> subprocess.CompletedProcess[str]:
        return _attendance(*args, env={**server_env, **more}, cwd=tmp_path, babel=False)

    asked = run("day", "2026-10-14", "--lang", "id")
    assert asked.returncode == 2
    assert asked.stderr.strip() == (
        "hadir: --lang id needs Babel, one of the server's packages "
        "(pip install 'hadir[server]'); --lang en works without it"
    )
    # A terminal whose locale is Indonesian still gets its report, in English.
    from_env = run("day", "2026-10-14", LANG="id_ID.UTF-8")
    assert from_env.returncode == 0, from_env.stderr
    assert from_env.stdout.splitlines()[0] == "Attendance 2026-10-14 (Europe/Berlin)"
    # The CSV's words are the server's to translate: no Babel needed here.
    export = run("export", "--from", "2026-10-14", "--to", "2026-10-14", "--lang", "id")
    assert export.returncode == 0, export.stderr
    assert export.stdout.splitlines()[0].split(",")[11] == indonesian("status")
