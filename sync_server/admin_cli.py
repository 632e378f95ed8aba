"""``hadir person ...``, ``hadir terminal ...`` and ``hadir review ...``: the admin API from
the command line.

Credentials come from the environment or an admin config file (see
:mod:`sync_server.admin_client`), never from command-line arguments.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
import uuid
from pathlib import Path
from typing import Any

from edge.exit_codes import EXIT_FAILED, EXIT_OK
from edge.wording import plural
from sync_server.admin_client import (
    AdminApiError,
    AdminClient,
    add_admin_config_arg,
    load_credentials,
    report_refusal,
)

# The API's reason for a photo of a person without consent (sync_server.consent; not
# imported: this module runs on terminals without the server's packages).
CONSENT_MISSING = "consent_missing"


def person_id_from_name(name: str) -> str:
    """``"José Núñez"`` -> ``"jose_nunez"``: a stable id when the admin gives none."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "_", ascii_name).strip("_").lower()
    return slug[:64] or "person"


def _client(args: argparse.Namespace) -> AdminClient:
    return AdminClient(load_credentials(args.admin_config))


def _consent_body(args: argparse.Namespace) -> dict[str, str]:
    body = {"channel": "cli"}
    if args.consent_version:
        body["text_version"] = args.consent_version
    if args.collected_by:
        body["collected_by"] = args.collected_by
    return body


def _print_consent(person_id: str, consent: dict[str, Any]) -> None:
    print(
        f"consent of {person_id} recorded: text version {consent['text_version']}, "
        f"collected by {consent['collected_by']} at {consent['given_at']}"
    )


def cmd_person_add(args: argparse.Namespace) -> int:
    person_id = args.id or person_id_from_name(args.name)
    with _client(args) as client:
        consent = _consent_body(args) if args.consent else None
        try:
            created = client.create_person(person_id, args.name, args.group, consent=consent)
            print(f"person {person_id} ({args.name}) created in group {args.group}")
            if created.get("consent"):
                _print_consent(person_id, created["consent"])
        except AdminApiError as exc:
            if exc.status != 409:
                raise
            print(f"person {person_id} exists; adding photos")
            if consent is not None:
                _print_consent(
                    person_id,
                    client.give_consent(
                        person_id,
                        text_version=args.consent_version,
                        collected_by=args.collected_by,
                    ),
                )
        rejected = 0
        for photo in args.photo:
            try:
                answer = client.upload_photo(person_id, photo, force=args.force_photo)
            except AdminApiError as exc:
                if exc.status is None or exc.status >= 500:
                    raise
                rejected += 1
                print(f"  {photo}: rejected ({exc.reason or exc.status}): {exc}", file=sys.stderr)
                if exc.reason == CONSENT_MISSING:
                    print(
                        "  (give --consent once the person has read and accepted the consent "
                        "text, or run hadir person consent first)",
                        file=sys.stderr,
                    )
                    rejected += len(args.photo) - 1
                    break  # every other photo would be refused alike
                continue
            state = "enrolled" if answer.get("created", True) else "already enrolled"
            print(f"  {photo}: {state} ({plural(answer['templates'], 'template')})")
            for warning in answer.get("warnings", []):
                print(
                    f"  {photo}: warning: close to {warning['person_id']} "
                    f"(distance {warning['distance']:.3f}): {warning['detail']}",
                    file=sys.stderr,
                )
    return EXIT_FAILED if rejected else EXIT_OK


def cmd_person_consent(args: argparse.Namespace) -> int:
    with _client(args) as client:
        if args.withdraw:
            answer = client.withdraw_consent(args.id)
            ended = len(answer["withdrawn"])
            print(
                f"consent of {args.id} withdrawn ({plural(ended, 'consent')} ended); "
                f"{plural(answer['templates_deleted'], 'template')} deleted"
                + (
                    f" (enrolment version {answer['version']}): terminals drop them at the next "
                    "pull"
                    if answer.get("version") is not None
                    else ""
                )
            )
        else:
            _print_consent(
                args.id,
                client.give_consent(
                    args.id, text_version=args.version, collected_by=args.collected_by
                ),
            )
    return EXIT_OK


def cmd_person_export(args: argparse.Namespace) -> int:
    with _client(args) as client:
        data = client.export_person(args.id, args.format)
    if args.output is None or str(args.output) == "-":
        if args.format == "csv" and sys.stdout.isatty():
            print(
                "the CSV export is a zip file: give -o FILE (or redirect stdout)",
                file=sys.stderr,
            )
            return EXIT_FAILED
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return EXIT_OK
    try:
        args.output.write_bytes(data)
    except OSError as exc:
        print(f"{args.output}: cannot write ({exc.strerror or exc})", file=sys.stderr)
        return EXIT_FAILED
    print(f"everything held about {args.id} written to {args.output}", file=sys.stderr)
    return EXIT_OK


def cmd_person_rm(args: argparse.Namespace) -> int:
    with _client(args) as client:
        for person_id in args.ids:
            answer = client.delete_person(person_id)
            print(
                f"person {person_id} deleted (enrolment version {answer.get('version')}); "
                "terminals drop their templates at the next pull"
            )
    return EXIT_OK


def cmd_person_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        people = client.list_people(args.group)["people"]
    for person in people:
        print(
            f"{person['id']:24s} {person['name']:30s} {person['group']:12s} "
            f"{plural(len(person['templates']), 'template')}"
        )
    return EXIT_OK


def cmd_terminal_add(args: argparse.Namespace) -> int:
    with _client(args) as client:
        answer = client.create_terminal(args.id, args.group, args.description)
    # Only the token on stdout: "hadir terminal add ID > ID.token" must give a file the
    # terminal (and install-edge.sh --token-file) can use as it is.
    print(
        f"terminal {args.id} created in group {args.group}; its token (shown once) is on "
        "stdout: put it in the terminal's token file",
        file=sys.stderr,
    )
    print(answer["token"])
    return EXIT_OK


def cmd_terminal_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        terminals = client.list_terminals()["terminals"]
    for terminal in terminals:
        state = "revoked" if terminal.get("revoked_at") else "active"
        print(
            f"{terminal['id']:20s} {terminal['group']:12s} {state:8s} "
            f"last seen {terminal.get('last_seen_at') or 'never'}"
        )
    return EXIT_OK


def cmd_terminal_token(args: argparse.Namespace) -> int:
    with _client(args) as client:
        answer = client.rotate_token(args.id)
    print(f"terminal {args.id}: new token (the old one stops working now):", file=sys.stderr)
    print(answer["token"])
    return EXIT_OK


def cmd_terminal_revoke(args: argparse.Namespace) -> int:
    with _client(args) as client:
        client.revoke_terminal(args.id)
    print(f"terminal {args.id} revoked: its token is refused from now on")
    return EXIT_OK


def cmd_review_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        answer = client.review_list(
            include_reviewed=args.all,
            device_id=args.terminal,
            person_id=args.person,
            start=args.start,
            end=args.end,
            limit=args.limit,
        )
    for item in answer["events"]:
        score = item["liveness_score"]
        reasons = ",".join(item["liveness_reasons"] or []) or "-"
        state = (
            "needs review"
            if item["needs_review"]
            else f"reviewed by {item['reviewed_by']} at {item['reviewed_at']}"
        )
        print(
            f"{item['id']}  {item['corrected_time']}  {item['person_id']:16s} "
            f"{item['device_id']:12s} {item['kind']:3s}  "
            f"{'-' if score is None else format(score, '.2f')}  {reasons}  {state}"
        )
    print(f"{plural(answer['open'], 'event')} to review", file=sys.stderr)
    return EXIT_OK


def cmd_review_mark(args: argparse.Namespace) -> int:
    refused = 0
    with _client(args) as client:
        for event_id in args.ids:
            try:
                item = client.mark_reviewed(str(event_id))
            except AdminApiError as exc:
                report_refusal(exc, f"event {event_id}")
                refused += 1
                continue
            print(f"event {event_id} reviewed by {item['reviewed_by']} at {item['reviewed_at']}")
    return EXIT_FAILED if refused else EXIT_OK


def _event_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not an event id (a UUID)") from exc


def add_admin_parsers(sub: Any) -> None:
    """Add ``person``, ``terminal`` and ``review`` to the ``hadir`` command."""
    person = sub.add_parser(
        "person",
        help="enrol, list and remove people at the server",
        description="Manage enrolled people through the server's admin API.",
    )
    person_sub = person.add_subparsers(dest="person_command", metavar="COMMAND", required=True)
    p = person_sub.add_parser(
        "add",
        help="create a person and enrol photos",
        description="Create NAME (id from --id or from the name) and upload each photo; the "
        "server's reason is printed for every rejected photo (exit 1 if any was rejected).",
    )
    p.add_argument("name", help="full name, e.g. 'Ada Lovelace'")
    p.add_argument("--photo", type=Path, action="append", default=[], help="photo (repeatable)")
    p.add_argument(
        "--force-photo",
        action="store_true",
        help="enrol photos even if their face is unlike the person's others (refused otherwise "
        "as not_same_person; the first photo of a new person anchors the rest)",
    )
    p.add_argument("--id", default=None, help="person id (default: derived from the name)")
    p.add_argument("--group", default="default", help="group/site (default: default)")
    p.add_argument(
        "--consent",
        action="store_true",
        help="the person has read and accepted the consent text: record it before the "
        "photos (photos of a person without consent are refused)",
    )
    p.add_argument(
        "--consent-version",
        default=None,
        help="with --consent: the consent text's version (default: the server's "
        "privacy.consent_text_version)",
    )
    p.add_argument(
        "--collected-by",
        default=None,
        help="with --consent: who collected it (default: 'admin token')",
    )
    add_admin_config_arg(p)
    p.set_defaults(handler=cmd_person_add)

    p = person_sub.add_parser(
        "consent",
        help="record a person's consent to face templates, or withdraw it",
        description="Record that the person has read and accepted the consent text (needed "
        "before any photo is enrolled), or with --withdraw end it: their templates are "
        "deleted from the server and every terminal (docs/privacy.md).",
    )
    p.add_argument("id", help="person id")
    p.add_argument(
        "--version",
        default=None,
        help="the consent text's version (default: the server's privacy.consent_text_version)",
    )
    p.add_argument("--collected-by", default=None, help="who collected it (default: 'admin token')")
    p.add_argument(
        "--withdraw",
        action="store_true",
        help="withdraw the consent and delete the person's templates everywhere",
    )
    add_admin_config_arg(p)
    p.set_defaults(handler=cmd_person_consent)

    p = person_sub.add_parser(
        "export",
        help="export everything held about a person (JSON, or a zip of CSVs)",
        description="Profile, consent history, attendance events, corrections, leave and the "
        "audit rows about the person; of the templates only how many and when.",
    )
    p.add_argument("id", help="person id")
    p.add_argument(
        "--format",
        choices=("json", "csv"),
        default="json",
        help="json: one document (default); csv: a zip of one CSV per section",
    )
    p.add_argument(
        "-o", "--output", type=Path, default=None, help="write to FILE (default: stdout)"
    )
    add_admin_config_arg(p)
    p.set_defaults(handler=cmd_person_export)

    p = person_sub.add_parser(
        "rm",
        help="delete people everywhere",
        description="Delete people and their templates; every terminal drops them at its next "
        "enrolment pull. Attendance already recorded stays.",
    )
    p.add_argument("ids", nargs="+", help="person ids")
    add_admin_config_arg(p)
    p.set_defaults(handler=cmd_person_rm)

    p = person_sub.add_parser("list", help="list people", description="List enrolled people.")
    p.add_argument("--group", default=None, help="only this group")
    add_admin_config_arg(p)
    p.set_defaults(handler=cmd_person_list)

    terminal = sub.add_parser(
        "terminal",
        help="register, list and revoke terminals",
        description="Manage terminals through the server's admin API.",
    )
    term_sub = terminal.add_subparsers(dest="terminal_command", metavar="COMMAND", required=True)
    t = term_sub.add_parser(
        "add",
        help="register a terminal and print its token once",
        description="Register a terminal; its bearer token is printed once on stdout (the "
        "server keeps only a hash).",
    )
    t.add_argument("id", help="the terminal's device.id")
    t.add_argument("--group", default="default", help="group/site whose people it recognises")
    t.add_argument("--description", default="", help="free text, e.g. where it hangs")
    add_admin_config_arg(t)
    t.set_defaults(handler=cmd_terminal_add)

    t = term_sub.add_parser("list", help="list terminals", description="List terminals.")
    add_admin_config_arg(t)
    t.set_defaults(handler=cmd_terminal_list)

    t = term_sub.add_parser(
        "token",
        help="rotate a terminal's token and print the new one once",
        description="Issue a new token for a terminal (also un-revokes it); the old token is "
        "refused from now on. Write the new one to the terminal's /etc/hadir/terminal_token.",
    )
    t.add_argument("id", help="terminal id")
    add_admin_config_arg(t)
    t.set_defaults(handler=cmd_terminal_token)

    t = term_sub.add_parser(
        "revoke", help="revoke a terminal's token", description="Refuse a terminal's token."
    )
    t.add_argument("id", help="terminal id")
    add_admin_config_arg(t)
    t.set_defaults(handler=cmd_terminal_revoke)

    review = sub.add_parser(
        "review",
        help="events whose liveness check failed: list them, mark them reviewed",
        description="Attendance that a terminal in liveness flag mode recorded although the "
        "face looked like a photo or a screen: it counts, but needs a person to look at it.",
    )
    review_sub = review.add_subparsers(dest="review_command", metavar="COMMAND", required=True)
    r = review_sub.add_parser(
        "list",
        help="list events needing review, oldest first",
        description="One line per event: id, time, person, terminal, in/out, score, the "
        "check's reasons, and whether it was reviewed; the open count on stderr.",
    )
    r.add_argument("--all", action="store_true", help="reviewed ones too")
    r.add_argument("--terminal", default=None, help="only this terminal")
    r.add_argument("--person", default=None, help="only this person")
    r.add_argument(
        "--start", default=None, help="from this time on, ISO 8601 with offset (2026-11-25T00:00Z)"
    )
    r.add_argument("--end", default=None, help="before this time, ISO 8601 with offset")
    r.add_argument("--limit", type=int, default=1000, help="most events listed (default 1000)")
    add_admin_config_arg(r)
    r.set_defaults(handler=cmd_review_list)

    r = review_sub.add_parser(
        "mark",
        help="mark events reviewed",
        description="Mark events reviewed (recorded as by 'admin token', at the server's "
        "time); marking one again changes nothing. An unknown event, or one that passed "
        "the check, is reported and the rest are still marked (exit 1).",
    )
    r.add_argument("ids", nargs="+", type=_event_id, help="event ids (from hadir review list)")
    add_admin_config_arg(r)
    r.set_defaults(handler=cmd_review_mark)
