"""``hadir calendar ...``: its arguments, and its commands against the real app (in process,
through the app's test transport), on SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from edge.cli import build_parser
from edge.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE, run_handler
from sync_server import calendar_cli
from sync_server.admin_client import AdminCredentials
from sync_server.calendar_client import CalendarClient
from tests.server.helpers import ADMIN_TOKEN, Api
from tests.support import ROOT

Run = Callable[..., int]


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["calendar", *argv])


def test_the_arguments_are_read_as_documented() -> None:
    args = _args(
        "day-off", "add", "2026-03-18", "Cuti bersama", "--to", "2026-03-24", "--kind", "day_off"
    )
    assert (args.date, args.to, args.name, args.kind) == (
        date(2026, 3, 18),
        date(2026, 3, 24),
        "Cuti bersama",
        "day_off",
    )
    assert args.handler is calendar_cli.cmd_day_off_add
    args = _args("import", "libur.ics", "--dry-run", "--year", "2027")
    assert (args.dry_run, args.year, args.file, args.kind) == (
        True,
        2027,
        Path("libur.ics"),
        "holiday",
    )
    args = _args("week", "set", "*", "Mon-Sat")
    assert (args.group, args.week, args.handler) == ("*", "Mon-Sat", calendar_cli.cmd_week_set)
    args = _args("day-off", "delete", "2026-01-01", "2026-01-02")
    assert args.dates == [date(2026, 1, 1), date(2026, 1, 2)]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["day-off", "add", "18-03-2026", "x"], "'18-03-2026' is not a date (YYYY-MM-DD)"),
        (["day-off", "add", "2026-03-18", "x", "--kind", "cuti"], "invalid choice: 'cuti'"),
        (["day-off", "list", "--year", "26"], "'26' is not a year"),
        (["week", "set", "pabrik"], "the following arguments are required: WEEK"),
        (["import"], "the following arguments are required: FILE"),
    ],
)
def test_bad_arguments_exit_2_naming_the_problem(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        _args(*argv)
    assert exited.value.code == 2
    assert words in capsys.readouterr().err


def test_hadir_help_lists_calendar_without_the_server_packages() -> None:
    # The module imports only httpx and the standard library: what a terminal has.
    code = (
        "import sys; import sync_server.calendar_cli; "
        "heavy = [m for m in ('sqlalchemy', 'fastapi', 'pydantic') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert found.stdout.strip() == ""


@pytest.fixture
def hadir(api: Api, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run ``hadir calendar ...`` in this process against the test app."""

    def client(_args: argparse.Namespace) -> CalendarClient:
        credentials = AdminCredentials("http://testserver", ADMIN_TOKEN)
        # The test client's transport calls the app in process, as a socket would.
        return CalendarClient(credentials, transport=api.client._transport)

    monkeypatch.setattr(calendar_cli, "_client", client)

    def run(*argv: str) -> int:
        return run_handler(build_parser().parse_args(["calendar", *argv]))

    return run


def test_weeks_from_the_command_line(hadir: Run, capsys: pytest.CaptureFixture[str]) -> None:
    run = hadir
    assert run("week", "set", "*", "Mon-Sat") == EXIT_OK
    assert capsys.readouterr().out == "* (site default): works Mon-Sat (1111110)\n"
    assert run("week", "set", "kantor", "Mon-Fri") == EXIT_OK
    capsys.readouterr()
    assert run("week", "list") == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["group", "week", "days", "shift"]
    assert lines[1].split() == ["*", "(site", "default)", "Mon-Sat", "1111110", "-"]
    assert lines[2].split() == ["kantor", "Mon-Fri", "1111100", "-"]
    assert run("week", "unset", "kantor") == EXIT_OK
    assert "works the site's default week" in capsys.readouterr().out
    assert run("week", "unset", "kantor") == EXIT_USAGE
    assert "group 'kantor' has no week of its own" in capsys.readouterr().err
    assert run("week", "set", "kantor", "Mon-Funday") == EXIT_USAGE
    assert "not a week" in capsys.readouterr().err


def test_days_off_from_the_command_line(hadir: Run, capsys: pytest.CaptureFixture[str]) -> None:
    run = hadir
    added = run(
        "day-off", "add", "2026-03-18", "Cuti bersama", "--to", "2026-03-20", "--kind", "day_off"
    )
    assert added == EXIT_OK
    assert capsys.readouterr().out == (
        "added 3 days off (day_off): 2026-03-18 to 2026-03-20 Cuti bersama\n"
    )
    assert run("day-off", "add", "2026-03-20", "Idul Fitri") == EXIT_USAGE
    assert "already a day off: 2026-03-20 (Cuti bersama)" in capsys.readouterr().err
    assert run("day-off", "rename", "2026-03-20", "Idul Fitri", "--kind", "holiday") == EXIT_OK
    assert capsys.readouterr().out == "2026-03-20: Idul Fitri (holiday)\n"
    assert run("day-off", "delete", "2026-03-19") == EXIT_OK
    capsys.readouterr()
    assert run("day-off", "list", "--year", "2026", "--json") == EXIT_OK
    listed = json.loads(capsys.readouterr().out)["days_off"]
    assert [(d["day"], d["kind"], d["name"]) for d in listed] == [
        ("2026-03-18", "day_off", "Cuti bersama"),
        ("2026-03-20", "holiday", "Idul Fitri"),
    ]
    assert run("day-off", "list", "--year", "2027") == EXIT_OK
    assert capsys.readouterr().out == "no days off\n"


def test_an_import_prints_every_line_and_exits_1_when_one_was_refused(
    hadir: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = hadir
    sheet = tmp_path / "libur.csv"
    sheet.write_text("date,name,kind\n2026-12-25,Hari Raya Natal,holiday\n2026-12-32,x\n")
    assert run("import", str(sheet), "--dry-run") == EXIT_FAILED
    out = capsys.readouterr().out
    assert "csv (preview, nothing changed, yearly rules for" in out
    assert "1 added, 0 updated, 0 already there, 1 refused" in out
    assert "'2026-12-32' is not a date (YYYY-MM-DD)" in out
    assert run("day-off", "list") == EXIT_OK
    assert capsys.readouterr().out == "no days off\n"

    sheet.write_text("date,name,kind\n2026-12-25,Hari Raya Natal,holiday\n")
    assert run("import", str(sheet)) == EXIT_OK
    assert "csv (imported" in capsys.readouterr().out
    assert run("import", str(sheet), "--json") == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert (report["unchanged"], report["added"]) == (1, 0)
    assert run("import", str(tmp_path / "missing.ics")) == EXIT_USAGE
    assert "missing.ics: cannot read" in capsys.readouterr().err
