"""``hadir correction ...`` and ``hadir audit ...``: corrections of attendance and the audit
trail from the command line, over the admin API.

    hadir correction add ani 2026-12-01 17:00 out --reason "forgot to check out"
    hadir correction void 0192c3a4-... --reason "a colleague's face"
    hadir correction list [--person ani] [--month 2026-12]
    hadir correction revoke 12 --reason "entered for the wrong person"
    hadir audit list [--entity correction] [--entity-id 12] [--actor siti] [--from D] [--to D]
    hadir audit export audit.csv [same filters]

Changes are recorded by the API as by ``admin token``. Credentials come from ``--server`` /
``HADIR_SERVER_URL`` and ``HADIR_ADMIN_TOKEN`` or an admin config file
(sync_server/admin_client.py), never from the command line. Light imports only: ``hadir
--help`` runs on terminals without the server's packages. docs/corrections.md describes them.
"""

from __future__ import annotations

import argparse
import calendar
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from edge.exit_codes import EXIT_OK
from edge.wording import plural
from sync_server.admin_client import credentials, refusal_exits_1, server_options
from sync_server.corrections_client import CorrectionsClient

ENTITIES_HELP = (
    "person, template, consent, shift, group, work_week, day_off, leave_kind, leave, "
    "correction, event, account"
)


def _client(args: argparse.Namespace) -> CorrectionsClient:
    return CorrectionsClient(credentials(args))


def _json(answer: Any, out: IO[str]) -> None:
    json.dump(answer, out, indent=2, ensure_ascii=False)
    out.write("\n")


def _table(rows: list[list[str]], out: IO[str]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
        if n == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")


def _local(value: str | None) -> str:
    """``2026-12-01 17:00:00`` from the API's ISO time with the site's offset."""
    return "-" if value is None else datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S")


def describe(c: dict[str, Any]) -> str:
    """One correction in words: what it adds or voids, and when."""
    if c["action"] == "add":
        return f"check-{c['kind']} added at {_local(c['at'])}"
    event = c.get("event")
    if event is None:
        return "event voided"
    return f"check-{event['kind']} at {_local(event['at'])} voided ({event['device_id']})"


# --- correction ---------------------------------------------------------------------------------


def cmd_add(args: argparse.Namespace) -> int:
    with _client(args) as client:
        made = client.add(args.person, args.date.isoformat(), args.time, args.kind, args.reason)
    print(f"correction {made['id']}: {made['person_id']} {describe(made)}")
    return EXIT_OK


def cmd_void(args: argparse.Namespace) -> int:
    with _client(args) as client:
        made = client.void(args.event_id, args.reason, args.person)
    print(f"correction {made['id']}: {made['person_id']} {describe(made)}")
    return EXIT_OK


def cmd_revoke(args: argparse.Namespace) -> int:
    with _client(args) as client:
        made = client.revoke(args.id, args.reason)
    print(
        f"correction {made['id']} revoked ({made['person_id']} {describe(made)}); "
        "it no longer counts"
    )
    return EXIT_OK


def print_corrections(items: list[dict[str, Any]], out: IO[str]) -> None:
    if not items:
        out.write("no corrections\n")
        return
    rows = [["id", "person", "correction", "reason", "by", "state"]]
    for c in items:
        state = "counts" if c["live"] else f"revoked by {c['revoked_by']}"
        rows.append(
            [str(c["id"]), c["person_id"], describe(c), c["reason"], c["created_by"], state]
        )
    _table(rows, out)


def _month_days(month: str | None) -> tuple[str | None, str | None]:
    if month is None:
        return None, None
    first = datetime.strptime(month, "%Y-%m").date()
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    return first.isoformat(), last.isoformat()


def cmd_list(args: argparse.Namespace) -> int:
    first, last = _month_days(args.month)
    with _client(args) as client:
        items = client.corrections(
            person=args.person, include_revoked=not args.live, **{"from": first, "to": last}
        )
    if args.json:
        _json(items, sys.stdout)
    else:
        print_corrections(items, sys.stdout)
    return EXIT_OK


# --- audit --------------------------------------------------------------------------------------


def _audit_filters(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "entity": args.entity,
        "entity_id": args.entity_id,
        "actor": args.actor,
        "from": args.first.isoformat() if args.first else None,
        "to": args.last.isoformat() if args.last else None,
    }


def _changed(entry: dict[str, Any]) -> str:
    """The fields an audit row changed, as ``name: before -> after``."""
    before = entry["before"] or {}
    after = entry["after"] or {}
    parts = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if name in before and name in after and old == new:
            continue
        if entry["before"] is None:
            parts.append(f"{name}={json.dumps(new, ensure_ascii=False)}")
        elif entry["after"] is None:
            parts.append(f"{name}={json.dumps(old, ensure_ascii=False)}")
        else:
            parts.append(
                f"{name}: {json.dumps(old, ensure_ascii=False)} -> "
                f"{json.dumps(new, ensure_ascii=False)}"
            )
    return "; ".join(parts)


def print_audit(entries: list[dict[str, Any]], out: IO[str]) -> None:
    if not entries:
        out.write("no audit rows\n")
        return
    rows = [["id", "at", "actor", "action", "entity", "id", "changes"]]
    for e in entries:
        rows.append(
            [
                str(e["id"]),
                _local(e["at"]),
                e["actor"],
                e["action"],
                e["entity"],
                e["entity_id"],
                _changed(e),
            ]
        )
    _table(rows, out)


def cmd_audit_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        entries = client.audit(args.limit, **_audit_filters(args))
    if args.json:
        _json(entries, sys.stdout)
    else:
        print_audit(entries, sys.stdout)
    return EXIT_OK


def cmd_audit_export(args: argparse.Namespace) -> int:
    to_stdout = str(args.file) == "-"
    target: IO[bytes] = sys.stdout.buffer if to_stdout else args.file.open("wb")
    lines = 0
    try:
        with _client(args) as client:
            for chunk in client.audit_csv(**_audit_filters(args)):
                target.write(chunk)
                lines += chunk.count(b"\r\n")
    except BaseException:
        # No half-written file that looks like a complete export.
        if not to_stdout:
            target.close()
            args.file.unlink(missing_ok=True)
        raise
    finally:
        if not target.closed:
            target.flush()
            if not to_stdout:
                target.close()
    if not to_stdout:
        print(f"wrote {plural(max(0, lines - 1), 'audit row')} to {args.file}", file=sys.stderr)
    return EXIT_OK


# --- parser -------------------------------------------------------------------------------------


def _date_arg(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not YYYY-MM-DD") from exc


def _time_arg(value: str) -> str:
    for layout in ("%H:%M", "%H:%M:%S"):
        try:
            return datetime.strptime(value, layout).time().isoformat()
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"{value!r} is not HH:MM or HH:MM:SS")


def _month_arg(value: str) -> str:
    try:
        return datetime.strptime(value, "%Y-%m").strftime("%Y-%m")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not YYYY-MM") from exc


def _reason_arg(value: str) -> str:
    text = value.strip()
    if not 3 <= len(text) <= 500:
        raise argparse.ArgumentTypeError("a reason of 3 to 500 characters is required")
    return text


def _id_arg(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a correction number")
    return int(value)


def add_corrections_parsers(sub: Any) -> None:
    """Add ``correction`` and ``audit`` to the ``hadir`` command."""
    common = server_options()
    reason = argparse.ArgumentParser(add_help=False)
    reason.add_argument(
        "--reason",
        required=True,
        type=_reason_arg,
        help="why (3-500 characters); kept with the correction and in the audit trail",
    )
    shown = argparse.ArgumentParser(add_help=False)
    shown.add_argument("--json", action="store_true", help="print the server's JSON")

    correction = sub.add_parser(
        "correction",
        help="correct attendance: add a missed punch, void a wrong event, revoke",
        description="Corrections of attendance over the admin API (docs/corrections.md). "
        "What the terminals recorded is never changed; a correction is its own row.",
    )
    csub = correction.add_subparsers(dest="correction_command", metavar="COMMAND", required=True)
    p = csub.add_parser(
        "add",
        parents=[common, reason],
        help="add a missed check-in or check-out",
        description="Add a check-in or check-out of PERSON at DATE TIME on the site's clock.",
    )
    p.add_argument("person", metavar="PERSON", help="the person's id")
    p.add_argument("date", type=_date_arg, metavar="DATE", help="YYYY-MM-DD (site's calendar)")
    p.add_argument("time", type=_time_arg, metavar="TIME", help="HH:MM[:SS] (site's clock)")
    p.add_argument("kind", choices=("in", "out"), help="in: a check-in; out: a check-out")
    p.set_defaults(handler=refusal_exits_1(cmd_add))

    p = csub.add_parser(
        "void",
        parents=[common, reason],
        help="void a wrong event (it stays stored and no longer counts)",
        description="Void the event EVENT_ID (from hadir attendance export --rows events).",
    )
    p.add_argument("event_id", metavar="EVENT_ID", help="the event's id")
    p.add_argument("--person", default=None, help="refuse unless the event is this person's")
    p.set_defaults(handler=refusal_exits_1(cmd_void))

    p = csub.add_parser(
        "list",
        parents=[common, shown],
        help="list corrections, newest first",
        description="Corrections, newest first, revoked ones included (--live: not).",
    )
    p.add_argument("--person", default=None, help="only this person's")
    p.add_argument(
        "--month", type=_month_arg, default=None, help="YYYY-MM: punches added or voided then"
    )
    p.add_argument("--live", action="store_true", help="only the ones that count (not revoked)")
    p.set_defaults(handler=refusal_exits_1(cmd_list))

    p = csub.add_parser(
        "revoke",
        parents=[common, reason],
        help="revoke a correction (it stays listed and counts for nothing)",
        description="Revoke correction ID; the reason goes into the audit trail.",
    )
    p.add_argument("id", type=_id_arg, metavar="ID", help="the correction's number")
    p.set_defaults(handler=refusal_exits_1(cmd_revoke))

    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--entity", default=None, help=f"what: {ENTITIES_HELP}")
    filters.add_argument("--entity-id", default=None, help="which one (its id)")
    filters.add_argument("--actor", default=None, help="who: a username, or 'admin token'")
    filters.add_argument("--from", dest="first", type=_date_arg, default=None, help="YYYY-MM-DD")
    filters.add_argument("--to", dest="last", type=_date_arg, default=None, help="YYYY-MM-DD")

    audit = sub.add_parser(
        "audit",
        help="the audit trail: who changed what, when (read only)",
        description="The audit trail over the admin API (docs/corrections.md): every change "
        "to attendance, people, shifts, calendars, leave, consent and accounts.",
    )
    asub = audit.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)
    p = asub.add_parser(
        "list",
        parents=[common, filters, shown],
        help="list audit rows, newest first",
        description="Audit rows, newest first, with the fields each one changed.",
    )
    p.add_argument("--limit", type=_id_arg, default=50, help="most rows (default 50)")
    p.set_defaults(handler=refusal_exits_1(cmd_audit_list))

    p = asub.add_parser(
        "export",
        parents=[common, filters],
        help="write the audit trail as CSV",
        description="Write the audit rows as CSV (id, at, actor, action, entity, entity_id, "
        "before, after), newest first; FILE - writes to stdout.",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="the CSV file, or - for stdout")
    p.set_defaults(handler=refusal_exits_1(cmd_audit_export))
