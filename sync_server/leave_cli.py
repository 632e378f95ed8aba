"""``hadir leave ...``: leave and permissions through the server's admin API.

``list``, ``add``, ``delete``, ``import`` (a CSV file, with its line-by-line report) and
``kinds``. Credentials as for ``hadir person`` (sync_server/admin_client.py): the environment
or an admin config file, never the command line. Only light imports here: the ``hadir``
command runs on terminals without the server's packages.
"""

from __future__ import annotations

import argparse
import calendar
import sys
from datetime import date
from pathlib import Path
from typing import Any

from edge.exit_codes import EXIT_FAILED, EXIT_OK
from edge.wording import plural
from sync_server.admin_client import (
    AdminApiError,
    AdminClient,
    add_admin_config_arg,
    load_credentials,
    read_upload,
    report_refusal,
)


class LeaveClient(AdminClient):
    """The admin API's leave calls."""

    def __enter__(self) -> LeaveClient:
        return self

    def list_leave(self, **params: Any) -> Any:
        return self._call(
            "GET", "/leave", params={k: v for k, v in params.items() if v is not None}
        )

    def add_leave(
        self, person: str, kind: str, start: str, end: str | None, note: str | None
    ) -> Any:
        body = {"person": person, "kind": kind, "start": start, "end": end, "note": note}
        return self._call("POST", "/leave", json=body)

    def delete_leave(self, leave_id: int) -> Any:
        return self._call("DELETE", f"/leave/{leave_id}")

    def import_leave(self, data: bytes, *, dry_run: bool) -> Any:
        return self._call(
            "POST",
            "/leave/import",
            params={"dry_run": "true" if dry_run else "false"},
            content=data,
            headers={"Content-Type": "text/csv"},
        )

    def leave_kinds(self) -> Any:
        return self._call("GET", "/leave-kinds")


def _client(args: argparse.Namespace) -> LeaveClient:
    return LeaveClient(load_credentials(args.admin_config))


def _day(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from exc


def _month(value: str) -> tuple[str, str]:
    """``2026-12`` -> its first and last day."""
    try:
        year, month = (int(part) for part in value.split("-"))
        last = calendar.monthrange(year, month)[1]
        return date(year, month, 1).isoformat(), date(year, month, last).isoformat()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a month (YYYY-MM)") from exc


def _leave_id(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a leave id (from hadir leave list)")
    return int(value)


def _describe(item: dict[str, Any]) -> str:
    return (
        f"{item['id']:>6}  {item['person_id']:16s} {item['kind']:12s} {item['start']} .. "
        f"{item['end']}  {plural(item['days'], 'day'):8s} {item['note'] or ''}".rstrip()
    )


def cmd_leave_list(args: argparse.Namespace) -> int:
    first, last = args.month if args.month else (args.start, args.end)
    with _client(args) as client:
        answer = client.list_leave(
            person=args.person, kind=args.kind, limit=args.limit, **{"from": first, "to": last}
        )
    for item in answer["leave"]:
        print(_describe(item))
    more = " (more match: narrow the range)" if answer["more"] else ""
    print(f"{plural(len(answer['leave']), 'leave')}{more}", file=sys.stderr)
    return EXIT_OK


def cmd_leave_add(args: argparse.Namespace) -> int:
    with _client(args) as client:
        item = client.add_leave(args.person, args.kind, args.start, args.end, args.note)
    print(f"leave {item['id']}: {item['person_id']}, {item['kind_label_en']} ({item['kind']}), "
          f"{item['start']} to {item['end']} ({plural(item['days'], 'day')})")  # fmt: skip
    return EXIT_OK


def cmd_leave_delete(args: argparse.Namespace) -> int:
    refused = 0
    with _client(args) as client:
        for leave_id in args.ids:
            try:
                client.delete_leave(leave_id)
            except AdminApiError as exc:
                report_refusal(exc, f"leave {leave_id}")
                refused += 1
                continue
            print(f"leave {leave_id} deleted")
    return EXIT_FAILED if refused else EXIT_OK


def cmd_leave_import(args: argparse.Namespace) -> int:
    data = read_upload(args.file)
    with _client(args) as client:
        report = client.import_leave(data, dry_run=args.dry_run)
    for line in report["lines"]:
        if line["outcome"] == "added":
            verb = "would add" if report["dry_run"] else "added"
            ident = f" (leave {line['leave_id']})" if line["leave_id"] is not None else ""
            print(f"line {line['line']}: {verb}{ident}: {line['detail']}")
        else:
            value = f" {line['value']!r}:" if line["value"] is not None else ""
            print(
                f"line {line['line']}: refused ({line['reason']}):{value} {line['detail']}",
                file=sys.stderr,
            )
    done = "would be added" if report["dry_run"] else "added"
    suffix = " (dry run: nothing written)" if report["dry_run"] else ""
    print(
        f"{plural(report['added'], 'line')} {done}, {report['refused']} refused{suffix}",
        file=sys.stderr,
    )
    return EXIT_FAILED if report["refused"] else EXIT_OK


def cmd_leave_kinds(args: argparse.Namespace) -> int:
    with _client(args) as client:
        kinds = client.leave_kinds()["kinds"]
    for kind in kinds:
        state = "active" if kind["active"] else "retired"
        print(
            f"{kind['code']:12s} {state:8s} {kind['label_en']:20s} {kind['label_id']:20s} "
            f"{plural(kind['in_use'], 'leave')}"
        )
    return EXIT_OK


def add_leave_parsers(sub: Any) -> None:
    """Add the leave commands to the ``hadir`` command."""
    leave = sub.add_parser(
        "leave",
        help="leave and permissions: list, add, delete, import a CSV, the kinds",
        description="A person's leave (sick, annual leave, permission, official duty, ...) "
        "over whole days, through the server's admin API. A day on leave is neither absent "
        "nor late in the reports.",
    )
    leave_sub = leave.add_subparsers(dest="leave_command", metavar="COMMAND", required=True)

    p = leave_sub.add_parser(
        "list",
        help="list leave",
        description="One line per leave: id, person, kind, first and last day, days, note; "
        "the count on stderr.",
    )
    p.add_argument("--person", default=None, help="only this person (id or HR employee id)")
    p.add_argument("--month", type=_month, default=None, help="leave touching this month, YYYY-MM")
    p.add_argument("--from", dest="start", type=_day, default=None, help="from this day on")
    p.add_argument("--to", dest="end", type=_day, default=None, help="up to this day")
    p.add_argument("--kind", default=None, help="only this kind (code or label)")
    p.add_argument("--limit", type=int, default=1000, help="most leave listed (default 1000)")
    add_admin_config_arg(p)
    p.set_defaults(handler=cmd_leave_list)

    p = leave_sub.add_parser(
        "add",
        help="enter a person's leave",
        description="Enter leave from START to END (both included; without END one day). "
        "Refused with the server's reason: unknown person or kind, a retired kind, END before "
        "START, over 366 days, an overlap with the person's other leave.",
    )
    p.add_argument("person", help="person id or HR employee id")
    p.add_argument("kind", help="kind: code or label (sick, annual, Sakit, Cuti, Izin, ...)")
    p.add_argument("start", type=_day, help="first day, YYYY-MM-DD")
    p.add_argument("end", type=_day, nargs="?", default=None, help="last day (default: START)")
    p.add_argument("--note", default=None, help="free text, e.g. 'doctor's note'")
    add_admin_config_arg(p)
    p.set_defaults(handler=cmd_leave_add)

    p = leave_sub.add_parser(
        "delete",
        help="delete leave",
        description="Delete leave by id (hadir leave list shows them); an unknown id is "
        "reported and the others still deleted (exit 1).",
    )
    p.add_argument("ids", nargs="+", type=_leave_id, help="leave ids")
    add_admin_config_arg(p)
    p.set_defaults(handler=cmd_leave_delete)

    p = leave_sub.add_parser(
        "import",
        help="import leave from a CSV file",
        description="A header person,kind,start,end[,note], then one leave a line (docs/"
        "leave.md). Each line is added or refused with its reason (refused lines on stderr); "
        "the good lines are written. Exit 1 if a line was refused.",
    )
    p.add_argument("file", type=Path, help="the CSV file (UTF-8)")
    p.add_argument("--dry-run", action="store_true", help="check every line, write nothing")
    add_admin_config_arg(p)
    p.set_defaults(handler=cmd_leave_import)

    p = leave_sub.add_parser(
        "kinds",
        help="list the kinds of leave",
        description="Code, active or retired, English and Indonesian labels, how many leave.",
    )
    add_admin_config_arg(p)
    p.set_defaults(handler=cmd_leave_kinds)
