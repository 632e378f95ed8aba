"""``hadir``: one command for every role. Subcommands import their heavy parts lazily."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog

from edge import __version__
from edge.errors import ConfigError, HadirError, ImageError

# Exit codes: 0 all good; 1 some inputs could not be used; 2 usage/config error.
EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace], int]


def _print_err(message: str) -> None:
    print(f"hadir: {message}", file=sys.stderr)


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


# --- identify -------------------------------------------------------------------------------


def cmd_identify(args: argparse.Namespace) -> int:
    from edge.config import load_edge_config
    from edge.recognize.analyzer import FaceAnalyzer
    from edge.recognize.identify import build_gallery, identify, iter_images
    from edge.recognize.image import read_image

    log = structlog.get_logger(__name__)
    config = load_edge_config(args.config).recognition
    detector = config.detector.model_copy(update={"upsample": args.upsample})
    config = config.model_copy(update={"detector": detector})
    analyzer = FaceAnalyzer(config)

    built = build_gallery(analyzer, args.gallery, jitters=args.jitters)
    for rejected in built.rejected:
        _print_err(f"gallery: skipped {rejected.message}")
    if not built.templates_per_person:
        _print_err(f"gallery {args.gallery}: no usable face in any <person>/ image")
        return EXIT_USAGE
    log.info(
        "gallery_built",
        people=len(built.templates_per_person),
        templates=len(built.gallery),
        skipped=len(built.rejected),
    )

    failures = 0
    records: list[dict[str, Any]] = []
    for given in args.images:
        for path in iter_images(Path(given)):
            try:
                rgb = read_image(path, max_pixels=config.max_image_pixels)
            except ImageError as exc:
                failures += 1
                _print_err(f"{exc}")
                records.append({"image": str(path), "error": exc.reason, "message": str(exc)})
                continue
            faces = identify(analyzer, built.gallery, rgb)
            records.append({"image": str(path), "faces": [_face_record(f) for f in faces]})
            if not args.json:
                _print_faces(path, faces)
    if args.json:
        print(json.dumps(records, indent=2))
    return EXIT_PARTIAL if failures else EXIT_OK


def _jitters_arg(text: str) -> int:
    from edge.recognize.embedder import check_jitters

    try:
        return check_jitters(int(text) if text.strip().lstrip("-").isdigit() else text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _face_record(face: Any) -> dict[str, Any]:
    box = face.box
    record: dict[str, Any] = {
        "box": [box.left, box.top, box.width, box.height],
        "person": face.person_id,
        "accepted": face.accepted,
        "quality": list(face.quality.issues),
    }
    if face.match is not None:
        record["nearest"] = face.match.person_id
        record["distance"] = round(face.match.distance, 4)
        if face.match.runner_up_id is not None:
            record["margin"] = round(face.match.margin, 4)
    return record


def _print_faces(path: Path, faces: Sequence[Any]) -> None:
    if not faces:
        print(f"{path}: no face found")
        return
    print(f"{path}: {len(faces)} face{'s' if len(faces) != 1 else ''}")
    for n, face in enumerate(faces, 1):
        box = face.box
        where = f"face {n} at {box.left},{box.top} {box.width}x{box.height}"
        if face.match is None:
            print(f"  {where}: not used ({face.quality.describe()})")
        elif face.accepted:
            print(f"  {where}: {face.person_id}  distance {face.match.distance:.3f}")
        else:
            print(
                f"  {where}: unknown  (nearest {face.match.person_id}, "
                f"distance {face.match.distance:.3f})"
            )


# --- edge -----------------------------------------------------------------------------------


def _edge_config(args: argparse.Namespace) -> Any:
    from edge.config import load_edge_config

    path = args.config or os.environ.get("HADIR_CONFIG")
    return load_edge_config(path)


def _checked_edge_config(args: argparse.Namespace) -> Any:
    from edge.config import check_edge_config

    config = _edge_config(args)
    check_edge_config(config)
    return config


def cmd_edge_run(args: argparse.Namespace) -> int:
    from edge.daemon.signals import StartupCancelledError, install_signal_handlers
    from edge.logs import configure_logging, log_fatal

    # First of all, before the heavy imports and the model loading: a SIGTERM or SIGHUP
    # during start-up then stops it between two steps instead of killing it half-done.
    signals = install_signal_handlers()
    # Before anything is created: a config that cannot run leaves no store behind.
    config = _checked_edge_config(args)
    # The config's [logging] applies unless the command line or HADIR_LOG_* chose otherwise.
    configure_logging(
        args.log_level or os.environ.get("HADIR_LOG_LEVEL") or config.logging.level,
        args.log_format or os.environ.get("HADIR_LOG_FORMAT") or config.logging.format,
    )
    from edge.daemon.runner import EdgeDaemon

    try:
        daemon = EdgeDaemon.from_config(config, signals=signals)
    except StartupCancelledError as exc:
        structlog.get_logger(__name__).info(
            "daemon_stopped",
            during="start-up",
            detail=str(exc),
            signal=signals.stopped_by.name if signals.stopped_by else None,
            exit_code=signals.exit_code,
        )
        return signals.exit_code
    except (HadirError, FileNotFoundError) as exc:
        # Under systemd the reason it did not start is a JSON record like every other
        # journal line; on a terminal main() prints its usual one line.
        if not log_fatal("daemon_start_failed", str(exc)):
            raise
        return EXIT_USAGE
    return daemon.run(max_frames=args.max_frames)


def cmd_edge_doctor(args: argparse.Namespace) -> int:
    from edge.daemon.doctor import doctor

    return doctor(_edge_config(args))


def _add_edge_parser(sub: Any) -> None:
    p = sub.add_parser(
        "edge",
        help="run or check the terminal daemon",
        description="The wall terminal: camera, recognition, attendance store, LEDs, sync.",
    )
    edge_sub = p.add_subparsers(dest="edge_command", metavar="COMMAND", required=True)

    def config_arg(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--config",
            type=Path,
            default=None,
            help="edge TOML config (default: $HADIR_CONFIG, else built-in defaults; "
            "HADIR_* variables override either)",
        )

    r = edge_sub.add_parser(
        "run",
        help="run the terminal daemon until SIGTERM",
        description="Load models and the enrolment mirror, tell systemd READY, then turn "
        "camera frames into attendance events and LED/buzzer feedback until SIGTERM "
        "(or the end of a replayed clip).",
    )
    config_arg(r)
    r.add_argument("--max-frames", type=int, default=None, help="stop after N frames (testing)")
    r.set_defaults(handler=cmd_edge_run)

    d = edge_sub.add_parser(
        "doctor",
        help="check camera, models, store, GPIO and clock",
        description="Run every check a working terminal needs, one line each; exit 1 when "
        "any fails (an unsynchronised clock only warns).",
    )
    config_arg(d)
    d.set_defaults(handler=cmd_edge_doctor)


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
    from edge.recognize.embedder import ENROLMENT_JITTERS, MAX_JITTERS

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

    # identify
    p = sub.add_parser(
        "identify",
        help="identify the faces in images against a gallery folder",
        description="Enrol every GALLERY/<person>/* image, then print who each face in each "
        "IMAGE is (or unknown) with its distance. Folders are searched recursively. "
        "Exit 0 when every image was read, 1 when some could not be, 2 on usage errors.",
    )
    p.add_argument("--gallery", type=Path, required=True, help="folder of <person>/ photo folders")
    p.add_argument("--config", type=Path, default=None, help="edge TOML config (optional)")
    p.add_argument(
        "--upsample",
        type=int,
        default=1,
        choices=[0, 1, 2],
        help="detector upsampling for stills; 1 finds faces down to ~40 px (default 1)",
    )
    p.add_argument(
        "--jitters",
        type=_jitters_arg,
        default=ENROLMENT_JITTERS,
        metavar="N",
        help="jittered copies each gallery template averages, as the server's enrolment does "
        f"(0-{MAX_JITTERS}; default {ENROLMENT_JITTERS}; 0 is fastest)",
    )
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.add_argument("images", nargs="+", help="image files or folders")
    p.set_defaults(handler=cmd_identify)

    _add_edge_parser(sub)
    try:
        from sync_server.cli import add_server_parser
    except ImportError:  # a terminal installed without the [server] extra
        pass
    else:
        add_server_parser(sub)
        from sync_server.admin_cli import add_admin_parsers

        add_admin_parsers(sub)
        from sync_server.reports_cli import add_reports_parser

        add_reports_parser(sub)
        _add_demo_parser(sub)

    # config
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from edge.logs import configure_logging

    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(
        args.log_level or os.environ.get("HADIR_LOG_LEVEL") or "info",
        args.log_format or os.environ.get("HADIR_LOG_FORMAT") or "auto",
    )
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        _print_err(f"config error: {exc}")
        return EXIT_USAGE
    except (HadirError, FileNotFoundError) as exc:
        _print_err(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
