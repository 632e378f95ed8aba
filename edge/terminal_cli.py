"""The terminal's own ``hadir`` commands: ``identify`` and ``edge run|doctor``.

They need the terminal's packages only (never ``sync_server``): edge/cli.py adds
them to the ``hadir`` command next to the server's. Subcommands import their heavy
parts lazily. ``edge run`` reads the root parser's ``--log-level``/``--log-format``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from edge.errors import HadirError, ImageError
from edge.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE, print_error

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
        print_error(f"gallery: skipped {rejected.message}")
    if not built.templates_per_person:
        print_error(f"gallery {args.gallery}: no usable face in any <person>/ image")
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
                print_error(f"{exc}")
                records.append({"image": str(path), "error": exc.reason, "message": str(exc)})
                continue
            faces = identify(analyzer, built.gallery, rgb)
            records.append({"image": str(path), "faces": [_face_record(f) for f in faces]})
            if not args.json:
                _print_faces(path, faces)
    if args.json:
        print(json.dumps(records, indent=2))
    return EXIT_FAILED if failures else EXIT_OK


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


def add_identify_parser(sub: Any) -> None:
    """Add ``identify`` to an argparse subparsers object."""
    from edge.recognize.embedder import ENROLMENT_JITTERS, MAX_JITTERS

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
    from edge.recognize.dlib_info import one_blas_thread

    # Before dlib is loaded, which happens once the config is read (and for the scan
    # worker, which inherits the environment).
    one_blas_thread()
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


def add_edge_parser(sub: Any) -> None:
    """Add ``edge`` with its subcommands to an argparse subparsers object."""
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
