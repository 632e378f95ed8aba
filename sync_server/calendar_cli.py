"""``hadir calendar ...``: the site's working calendar from the command line, over the admin API.

    hadir calendar week list
    hadir calendar week set pabrik Mon-Sat          # '*' is the site's default week
    hadir calendar week unset pabrik
    hadir calendar day-off list --year 2026
    hadir calendar day-off add 2026-03-18 --to 2026-03-24 "Cuti bersama Idul Fitri" --kind day_off
    hadir calendar day-off rename 2026-03-20 "Hari Raya Idul Fitri"
    hadir calendar day-off delete 2026-03-24
    hadir calendar import libur-2026.ics --dry-run

Credentials come from the environment or an admin config file (sync_server/admin_client.py),
never from the command line. Light imports only: ``hadir --help`` runs on terminals without
the server's packages. docs/calendar.md describes the commands.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import IO, Any

from edge.exit_codes import EXIT_FAILED, EXIT_OK
from edge.wording import plural
from sync_server.admin_client import add_admin_config_arg, load_credentials
from sync_server.calendar_client import CalendarClient

KINDS = ("holiday", "day_off")


def _client(args: argparse.Namespace) -> CalendarClient:
    return CalendarClient(load_credentials(args.admin_config))


def _json(answer: Any, out: IO[str]) -> None:
    json.dump(answer, out, indent=2, ensure_ascii=False)
    out.write("\n")


def _table(rows: list[list[str]], out: IO[str]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def _group(name: str) -> str:
    return "* (site default)" if name == "*" else name


# --- weeks ----------------------------------------------------------------------------------


def print_weeks(answer: dict[str, Any], out: IO[str]) -> None:
    rows = [["group", "week", "days", "shift"]]
    for week in answer["weeks"]:
        shift = week["shift"]
        rows.append(
            [
                _group(week["group"]),
                week["described"] + ("" if week["own"] else " (default)"),
                week["weekdays"],
                f"{shift['name']} {shift['start'][:5]}-{shift['end'][:5]}" if shift else "-",
            ]
        )
    _table(rows, out)


def cmd_week_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        answer = client.weeks()
    (_json if args.json else print_weeks)(answer, sys.stdout)
    return EXIT_OK


def cmd_week_set(args: argparse.Namespace) -> int:
    with _client(args) as client:
        week = client.set_week(args.group, args.week)
    print(f"{_group(week['group'])}: works {week['described']} ({week['weekdays']})")
    return EXIT_OK


def cmd_week_unset(args: argparse.Namespace) -> int:
    with _client(args) as client:
        client.unset_week(args.group)
    fallback = "Monday to Friday" if args.group == "*" else "the site's default week"
    print(f"{_group(args.group)}: own week removed; works {fallback}")
    return EXIT_OK


# --- days off -------------------------------------------------------------------------------


def print_days_off(answer: dict[str, Any], out: IO[str]) -> None:
    days = answer["days_off"]
    if not days:
        out.write("no days off\n")
        return
    rows = [["date", "day", "kind", "name"]]
    rows += [[d["day"], d["weekday"], d["kind"], d["name"]] for d in days]
    _table(rows, out)


def cmd_day_off_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        answer = client.days_off(args.year)
    (_json if args.json else print_days_off)(answer, sys.stdout)
    return EXIT_OK


def cmd_day_off_add(args: argparse.Namespace) -> int:
    with _client(args) as client:
        answer = client.add_days_off(
            args.date.isoformat(),
            args.name,
            to=args.to.isoformat() if args.to else None,
            kind=args.kind,
        )
    days = answer["days_off"]
    span = days[0]["day"] + (f" to {days[-1]['day']}" if len(days) > 1 else "")
    print(f"added {plural(len(days), 'day off', 'days off')} ({args.kind}): {span} {args.name}")
    return EXIT_OK


def cmd_day_off_rename(args: argparse.Namespace) -> int:
    with _client(args) as client:
        day = client.update_day_off(args.date.isoformat(), name=args.name, kind=args.kind)
    print(f"{day['day']}: {day['name']} ({day['kind']})")
    return EXIT_OK


def cmd_day_off_delete(args: argparse.Namespace) -> int:
    with _client(args) as client:
        for day in args.dates:
            client.delete_day_off(day.isoformat())
            print(f"{day.isoformat()}: day off deleted")
    return EXIT_OK


# --- import ---------------------------------------------------------------------------------


def print_report(report: dict[str, Any], out: IO[str]) -> None:
    rows = [["line", "date", "result", "name", "why"]]
    for line in report["lines"]:
        rows.append(
            [
                str(line["line"]),
                line["day"] or "-",
                line["outcome"],
                line["name"] or "-",
                line["detail"] if line["outcome"] in ("refused", "updated") else "",
            ]
        )
    if len(rows) > 1:
        _table(rows, out)
        out.write("\n")
    what = "preview, nothing changed" if report["dry_run"] else "imported"
    out.write(
        f"{report['format']} ({what}, yearly rules for {report['year']}): "
        f"{report['added']} added, {report['updated']} updated, "
        f"{report['unchanged']} already there, {report['refused']} refused\n"
    )


def cmd_import(args: argparse.Namespace) -> int:
    with _client(args) as client:
        report = client.import_file(
            args.file,
            dry_run=args.dry_run,
            year=args.year,
            kind=args.kind,
            file_format=args.format,
        )
    (_json if args.json else print_report)(report, sys.stdout)
    # Refused lines are work not done: exit 1, so a script notices (the rest was imported).
    return EXIT_FAILED if report["refused"] else EXIT_OK


# --- parser ---------------------------------------------------------------------------------


def _date_arg(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from exc


def _year_arg(value: str) -> int:
    if not value.isdigit() or not 1900 <= int(value) <= 2999:
        raise argparse.ArgumentTypeError(f"{value!r} is not a year")
    return int(value)


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    add_admin_config_arg(common)
    return common


def add_calendar_parsers(sub: Any) -> None:
    """Add the calendar commands to the ``hadir`` command."""
    common = _common()
    shown = argparse.ArgumentParser(add_help=False)
    shown.add_argument("--json", action="store_true", help="print the server's JSON answer")
    calendar = sub.add_parser(
        "calendar",
        help="the site's working weeks and days off (holidays), and their import",
        description="The working calendar through the server's admin API: which weekdays "
        "each group works, and the site's public holidays and company days off "
        "(docs/calendar.md).",
    )
    calendar_sub = calendar.add_subparsers(
        dest="calendar_command", metavar="COMMAND", required=True
    )

    week = calendar_sub.add_parser(
        "week", help="working weeks per group", description="Working weeks per group."
    )
    week_sub = week.add_subparsers(dest="week_command", metavar="COMMAND", required=True)
    p = week_sub.add_parser(
        "list",
        parents=[common, shown],
        help="the week and shift of the site default and every group",
        description="The working week of the site's default (*) and of every group, with "
        "the group's shift.",
    )
    p.set_defaults(handler=cmd_week_list)
    p = week_sub.add_parser(
        "set",
        parents=[common],
        help="set a group's working week",
        description="Set GROUP's working week ('*', quoted in a shell: the site's default).",
    )
    p.add_argument("group", metavar="GROUP", help="a group, or '*' for the site default")
    p.add_argument(
        "week", metavar="WEEK", help="Mon-Fri, Mon-Sat, Mon,Wed,Fri or 7 characters (1111110)"
    )
    p.set_defaults(handler=cmd_week_set)
    p = week_sub.add_parser(
        "unset",
        parents=[common],
        help="remove a group's own week (it works the default again)",
        description="Remove GROUP's own week: it works the site's default again ('*': the "
        "default goes back to Monday to Friday).",
    )
    p.add_argument("group", metavar="GROUP", help="a group, or '*' for the site default")
    p.set_defaults(handler=cmd_week_unset)

    day_off = calendar_sub.add_parser(
        "day-off",
        help="the site's public holidays and company days off",
        description="The site's days off: never working days, never absences.",
    )
    day_sub = day_off.add_subparsers(dest="day_off_command", metavar="COMMAND", required=True)
    p = day_sub.add_parser(
        "list", parents=[common, shown], help="days off (of a year)", description="Days off."
    )
    p.add_argument("--year", type=_year_arg, default=None, help="only this year (default: all)")
    p.set_defaults(handler=cmd_day_off_list)
    p = day_sub.add_parser(
        "add",
        parents=[common],
        help="add a day off, or one per date of a range",
        description="Add a day off on DATE, or one per date from DATE to --to (e.g. the "
        "collective leave around Idul Fitri). Refused if any of the dates is a day off "
        "already.",
    )
    p.add_argument("date", type=_date_arg, metavar="DATE", help="YYYY-MM-DD")
    p.add_argument("name", metavar="NAME", help="e.g. 'Hari Raya Idul Fitri'")
    p.add_argument("--to", type=_date_arg, default=None, help="last date of a range, included")
    p.add_argument("--kind", choices=KINDS, default="holiday", help="default: holiday")
    p.set_defaults(handler=cmd_day_off_add)
    p = day_sub.add_parser(
        "rename",
        parents=[common],
        help="rename a day off (or change its kind)",
        description="Give the day off on DATE a new NAME (and with --kind, a new kind).",
    )
    p.add_argument("date", type=_date_arg, metavar="DATE", help="YYYY-MM-DD")
    p.add_argument("name", metavar="NAME", help="the new name")
    p.add_argument("--kind", choices=KINDS, default=None, help="the new kind")
    p.set_defaults(handler=cmd_day_off_rename)
    p = day_sub.add_parser(
        "delete",
        parents=[common],
        help="delete days off",
        description="Delete the days off on each DATE.",
    )
    p.add_argument("dates", type=_date_arg, nargs="+", metavar="DATE", help="YYYY-MM-DD")
    p.set_defaults(handler=cmd_day_off_delete)

    p = calendar_sub.add_parser(
        "import",
        parents=[common, shown],
        help="import days off from an .ics or CSV file",
        description="Import days off from an iCalendar file (.ics: one day off per date of "
        "each event, yearly rules for --year) or a CSV (date,name[,kind]). Prints what "
        "happened to every line: added, updated (new name), already there, refused and why; "
        "exit 1 when a line was refused (the rest is imported).",
    )
    p.add_argument("file", type=Path, metavar="FILE", help=".ics or .csv")
    p.add_argument("--dry-run", action="store_true", help="show the report, change nothing")
    p.add_argument(
        "--year",
        type=_year_arg,
        default=None,
        help="expand yearly rules (RRULE:FREQ=YEARLY) for this year (default: this year)",
    )
    p.add_argument(
        "--kind", choices=KINDS, default="holiday", help="of days whose line does not say"
    )
    p.add_argument(
        "--format", choices=("auto", "ics", "csv"), default="auto", help="default: by content"
    )
    p.set_defaults(handler=cmd_import)
