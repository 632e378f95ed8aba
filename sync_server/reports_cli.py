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
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import httpx

from edge.exit_codes import EXIT_OK, run_handler
from edge.wording import plural
from sync_server.admin_client import AdminApiError, AdminCredentials, load_credentials

REPORTS_PATH = "/api/v1/admin/reports"


def _credentials(args: argparse.Namespace) -> AdminCredentials:
    environ: dict[str, str] = dict(os.environ)
    if args.server:
        environ["HADIR_SERVER_URL"] = args.server
    return load_credentials(args.admin_config, environ=environ)


def _client(args: argparse.Namespace, timeout: float = 120.0) -> httpx.Client:
    credentials = _credentials(args)
    return httpx.Client(
        base_url=credentials.server_url + REPORTS_PATH,
        headers={"Authorization": f"Bearer {credentials.admin_token}"},
        timeout=timeout,
    )


def _failed(response: httpx.Response) -> AdminApiError:
    reason: str | None = None
    detail: Any = response.text[:300]
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        reason = body.get("reason")
        detail = body.get("detail", body)
    if isinstance(detail, list):  # FastAPI's 422: [{loc, msg}, ...]
        detail = "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', [])[1:])}: {item.get('msg')}"
            for item in detail
            if isinstance(item, dict)
        )
    return AdminApiError(
        f"server answered {response.status_code}: {detail}",
        status=response.status_code,
        reason=reason,
    )


def _get_json(client: httpx.Client, path: str, params: dict[str, Any]) -> Any:
    query = {k: v for k, v in params.items() if v is not None}
    try:
        response = client.get(path, params=query)
    except httpx.HTTPError as exc:
        raise AdminApiError(f"cannot reach the server at {client.base_url}: {exc}") from exc
    if response.status_code >= 400:
        raise _failed(response)
    return response.json()


# --- output ---------------------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: IO[str]) -> None:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    for line in (headers, ["-" * w for w in widths], *rows):
        out.write("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        out.write("\n")


def _clock(value: str | None, day: date) -> str:
    """HH:MM on the site's clock, with +1 when it falls on the next calendar day."""
    if value is None:
        return "-"
    moment = datetime.fromisoformat(value)
    shift = (moment.date() - day).days
    return moment.strftime("%H:%M") + (f"{shift:+d}" if shift else "")


def _duration(minutes: int | None) -> str:
    return "-" if minutes is None else f"{minutes // 60}:{minutes % 60:02d}"


def print_day(report: dict[str, Any], out: IO[str]) -> None:
    day = date.fromisoformat(report["date"])
    # A column only on days that have something to review: the usual table stays as it was.
    flagged = [r for r in report["rows"] if r.get("needs_review")]
    corrected = [r for r in report["rows"] if r.get("corrections")]
    rows = []
    for r in report["rows"]:
        late = "-" if r["late"] is None else (f"late {r['late_minutes']}m" if r["late"] else "ok")
        shift = r["shift"]
        rows.append(
            [
                r["person_id"],
                r["name"],
                r["group"],
                r["department"] or "-",
                f"{shift['name']} {shift['start'][:5]}" if shift else "-",
                _clock(r["first_in"], day) + ("*" if r.get("first_in_corrected") else ""),
                _clock(r["last_out"], day) + ("*" if r.get("last_out_corrected") else ""),
                _duration(r["worked_minutes"]),
                day_status(r),
                late,
                *([_review_cell(r.get("needs_review", 0))] if flagged else []),
            ]
        )
    out.write(f"Attendance {report['date']} ({report['timezone']})\n\n")
    headers = [
        "person", "name", "group", "department", "shift",
        "first in", "last out", "worked", "status", "late",
        *(["review"] if flagged else []),
    ]  # fmt: skip
    _table(headers, rows, out)
    out.write(f"\n{day_totals(report['totals'])}\n")
    for r in corrected:
        for c in r["corrections"]:
            verb = "added" if c["action"] == "add" else "voided"
            at = _clock(c["at"], day)
            out.write(f"corrected: {r['person_id']} {verb} {c['kind']} {at}: {c['reason']}\n")
    if any(r.get("first_in_corrected") or r.get("last_out_corrected") for r in corrected):
        out.write("* added by an admin (a correction)\n")
    if flagged:
        count = sum(r["needs_review"] for r in flagged)
        out.write(
            f"needs review: {plural(count, 'event')} whose liveness check failed "
            f"({', '.join(r['person_id'] for r in flagged)}); see hadir review list\n"
        )


# The day's status in words (English for now; the i18n work translates these).
STATUS_WORDS = {
    "complete": "complete",
    "in_only": "in only",
    "out_only": "out only",
    "absent": "absent",
    "not_yet": "not yet",
    "holiday": "holiday",
    "day_off": "day off",
    "not_working": "not a working day",
    "leave": "leave",
}


def day_status(row: dict[str, Any]) -> str:
    """The status cell: the status, with the holiday's name or the leave's kind."""
    status = str(row["status"])
    text = STATUS_WORDS.get(status, status.replace("_", " "))
    day_off = row.get("day_off")
    leave = row.get("leave")
    if status in ("holiday", "day_off") and day_off:
        text += f": {day_off['name']}"
    if leave:
        text = (
            f"leave: {leave['code']}" if status == "leave" else f"{text} (leave: {leave['code']})"
        )
    return text


def _review_cell(count: int) -> str:
    if not count:
        return ""
    return "needs review" if count == 1 else f"needs review ({count})"


def day_totals(t: dict[str, int]) -> str:
    """The day's counts in one line, as the web page says them too."""
    text = (
        f"{plural(t['people'], 'person')}: {t['complete']} complete, {t['in_only']} in only, "
        f"{t['out_only']} out only, {t['absent']} absent, {t['not_yet']} not yet due"
    )
    # The calendar's statuses only when they occur: the usual line stays as it was.
    extra = [
        f"{t[key]} {word}"
        for key, word in (
            ("leave", "on leave"),
            ("holiday", "on holiday"),
            ("day_off", "on a day off"),
            ("not_working", "not working"),
        )
        if t.get(key)
    ]
    return text + "".join(f", {part}" for part in extra) + f"; {t['late']} late"


def _leave_cell(days: dict[str, int]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in days.items()) or "-"


def print_month(report: dict[str, Any], out: IO[str]) -> None:
    rows = [
        [
            r["person_id"] + ("*" if r.get("corrected") else ""),
            r["name"],
            r["group"],
            r["shift"]["name"] if r["shift"] else "-",
            str(r.get("working_days", "-")),
            str(r["days_present"]),
            str(r.get("days_absent", "-")),
            _leave_cell(r.get("days_on_leave", {})),
            str(r["days_complete"]),
            "-" if r["days_late"] is None else str(r["days_late"]),
            "-" if r["punctuality_pct"] is None else f"{r['punctuality_pct']:.1f}%",
            f"{r['worked_hours']:.2f}",  # rounded by the server (reports.worked_hours)
        ]
        for r in report["rows"]
    ]
    out.write(
        f"Attendance {report['month']} ({report['first_day']} to {report['last_day']}, "
        f"{report['timezone']})\n\n"
    )
    _table(MONTH_HEADERS, rows, out)
    if any(r.get("corrected") for r in report["rows"]):
        out.write("\n* numbers include an admin's correction\n")


# The month table's headers (English for now; the i18n work translates them).
MONTH_HEADERS = [
    "person", "name", "group", "shift", "working", "present", "absent", "leave",
    "complete", "late", "punctual", "hours",
]  # fmt: skip


# --- commands -------------------------------------------------------------------------------------


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    return {"group": args.group, "department": args.department}


def _show(args: argparse.Namespace, report: Any, printer: Any) -> int:
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        printer(report, sys.stdout)
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
                params["rows"] = args.rows
                written = _stream_csv(client, params, target)
    finally:
        target.flush()
        if close:
            target.close()
    if close:
        noun = {"hrms": "checkin", "days": "person-day row", "events": "event row"}
        what = plural(written, noun["hrms" if args.format == "hrms" else args.rows])
        print(f"wrote {what} to {args.output}", file=sys.stderr)
    return EXIT_OK


def _stream_csv(client: httpx.Client, params: dict[str, Any], target: IO[bytes]) -> int:
    query = {k: v for k, v in params.items() if v is not None}
    lines = 0
    try:
        with client.stream("GET", "/export.csv", params=query) as response:
            if response.status_code >= 400:
                response.read()
                raise _failed(response)
            for chunk in response.iter_bytes():
                target.write(chunk)
                lines += chunk.count(b"\n")
    except httpx.HTTPError as exc:
        raise AdminApiError(f"export from {client.base_url} failed: {exc}") from exc
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
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--server",
        default=None,
        help="server URL, e.g. http://server:8600 (default: $HADIR_SERVER_URL, else "
        "server_url in the admin config)",
    )
    common.add_argument(
        "--admin-config",
        type=Path,
        default=None,
        help="TOML with server_url and admin_token(_file) (default ~/.config/hadir/admin.toml); "
        "HADIR_ADMIN_TOKEN overrides it",
    )
    common.add_argument("--group", default=None, help="only people of this group")
    common.add_argument("--department", default=None, help="only people of this department")
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
