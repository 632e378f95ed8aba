"""What each signal means to the terminal daemon.

=========  ===================================================================  =========
signal     effect                                                               exit code
=========  ===================================================================  =========
SIGTERM    clean stop (systemctl stop): finish the frame, stop sync, close      0
SIGINT     the same (Ctrl-C at a desk)                                          0
SIGQUIT    the same                                                             0
SIGHUP     clean stop, exit :data:`EXIT_RESTART` so that systemd's              75
           ``Restart=on-failure`` starts the daemon again with the config as
           it is on disk now (no in-process reload that could half-apply)
SIGUSR1    log one ``daemon_status`` line; keep running                          -
=========  ===================================================================  =========

The handlers are installed first thing in ``hadir edge run``, before the config
is read and the models load, and they only set flags: the main thread checks the
stop event between start-up steps and on every loop iteration, so a stop during
start-up ends it within one step instead of killing it half-done.

This module imports nothing heavy, so installing the handlers costs nothing.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import structlog

from edge.errors import HadirError

__all__ = [
    "EXIT_RESTART",
    "STOP_SIGNALS",
    "SignalRequests",
    "StartupCancelledError",
    "install_signal_handlers",
]

log = structlog.get_logger(__name__)

EXIT_RESTART = 75
"""After SIGHUP: EX_TEMPFAIL, non-zero so that ``Restart=on-failure`` restarts the daemon."""

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP)


class StartupCancelledError(HadirError, InterruptedError):
    """A stop was requested while the daemon was still starting; nothing is left running."""


class SignalRequests:
    """What signals have asked of the daemon, for the main thread to act on."""

    def __init__(self, stop_event: threading.Event | None = None) -> None:
        self.stop_event = stop_event or threading.Event()
        self.status_requested = threading.Event()
        self.stopped_by: signal.Signals | None = None

    def request_stop(self, signum: signal.Signals) -> None:
        # The first signal decides the exit code: a SIGTERM from systemd after a SIGHUP
        # must not turn the restart into a clean exit, nor the other way round.
        if self.stopped_by is None:
            self.stopped_by = signum
        self.stop_event.set()

    def take_status_request(self) -> bool:
        """True once per SIGUSR1 (several before the check count as one)."""
        if not self.status_requested.is_set():
            return False
        self.status_requested.clear()
        return True

    @property
    def exit_code(self) -> int:
        """The exit code the stop signal asks for (0 when none came)."""
        return EXIT_RESTART if self.stopped_by is signal.SIGHUP else 0

    def __repr__(self) -> str:
        by = self.stopped_by.name if self.stopped_by is not None else "none"
        return f"<SignalRequests stopped_by={by}>"


def install_signal_handlers(requests: SignalRequests | None = None) -> SignalRequests:
    """Route the stop signals and SIGUSR1 to ``requests`` (a new one by default)."""
    requests = requests or SignalRequests()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        sig = signal.Signals(signum)
        log.info("stop_requested", signal=sig.name, restart=sig is signal.SIGHUP)
        requests.request_stop(sig)

    def _status(_signum: int, _frame: FrameType | None) -> None:
        requests.status_requested.set()

    for sig in STOP_SIGNALS:
        signal.signal(sig, _stop)
    signal.signal(signal.SIGUSR1, _status)
    return requests
