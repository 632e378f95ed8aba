"""``hadir``: one command for every role, composed here.

This is the one module under edge/ that imports ``sync_server`` (besides the demo,
edge/demo.py): it puts the terminal's commands (edge/terminal_cli.py) and the
server's (``sync_server.cli``, ``admin_cli``, ``reports_cli``) under one parser,
plus the two that span both roles, ``demo`` and ``config check``. The server's
command modules import only what a terminal has too, so ``hadir --help`` works on
a terminal; each subcommand imports its heavy parts when it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edge import __version__
from edge.exit_codes import EXIT_OK, run_handler
from edge.terminal_cli import add_edge_parser, add_identify_parser
from sync_server.admin_cli import add_admin_parsers
from sync_server.calendar_cli import add_calendar_parsers
from sync_server.cli import add_server_parser
from sync_server.corrections_cli import add_corrections_parsers
from sync_server.leave_cli import add_leave_parsers
from sync_server.reports_cli import add_reports_parser

# --- config ---------------------------------------------------------------------------------


def cmd_config_check(args: argparse.Namespace) -> int:
    from edge.config import EdgeConfig, check_edge_config, load_config

    model: Any = EdgeConfig
    if args.role == "server":
        from sync_server.config import ServerConfig

        model = ServerConfig
    config = load_config(model, args.file)
    if args.role == "edge":
        # The same check `hadir edge run` makes, so "ok" here means the run starts.
        check_edge_config(config)
    print(f"{args.file}: ok ({args.role} config)")
    if args.show:
        print(json.dumps(config.model_dump(mode="json"), indent=2, sort_keys=True))
    return EXIT_OK


def _add_config_parser(sub: Any) -> None:
    p = sub.add_parser("config", help="configuration tools", description="Configuration tools.")
    config_sub = p.add_subparsers(dest="config_command", metavar="COMMAND", required=True)
    c = config_sub.add_parser(
        "check",
        help="validate a config file",
        description="Validate a TOML config file plus HADIR_* overrides and, for an edge "
        "config, the files it names (sync token, CA bundle), exactly as `hadir edge run` "
        "does; print one line per problem and exit 2 if invalid.",
    )
    c.add_argument("file", type=Path, help="the TOML file")
    c.add_argument("--role", choices=["edge", "server"], default="edge", help="default: edge")
    c.add_argument("--show", action="store_true", help="print the effective config as JSON")
    c.set_defaults(handler=cmd_config_check)


# --- demo -----------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from edge.demo import run_demo

    return run_demo(
        faces_dir=args.faces, workdir=args.workdir, pace=args.pace, builtin=args.builtin_sample
    )


def _add_demo_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="the whole system on this machine: server, terminal, camera replay, report",
        description="Start a real server (SQLite) in a temporary directory, register a "
        "terminal, enrol sample people, run a real edge daemon on a replayed clip (live people "
        "walking up, a stranger, a photo held up to the camera), then print the day's "
        "attendance read back from the server. Exit 0 only when what the clip showed was "
        "recorded as it should be: live enrolled people recorded and synced, the stranger "
        "not, the photo refused or flagged as the liveness mode says (docs/liveness.md).",
    )
    p.add_argument(
        "--faces",
        type=Path,
        default=None,
        help="sample faces folder with people/<name>/ photos (default: $HADIR_FACES_DIR or "
        "../shared/faces; without it, scikit-image's sample portrait)",
    )
    p.add_argument(
        "--builtin-sample",
        action="store_true",
        help="use scikit-image's sample portrait even when shared faces are present",
    )
    p.add_argument("--workdir", type=Path, default=None, help="keep everything here")
    p.add_argument(
        "--pace",
        choices=["realtime", "fast"],
        default="realtime",
        help="replay like a camera (realtime, default) or as fast as possible",
    )
    p.set_defaults(handler=cmd_demo)


# --- parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hadir",
        description="hadir: face-recognition time and attendance for wall terminals.",
    )
    parser.add_argument("--version", action="version", version=f"hadir {__version__}")
    parser.add_argument(
        "--log-format",
        choices=["auto", "json", "console"],
        default=None,
        help="log format (default: json unless stderr is a TTY)",
    )
    parser.add_argument("--log-level", default=None, help="debug, info, warning or error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # The order `hadir --help` lists them in.
    add_identify_parser(sub)
    add_edge_parser(sub)
    add_server_parser(sub)
    add_admin_parsers(sub)
    add_reports_parser(sub)
    add_calendar_parsers(sub)
    add_leave_parsers(sub)
    add_corrections_parsers(sub)
    _add_demo_parser(sub)
    _add_config_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from edge.logs import configure_logging

    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(
        args.log_level or os.environ.get("HADIR_LOG_LEVEL") or "info",
        args.log_format or os.environ.get("HADIR_LOG_FORMAT") or "auto",
    )
    return run_handler(args)


if __name__ == "__main__":
    sys.exit(main())
