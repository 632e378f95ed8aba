"""Whole-frame face scans in a second process, so the loop's core never waits for them.

A full scan of a 1080p frame takes dlib's HOG detector about a quarter of a second on a
desktop core and about a second on a Pi 4's, and dlib holds Python's GIL while it runs,
so a thread would not help. The recognition loop therefore hands the frame (grey, ~2 MB
at 1080p) to a worker process and goes on following the faces it already tracks with
cheap region searches; when the scan's answer comes back a few frames later, the loop
starts tracks for the faces it did not know about (``RecognitionLoop._adopt``).

One scan is in flight at a time: a scan that is still running when the next one is due
is simply not asked for again (the newest frame matters, not a queue of old ones).

The worker is a fresh interpreter (``python -m edge.recognize.scanner``), not a fork: the
daemon has threads (capture, sync) by the time the loop is built, and forking a process with
threads can copy a held lock; nor multiprocessing's ``spawn``, which re-runs the caller's
main module in the child. The two talk over a socket pair with multiprocessing's framing.
The worker starts in the background (spawning Python and loading dlib takes a few
seconds); until it says it is ready, and for good if it dies (an out-of-memory kill, a
crash in dlib), ``ready`` is false and the loop scans in its own process: slower, never
blind.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing.connection
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import structlog
from pydantic import TypeAdapter

from edge.errors import HadirError
from edge.recognize.config import DetectorConfig, RecognitionConfig
from edge.recognize.types import Box, Detection, Image

log = structlog.get_logger(__name__)

START_TIMEOUT_S = 120.0
"""Spawning Python and loading dlib takes 1-3 s on a desktop; a Pi's SD card is slower."""

_READY = "ready"


class ScanWorkerError(HadirError, RuntimeError):
    """The scan worker process could not be started."""


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The faces found in one frame that was scanned whole."""

    frame_index: int
    monotonic: float  # the scanned frame's capture time: the boxes are where faces were then
    detections: list[Detection]
    seconds: float  # the scan's own CPU time in the worker


class Scanner(Protocol):
    """What the loop needs of a background scanner (:class:`ScanWorker` is the real one)."""

    @property
    def ready(self) -> bool: ...

    @property
    def busy(self) -> bool: ...

    def submit(self, grey: Image, frame_index: int, monotonic: float) -> bool: ...

    def poll(self) -> ScanResult | None: ...

    def close(self) -> None: ...


AUTO_MIN_CORES = 4
"""``scan_worker = "auto"`` starts the worker from this many usable cores: a Pi 4 or 5 or a
Jetson, where a core is free for it beside the loop and the camera. On two cores it pays
too (docs/recognition.md, "The scan worker") but shares them with everything else the
machine runs, so there it is asked for with ``on``."""


def usable_cores() -> int:
    """Cores this process may run on (``taskset``, a cpuset), not merely the machine's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def start_scan_worker(config: RecognitionConfig, *, cores: int | None = None) -> ScanWorker | None:
    """The scan worker ``[recognition.tracking] scan_worker`` asks for, or None.

    A worker that cannot start is logged and the loop scans by itself: a terminal that
    recognises more slowly is better than one that does not start.
    """
    mode = config.tracking.scan_worker
    cores = cores or usable_cores()
    if mode == "off" or (mode == "auto" and cores < AUTO_MIN_CORES):
        return None
    try:
        return ScanWorker(config.detector)
    except OSError as exc:
        log.error("scan_worker_unavailable", error=str(exc), cores=cores)
        return None


NICENESS = 5
"""How much nicer than the daemon the worker runs: with the kernel's weights, about a
third of a core's share against the loop's thread on a shared core."""


class ScanWorker:
    """A detector in its own process: :meth:`submit` a frame, :meth:`poll` for its faces.

    Not thread-safe: the one recognition loop that owns it calls it.
    """

    def __init__(
        self,
        config: DetectorConfig,
        *,
        start_timeout_s: float = START_TIMEOUT_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._monotonic = monotonic
        ours, theirs = socket.socketpair()
        self._conn = multiprocessing.connection.Connection(ours.detach())
        child = theirs.detach()
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "edge.recognize.scanner",
                    str(child),
                    json.dumps(config.model_dump(mode="json")),
                ],
                pass_fds=(child,),
                stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(child)
        self._busy = False
        self._alive = True
        self._ready = False
        self._closed = False
        self.scans = 0
        self.cpu_s = 0.0  # the worker's CPU time spent scanning
        self._deadline = monotonic() + start_timeout_s

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def exitcode(self) -> int | None:
        """The worker process's exit status; None while it runs."""
        return self._process.poll()

    @property
    def alive(self) -> bool:
        """False once the worker died or was closed: the loop then scans by itself."""
        return self._alive and not self._closed

    @property
    def ready(self) -> bool:
        """The worker is up and takes frames (checked without waiting)."""
        if self._ready or not self.alive:
            return self._ready and self.alive
        try:
            if self._conn.poll() and self._conn.recv() == _READY:
                self._ready = True
                log.info("scan_worker_started", pid=self._process.pid, detector=self.config.type)
                return True
        except (EOFError, OSError) as exc:
            self._died(exc)
            return False
        if self._monotonic() > self._deadline:
            self._died(ScanWorkerError("the scan worker did not start in time"))
            self._process.kill()
        return False

    def wait_ready(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the worker to start (benchmarks, tests)."""
        end = self._monotonic() + timeout
        while not self.ready and self.alive:
            left = end - self._monotonic()
            if left <= 0:
                return False
            with contextlib.suppress(EOFError, OSError):  # ready records a death
                self._conn.poll(min(left, 0.1))
        return self.ready

    @property
    def busy(self) -> bool:
        """A scan is in flight."""
        return self._busy

    def submit(self, grey: Image, frame_index: int, monotonic: float) -> bool:
        """Start scanning a grey frame; False (and nothing sent) while a scan is in flight."""
        if self._busy or not self.ready:
            return False
        frame = np.ascontiguousarray(grey, dtype=np.uint8)
        try:
            self._conn.send((frame_index, monotonic, frame.shape))
            self._conn.send_bytes(frame.tobytes())
        except OSError as exc:
            self._died(exc)
            return False
        self._busy = True
        return True

    def poll(self) -> ScanResult | None:
        """The finished scan's result, once; None while it runs (or with nothing in flight)."""
        if not self._busy or not self.alive:
            return None
        try:
            if not self._conn.poll():
                return None
            index, monotonic, raw, seconds = self._conn.recv()
        except (EOFError, OSError) as exc:
            self._died(exc)
            return None
        self._busy = False
        self.scans += 1
        self.cpu_s += seconds
        detections = [Detection(Box(*box), score) for box, score in raw]
        return ScanResult(index, monotonic, detections, seconds)

    def close(self) -> None:
        """Stop the worker. Idempotent."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):  # already gone
            self._conn.send(None)
        try:
            # Still loading dlib, it would read the stop only once loaded: no need to wait.
            self._process.wait(timeout=5.0 if self._ready else 0.01)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=5.0)
        self._conn.close()

    def _died(self, exc: BaseException) -> None:
        self._alive = False
        self._busy = False
        log.error(
            "scan_worker_died",
            error=str(exc) or type(exc).__name__,
            exitcode=self.exitcode,
            fallback="scanning in the loop's own process",
        )

    def __repr__(self) -> str:
        state = "closed" if self._closed else "busy" if self._busy else "idle"
        if not self._ready:
            state = "starting"
        if not self._alive:
            state = "dead"
        return f"<ScanWorker pid={self._process.pid} {state} scans={self.scans}>"


def _serve(conn: multiprocessing.connection.Connection, config: dict[str, Any]) -> None:
    """The worker's loop: detect in every frame it is sent until told to stop."""
    # The daemon handles Ctrl-C and SIGTERM and then closes us; a terminal's Ctrl-C reaches
    # the whole process group, and a traceback from here would only be noise.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Below the loop: where the two compete for a core, following and recognising the faces
    # in view comes first, and a newcomer is found a little later.
    os.nice(NICENESS)
    from edge.recognize.detector import create_detector

    detector = create_detector(TypeAdapter(DetectorConfig).validate_python(config))
    try:
        conn.send(_READY)
        while True:
            header = conn.recv()
            if header is None:
                return
            index, monotonic, shape = header
            pixels = conn.recv_bytes()
            grey = np.frombuffer(pixels, dtype=np.uint8).reshape(shape)
            start = time.process_time()
            found = detector.detect(grey)
            seconds = time.process_time() - start
            raw = [((d.box.left, d.box.top, d.box.right, d.box.bottom), d.score) for d in found]
            conn.send((index, monotonic, raw, seconds))
    except (EOFError, OSError):
        return  # the daemon is gone (it exited, or gave up on us while we started)


def main(argv: list[str] | None = None) -> int:
    """``python -m edge.recognize.scanner FD CONFIG_JSON``: what :class:`ScanWorker` runs."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m edge.recognize.scanner FD DETECTOR_CONFIG_JSON", file=sys.stderr)
        return 2
    try:
        _serve(multiprocessing.connection.Connection(int(args[0])), json.loads(args[1]))
    except HadirError as exc:  # a detector that cannot load: one line, the daemon logs the rest
        print(f"hadir scan worker: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
