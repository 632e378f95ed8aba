"""``hadir edge doctor``: is this terminal able to work? One line per check."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from edge.checks import Check, CheckResult
from edge.config import EdgeConfig
from edge.sync.doctor import SYNC_CHECKS

if TYPE_CHECKING:
    from edge.recognize.dlib_info import DlibBuild


def check_config(config: EdgeConfig) -> CheckResult:
    return CheckResult("config", True, f"device {config.device.id}, tz {config.device.timezone}")


def check_models(config: EdgeConfig) -> CheckResult:
    from edge.errors import HadirError
    from edge.recognize.detector import create_detector
    from edge.recognize.embedder import FaceEmbedder

    start = time.perf_counter()
    try:
        create_detector(config.recognition.detector)
        FaceEmbedder()
    except (HadirError, OSError, RuntimeError, ImportError) as exc:
        return CheckResult("models", False, str(exc))
    took = time.perf_counter() - start
    return CheckResult("models", True, f"detector and descriptor loaded in {took:.1f} s")


def check_dlib(
    config: EdgeConfig, *, build: DlibBuild | None = None, cpu: set[str] | None = None
) -> CheckResult:
    """Which dlib runs, and whether it is the fast kind: BLAS, and the CPU's SIMD."""
    from edge.recognize.dlib_info import cpu_simd, probe

    if build is None:
        try:
            build = probe()
        except ImportError as exc:
            return CheckResult("dlib", False, f"dlib does not import: {exc}")
    if cpu is None:
        cpu = cpu_simd()
    detail = build.describe()
    how = "scripts/build-dlib.sh (docs/recognition.md, 'A fast dlib')"
    if not build.blas:
        # The prebuilt dlib-bin: it works, but each descriptor costs about 5x more CPU.
        return CheckResult(
            "dlib",
            False,
            f"{detail}; without BLAS the face descriptor takes about 5x longer: build one "
            f"with {how}",
            warning=True,
        )
    if build.simd == "none" and cpu:
        return CheckResult(
            "dlib",
            False,
            f"{detail}; this CPU has {'/'.join(sorted(cpu))}, unused: HOG detection is slower; "
            f"rebuild with {how}",
            warning=True,
        )
    return CheckResult("dlib", True, detail)


def check_camera(config: EdgeConfig, *, frames: int = 5, timeout_s: float = 10.0) -> CheckResult:
    from edge.capture import CaptureError, create_source
    from edge.capture.content import ContentVerdict, judge_sample, thumbnail
    from edge.errors import HadirError

    try:
        source = create_source(config.capture.camera)
    except HadirError as exc:
        return CheckResult("camera", False, str(exc))
    start = time.monotonic()
    got = 0
    shape: tuple[int, ...] = ()
    thumbs = []
    try:
        with source:
            while got < frames and time.monotonic() - start < timeout_s:
                image = source.read().image
                shape = image.shape
                thumbs.append(thumbnail(image))
                got += 1
    except (CaptureError, HadirError, OSError) as exc:
        return CheckResult("camera", False, str(exc))
    if got < frames:
        return CheckResult("camera", False, f"{source.description}: {got} frames in {timeout_s} s")
    # Frames that arrive but show nothing pass every other test (edge/capture/content.py).
    verdict, reason = judge_sample(thumbs, config.capture.content)
    if verdict is not ContentVerdict.OK:
        return CheckResult("camera", False, f"{source.description}: {verdict}: {reason}")
    took = time.monotonic() - start
    return CheckResult(
        "camera",
        True,
        f"{source.description}: {got} frames of {shape[1]}x{shape[0]} in {took:.2f} s",
    )


def check_feedback(config: EdgeConfig) -> CheckResult:
    from edge.errors import HadirError
    from edge.feedback import create_feedback

    try:
        feedback = create_feedback(config.feedback)
    except (HadirError, OSError, ImportError) as exc:
        return CheckResult("feedback", False, str(exc))
    feedback.close()
    return CheckResult("feedback", True, f"{config.feedback.type} backend ready")


def check_store(config: EdgeConfig) -> CheckResult:
    """The store can be written by this user and is sound (``PRAGMA integrity_check``)."""
    from edge.store import EdgeStore, StoreCorruptError, StoreError, emptied_file, lock_holder

    path = config.store.resolve_path(config.data_dir)
    device, zone = config.device.id, config.device.timezone
    try:
        if emptied_file(path):
            # SQLite takes an empty file for a new database: opening it would "repair" it.
            return CheckResult(
                "store",
                False,
                f"{path} is empty (0 bytes): the events it held are gone (truncated, or a "
                "failed copy or restore); restore it from a backup, or move it aside to "
                "start afresh",
            )
        holder = lock_holder(path)
        if holder is not None:
            # The daemon runs: read next to it, never write (it holds the store's lock).
            who = f"pid {holder}" if holder else "another process"
            mode = f"in use by the running daemon ({who}), checked read-only"
            store = EdgeStore.open(
                path, config.store, device_id=device, timezone=zone, read_only=True
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".doctor-"):
                pass
            # Opening for writing tests the file itself, not only its folder.
            mode = "writable"
            store = EdgeStore.open(path, config.store, device_id=device, timezone=zone)
        with store:
            problems = store.integrity_check()
            backlog = store.backlog()
            version = store.enrolment_version()
            people = len(store.people())
    except StoreCorruptError as exc:
        return CheckResult("store", False, f"{path} is damaged ({exc}); restore it from a backup")
    except (StoreError, OSError) as exc:
        return CheckResult("store", False, f"{path}: {exc}")
    if problems != ["ok"]:
        lines = [
            line.strip()
            for row in problems
            for line in row.splitlines()
            if line.strip() and not line.startswith("***")
        ]
        more = f" (and {len(lines) - 3} more)" if len(lines) > 3 else ""
        shown = "; ".join(lines[:3]) + more
        return CheckResult(
            "store",
            False,
            f"{path} is damaged (integrity check: {shown}); restore it from a backup",
        )
    return CheckResult(
        "store",
        True,
        f"{path} {mode}, integrity ok; {people} people (enrolment v{version}); "
        f"{backlog.count} events waiting to sync",
    )


def check_clock(config: EdgeConfig) -> CheckResult:
    from edge.store import kernel_clock_synced

    if kernel_clock_synced():
        return CheckResult("clock", True, "wall clock synchronised (NTP)")
    return CheckResult(
        "clock",
        False,
        "wall clock NOT synchronised: events are recorded but flagged until NTP syncs "
        "(see docs/operations.md, 'Clock and NTP')",
        warning=True,
    )


CHECKS: tuple[Check, ...] = (
    check_config,
    check_models,
    check_dlib,
    check_store,
    check_camera,
    check_feedback,
    check_clock,
    *SYNC_CHECKS,
)


def run_checks(config: EdgeConfig, checks: tuple[Check, ...] = CHECKS) -> Iterator[CheckResult]:
    for check in checks:
        yield check(config)


def doctor(config: EdgeConfig, *, out: Callable[[str], object] = print) -> int:
    """Print every check; 0 when none failed (warnings allowed), 1 otherwise."""
    failed = 0
    for result in run_checks(config):
        out(result.line())
        if not result.ok and not result.warning:
            failed += 1
    out(f"{failed} check{'s' if failed != 1 else ''} failed" if failed else "all checks passed")
    return 1 if failed else 0


__all__ = ["CHECKS", "Check", "CheckResult", "doctor", "run_checks"]
