"""``hadir attendance ...``: attendance reports from a running server, over HTTP.

    hadir attendance today [--group G] [--department D] [--json]
    hadir attendance day 2026-11-25
    hadir attendance month 2026-11
    hadir attendance export --from 2026-11-01 --to 2026-11-30 [--rows events] [-o FILE]
    hadir attendance export --from ... --to ... --format hrms     # Employee Checkin JSON

The server URL comes from ``--server``, ``HADIR_SERVER_URL`` or the admin config file; the
admin token from ``HADIR_ADMIN_TOKEN`` (or ``HADIR_ADMIN_TOKEN_FILE``) or the admin config
file (``--admin-config``, default ``~/.config/hadir/admin.toml``), never from the command line:
see :mod:`sync_server.admin_client`. edge/cli.py, where the ``hadir`` command is
composed, adds these with ``add_reports_parser(sub)``; ``python -m
sync_server.reports_cli`` runs it alone. Importing this module needs only httpx and
the standard library (a terminal's ``hadir --help`` too).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import httpx

from edge.errors import HadirError
from edge.exit_codes import EXIT_OK, run_handler
from edge.wording import plural
from sync_server.admin_client import (
    AdminApiError,
    credentials,
    download,
    refused,
    server_options,
)
from sync_server.catalogue import DEFAULT, LOCALES, N_, STATUS_WORDS, from_environment

REPORTS_PATH = "/api/v1/admin/reports"


def _client(args: argparse.Namespace, timeout: float = 120.0) -> httpx.Client:
    found = credentials(args)
    return httpx.Client(
        base_url=found.server_url + REPORTS_PATH,
        headers={"Authorization": f"Bearer {found.admin_token}"},
        timeout=timeout,
    )


def _get_json(client: httpx.Client, path: str, params: dict[str, Any]) -> Any:
    query = {k: v for k, v in params.items() if v is not None}
    try:
        response = client.get(path, params=query)
    except httpx.HTTPError as exc:
        raise AdminApiError(f"cannot reach the server at {client.base_url}: {exc}") from exc
    if response.status_code >= 400:
        raise refused(response)
    return response.json()


# --- output ---------------------------------------------------------------------------------------


class NeedsBabelError(HadirError):
    """Another language than English asked for where Babel (the server's packages) is
    missing, as on a terminal."""


@dataclass(frozen=True)
class Words:
    """The output's words, dates and numbers in one language.

    ``lang`` is the admin web's :class:`sync_server.web.i18n.Lang` (the one catalogue, Babel's
    formats); None is English as this command has always printed it: ISO dates, plain
    numbers, and no Babel needed (a terminal has none).
    """

    lang: Any = None

    def __call__(self, message: str, **variables: Any) -> str:
        if self.lang is None:
            return message % variables if variables else message
        text: str = self.lang.gettext(message, **variables)
        return text

    def count(self, n: int, noun: str, many: str | None = None) -> str:
        if self.lang is None:
            return plural(n, noun, many)
        text: str = self.lang.plural(n, noun, many)
        return text

    def day(self, iso: str) -> str:
        return iso if self.lang is None else str(self.lang.format_date(iso))

    def clock(self, moment: datetime) -> str:
        return moment.strftime("%H:%M") if self.lang is None else str(self.lang.format_time(moment))

    def duration(self, minutes: int) -> str:
        if self.lang is None:
            return f"{minutes // 60}:{minutes % 60:02d}"
        return str(self.lang.duration(minutes))

    def number(self, value: float, digits: int = 0) -> str:
        if self.lang is None:
            return f"{value:.{digits}f}"
        return str(self.lang.format_decimal(value, digits))

    def percent(self, value: float) -> str:
        """``value`` in percent (95.5), to a tenth."""
        if self.lang is None:
            return f"{value:.1f}%"
        return str(self.lang.format_percent(value / 100))


ENGLISH = Words()


def words_for(locale: str, *, asked: bool) -> Words:
    """The words of ``locale``; without Babel, English when the language only came from the
    environment, one clear error when ``--lang`` asked for it."""
    if locale == DEFAULT:
        return ENGLISH
    try:
        from sync_server.web import i18n
    except ImportError as exc:
        if not asked:
            return ENGLISH
        raise NeedsBabelError(
            f"--lang {locale} needs Babel, one of the server's packages "
            "(pip install 'hadir[server]'); --lang en works without it"
        ) from exc
    return Words(i18n.lang(locale))


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: IO[str]) -> None:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    for line in (headers, ["-" * w for w in widths], *rows):
        out.write("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        out.write("\n")


def _clock(value: str | None, day: date, words: Words = ENGLISH) -> str:
    """HH:MM on the site's clock, with +1 when it falls on the next calendar day."""
    if value is None:
        return "-"
    moment = datetime.fromisoformat(value)
    shift = (moment.date() - day).days
    return words.clock(moment) + (f"{shift:+d}" if shift else "")


def _duration(minutes: int | None, words: Words = ENGLISH) -> str:
    return "-" if minutes is None else words.duration(minutes)


def print_day(report: dict[str, Any], out: IO[str], words: Words = ENGLISH) -> None:
    day = date.fromisoformat(report["date"])
    # A column only on days that have something to review: the usual table stays as it was.
    flagged = [r for r in report["rows"] if r.get("needs_review")]
    corrected = [r for r in report["rows"] if r.get("corrections")]
    rows = []
    for r in report["rows"]:
        late = (
            "-"
            if r["late"] is None
            else (
                words(N_("late %(minutes)sm"), minutes=r["late_minutes"])
                if r["late"]
                else words(N_("ok"))
            )
        )
        shift = r["shift"]
        rows.append(
            [
                r["person_id"],
                r["name"],
                r["group"],
                r["department"] or "-",
                f"{shift['name']} {shift['start'][:5]}" if shift else "-",
                _clock(r["first_in"], day, words) + ("*" if r.get("first_in_corrected") else ""),
                _clock(r["last_out"], day, words) + ("*" if r.get("last_out_corrected") else ""),
                _duration(r["worked_minutes"], words),
                day_status(r, words),
                late,
                *([_review_cell(r.get("needs_review", 0), words)] if flagged else []),
            ]
        )
    out.write(
        words(
            N_("Attendance %(day)s (%(zone)s)"),
            day=words.day(report["date"]),
            zone=report["timezone"],
        )
        + "\n\n"
    )
    headers = [words(h) for h in (*DAY_HEADERS, *([REVIEW_HEADER] if flagged else []))]
    _table(headers, rows, out)
    out.write(f"\n{day_totals(report['totals'], words)}\n")
    for r in corrected:
        for c in r["corrections"]:
            out.write(
                words(
                    N_("corrected: %(person)s %(verb)s %(kind)s %(at)s: %(reason)s"),
                    person=r["person_id"],
                    verb=words(ADDED if c["action"] == "add" else VOIDED),
                    kind=words(c["kind"]),
                    at=_clock(c["at"], day, words),
                    reason=c["reason"],
                )
                + "\n"
            )
    if any(r.get("first_in_corrected") or r.get("last_out_corrected") for r in corrected):
        out.write(words(N_("* added by an admin (a correction)")) + "\n")
    if flagged:
        count = sum(r["needs_review"] for r in flagged)
        out.write(
            words(
                N_(
                    "needs review: %(events)s whose liveness check failed (%(people)s); "
                    "see hadir review list"
                ),
                events=words.count(count, N_("event")),
                people=", ".join(r["person_id"] for r in flagged),
            )
            + "\n"
        )


# The day table's headers; the review column only on days with events to review.
DAY_HEADERS = [
    N_("person"), N_("name"), N_("group"), N_("department"), N_("shift"),
    N_("first in"), N_("last out"), N_("worked"), N_("status"), N_("late"),
]  # fmt: skip
REVIEW_HEADER = N_("review")
ADDED, VOIDED = N_("added"), N_("voided")
KINDS = (N_("in"), N_("out"))


def day_status(row: dict[str, Any], words: Words = ENGLISH) -> str:
    """The status cell: the status, with the holiday's name or the leave's kind."""
    status = str(row["status"])
    known = STATUS_WORDS.get(status)
    text = words(known) if known else status.replace("_", " ")
    day_off = row.get("day_off")
    leave = row.get("leave")
    if status in ("holiday", "day_off") and day_off:
        text += f": {day_off['name']}"
    if leave:
        text = (
            words(N_("leave: %(code)s"), code=leave["code"])
            if status == "leave"
            else words(N_("%(status)s (leave: %(code)s)"), status=text, code=leave["code"])
        )
    return text


def _review_cell(count: int, words: Words = ENGLISH) -> str:
    if not count:
        return ""
    if count == 1:
        return words(N_("needs review"))
    return words(N_("needs review (%(count)s)"), count=count)


def day_totals(t: dict[str, int], words: Words = ENGLISH) -> str:
    """The day's counts in one line, as the web page says them too."""
    text = words(
        N_(
            "%(people)s: %(complete)s complete, %(in_only)s in only, %(out_only)s out only, "
            "%(absent)s absent, %(not_yet)s not yet due"
        ),
        people=words.count(t["people"], N_("person")),
        **{key: t[key] for key in ("complete", "in_only", "out_only", "absent", "not_yet")},
    )
    # The calendar's statuses only when they occur: the usual line stays as it was.
    extra = [
        words(phrase, n=t[key])
        for key, phrase in (
            ("leave", N_("%(n)s on leave")),
            ("holiday", N_("%(n)s on holiday")),
            ("day_off", N_("%(n)s on a day off")),
            ("not_working", N_("%(n)s not working")),
        )
        if t.get(key)
    ]
    late = words(N_("%(n)s late"), n=t["late"])
    return text + "".join(f", {part}" for part in extra) + f"; {late}"


def _leave_cell(days: dict[str, int], words: Words = ENGLISH) -> str:
    return ", ".join(f"{kind} {words.number(n)}" for kind, n in days.items()) or "-"


def _count(value: int | None, words: Words) -> str:
    return "-" if value is None else words.number(value)


def print_month(report: dict[str, Any], out: IO[str], words: Words = ENGLISH) -> None:
    rows = [
        [
            r["person_id"] + ("*" if r.get("corrected") else ""),
            r["name"],
            r["group"],
            r["shift"]["name"] if r["shift"] else "-",
            _count(r.get("working_days"), words),
            _count(r["days_present"], words),
            _count(r.get("days_absent"), words),
            _leave_cell(r.get("days_on_leave", {}), words),
            _count(r["days_complete"], words),
            _count(r["days_late"], words),
            "-" if r["punctuality_pct"] is None else words.percent(r["punctuality_pct"]),
            words.number(r["worked_hours"], 2),  # rounded by the server (reports.worked_hours)
        ]
        for r in report["rows"]
    ]
    out.write(
        words(
            N_("Attendance %(month)s (%(first)s to %(last)s, %(zone)s)"),
            month=report["month"],
            first=words.day(report["first_day"]),
            last=words.day(report["last_day"]),
            zone=report["timezone"],
        )
        + "\n\n"
    )
    _table([words(h) for h in MONTH_HEADERS], rows, out)
    if any(r.get("corrected") for r in report["rows"]):
        out.write("\n" + words(N_("* numbers include an admin's correction")) + "\n")


# The month table's headers.
MONTH_HEADERS = [
    N_("person"), N_("name"), N_("group"), N_("shift"), N_("working"), N_("present"),
    N_("absent"), N_("leave"), N_("complete"), N_("late"), N_("punctual"), N_("hours"),
]  # fmt: skip


# --- commands -------------------------------------------------------------------------------------


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    return {"group": args.group, "department": args.department}


def _locale(args: argparse.Namespace) -> str:
    """``--lang``, else the environment's language as gettext reads it, else English."""
    return str(args.lang) if args.lang else from_environment(os.environ)


def _show(args: argparse.Namespace, report: Any, printer: Any) -> int:
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        printer(report, sys.stdout, words_for(_locale(args), asked=args.lang is not None))
    return EXIT_OK


def cmd_today(args: argparse.Namespace) -> int:
    with _client(args) as client:
        report = _get_json(client, "/day", _filters(args))
    return _show(args, report, print_day)


def cmd_day(args: argparse.Namespace) -> int:
    with _client(args) as client:
        report = _get_json(client, "/day", {"date": args.date.isoformat(), **_filters(args)})
    return _show(args, report, print_day)


def cmd_month(args: argparse.Namespace) -> int:
    with _client(args) as client:
        report = _get_json(client, "/month", {"month": args.month, **_filters(args)})
    return _show(args, report, print_month)


def cmd_export(args: argparse.Namespace) -> int:
    params = {"from": args.first.isoformat(), "to": args.last.isoformat(), **_filters(args)}
    locale = _locale(args)
    target: IO[bytes]
    close = False
    if args.output is None or str(args.output) == "-":
        target = sys.stdout.buffer
    else:
        target = args.output.open("wb")
        close = True
    try:
        with _client(args, timeout=600.0) as client:
            if args.format == "hrms":
                checkins = _get_json(client, "/hrms-checkins", params)
                target.write(json.dumps(checkins, indent=2).encode() + b"\n")
                written = len(checkins)
            else:
                # The server translates the CSV's words: no Babel needed here.
                params["rows"] = args.rows
                params["lang"] = locale
                written = _stream_csv(client, params, target)
    finally:
        target.flush()
        if close:
            target.close()
    if close:
        words = words_for(locale, asked=False)
        noun = {"hrms": N_("checkin"), "days": N_("person-day row"), "events": N_("event row")}
        what = words.count(written, noun["hrms" if args.format == "hrms" else args.rows])
        print(words(N_("wrote %(what)s to %(file)s"), what=what, file=args.output), file=sys.stderr)
    return EXIT_OK


def _stream_csv(client: httpx.Client, params: dict[str, Any], target: IO[bytes]) -> int:
    query = {k: v for k, v in params.items() if v is not None}
    lines = 0
    for chunk in download(client, "/export.csv", query, "export"):
        target.write(chunk)
        lines += chunk.count(b"\n")
    return max(0, lines - 1)  # the header


# --- parser ---------------------------------------------------------------------------------------


def _month_arg(value: str) -> str:
    try:
        parsed = datetime.strptime(value, "%Y-%m")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not YYYY-MM") from exc
    return parsed.strftime("%Y-%m")


def _date_arg(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not YYYY-MM-DD") from exc


def _lang_arg(value: str) -> str:
    if value not in LOCALES:
        raise argparse.ArgumentTypeError(f"{value!r} is not a language of hadir: en or id")
    return value


def add_reports_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``attendance`` with its subcommands to an argparse subparsers object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "attendance",
        help="attendance reports from the server (day, month, CSV, HRMS)",
        description="Attendance reports from a running hadir server, over its admin API. "
        "Credentials: HADIR_SERVER_URL / --server and HADIR_ADMIN_TOKEN, or an admin config.",
    )
    _add_commands(parser)
    return parser


def _add_commands(parser: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False, parents=[server_options()])
    common.add_argument("--group", default=None, help="only people of this group")
    common.add_argument("--department", default=None, help="only people of this department")
    common.add_argument(
        "--lang",
        type=_lang_arg,
        default=None,
        metavar="{en,id}",
        help="language of the words, dates and numbers: en or id (default: from LANGUAGE, "
        "LC_ALL, LC_MESSAGES or LANG, else en); the CSV's words too",
    )
    shown = argparse.ArgumentParser(add_help=False)
    shown.add_argument("--json", action="store_true", help="print the server's JSON answer")

    sub = parser.add_subparsers(dest="attendance_command", metavar="COMMAND", required=True)
    p = sub.add_parser(
        "today",
        parents=[common, shown],
        help="who is in today: first in, last out, status, lateness",
        description="Today's day view (the site's date).",
    )
    p.set_defaults(handler=cmd_today)

    p = sub.add_parser(
        "day",
        parents=[common, shown],
        help="the day view of a date",
        description="Day view: one row per person for the shift day DATE.",
    )
    p.add_argument("date", type=_date_arg, metavar="DATE", help="YYYY-MM-DD")
    p.set_defaults(handler=cmd_day)

    p = sub.add_parser(
        "month",
        parents=[common, shown],
        help="monthly summary per person",
        description="Days present, complete, late, punctuality and hours per person.",
    )
    p.add_argument("month", type=_month_arg, metavar="YYYY-MM")
    p.set_defaults(handler=cmd_month)

    p = sub.add_parser(
        "export",
        parents=[common],
        help="CSV (or HRMS checkin JSON) for a date range",
        description="Stream the CSV export (or the Employee Checkin JSON) of a date range.",
    )
    p.add_argument("--from", dest="first", type=_date_arg, required=True, help="YYYY-MM-DD")
    p.add_argument("--to", dest="last", type=_date_arg, required=True, help="YYYY-MM-DD")
    p.add_argument(
        "--rows",
        choices=("days", "events"),
        default="days",
        help="CSV rows: one per person-day (default) or one per event",
    )
    p.add_argument(
        "--format",
        choices=("csv", "hrms"),
        default="csv",
        help="csv (default) or hrms: Frappe Employee Checkin records as JSON",
    )
    p.add_argument("-o", "--output", type=Path, default=None, help="file (default stdout)")
    p.set_defaults(handler=cmd_export)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sync_server.reports_cli",
        description="hadir attendance reports (hadir attendance ...).",
    )
    _add_commands(parser)
    # Alone, a request the server refused exits 1; under `hadir` (edge/cli.py) it exits 2.
    return run_handler(parser.parse_args(argv), failed=(AdminApiError,))


if __name__ == "__main__":
    sys.exit(main())
