"""The systemd notify protocol (``sd_notify``), without libsystemd.

systemd passes ``NOTIFY_SOCKET`` (a filesystem path, or ``@name`` for an abstract
socket) to a ``Type=notify`` service; the service sends newline-separated
``KEY=value`` datagrams to it: ``READY=1`` when it is serving, ``STATUS=...`` for
``systemctl status``, ``WATCHDOG=1`` as a keep-alive, ``STOPPING=1`` on shutdown.
Outside systemd (a developer's shell, tests) the variable is unset and every call
is a no-op, so the daemon needs no "am I under systemd" branches.

Sending never raises into the caller: a terminal must keep recording attendance
even if the notify socket has gone away. The first failure is logged, then
failures are quiet until a send succeeds again.

The watchdog (``WatchdogSec=``) is how systemd restarts a daemon whose main loop
is stuck or whose camera has stalled: :class:`Watchdog` pings only while both are
healthy, so either problem makes the pings stop and systemd kills and restarts us.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping

import structlog

__all__ = [
    "DEFAULT_STALL_AFTER",
    "SystemdNotifier",
    "Watchdog",
    "watchdog_interval",
]

log = structlog.get_logger(__name__)

Clock = Callable[[], float]
FieldValue = str | int | float | bool

# A blocked send would stall the recognition loop; PID 1 drains its socket fast,
# so a send that cannot complete in this time is better dropped and logged.
SEND_TIMEOUT = 1.0
DEFAULT_STALL_AFTER = 10.0
_FIELD_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def watchdog_interval(
    environ: Mapping[str, str] | None = None, *, pid: int | None = None
) -> float | None:
    """The watchdog timeout systemd expects pings within, in seconds, or None when off.

    ``WATCHDOG_USEC`` carries the timeout. When ``WATCHDOG_PID`` is set it names
    the process the watchdog is for; a child that inherited the environment must
    not believe it is watched. Ping at half the interval (``sd_watchdog_enabled``
    gives the same advice) so one late iteration does not cost a restart.
    """
    environ = os.environ if environ is None else environ
    raw_usec = environ.get("WATCHDOG_USEC", "").strip()
    if not raw_usec:
        return None
    raw_pid = environ.get("WATCHDOG_PID", "").strip()
    if raw_pid:
        try:
            watched = int(raw_pid)
        except ValueError:
            log.warning("watchdog_env_invalid", variable="WATCHDOG_PID", value=raw_pid)
            return None
        if watched != (os.getpid() if pid is None else pid):
            return None
    try:
        usec = int(raw_usec)
    except ValueError:
        log.warning("watchdog_env_invalid", variable="WATCHDOG_USEC", value=raw_usec)
        return None
    if usec <= 0:
        return None
    return usec / 1_000_000


def _socket_address(raw: str) -> str | bytes | None:
    if raw.startswith("@"):
        # systemd writes the abstract namespace's leading NUL as "@"; the name is
        # not NUL-terminated, and its exact length is part of the address.
        return b"\0" + raw[1:].encode()
    if raw.startswith("/"):
        return raw
    # vsock:... (systemd in a VM/container host) and anything else we cannot reach.
    return None


def _encode(fields: Mapping[str, FieldValue]) -> bytes:
    lines = []
    for key, value in fields.items():
        if not _FIELD_NAME.match(key):
            raise ValueError(f"invalid sd_notify field name {key!r}")
        text = ("1" if value else "0") if isinstance(value, bool) else str(value)
        # A newline would start a new assignment: a STATUS built from an error
        # message could otherwise smuggle in READY=1 or WATCHDOG=1.
        text = text.replace("\r", " ").replace("\n", " ")
        lines.append(f"{key}={text}")
    return "\n".join(lines).encode("utf-8")


class SystemdNotifier:
    """Sends ``sd_notify`` messages to ``NOTIFY_SOCKET``; a no-op when it is unset.

    ``address`` overrides the environment (tests). Every method returns True when
    the datagram was sent and False otherwise (disabled, or a send error that was
    logged); callers normally ignore the result. Thread-safe.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._environ: Mapping[str, str] = os.environ if environ is None else environ
        raw = self._environ.get("NOTIFY_SOCKET", "") if address is None else address
        self.address = raw
        self._target = _socket_address(raw) if raw else None
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._failing = False
        if raw and self._target is None:
            log.warning("notify_socket_unsupported", address=raw)

    @property
    def enabled(self) -> bool:
        """True when messages go somewhere (NOTIFY_SOCKET is set and usable)."""
        return self._target is not None

    def watchdog_interval(self) -> float | None:
        """:func:`watchdog_interval` for this notifier's environment."""
        return watchdog_interval(self._environ)

    # -- messages -------------------------------------------------------------
    def ready(self, status: str | None = None) -> bool:
        """Startup is complete (models and gallery loaded): systemd may start dependants."""
        if status is None:
            return self.notify(READY=1)
        return self.notify(READY=1, STATUS=status)

    def status(self, text: str) -> bool:
        """One line for ``systemctl status``."""
        return self.notify(STATUS=text)

    def watchdog(self) -> bool:
        """Keep-alive. Prefer :class:`Watchdog`, which sends it only while healthy."""
        return self.notify(WATCHDOG=1)

    def stopping(self, status: str | None = None) -> bool:
        """Shutdown has begun; systemd stops expecting watchdog pings."""
        if status is None:
            return self.notify(STOPPING=1)
        return self.notify(STOPPING=1, STATUS=status)

    def reloading(self) -> bool:
        """A configuration reload has begun; send :meth:`ready` when it is done.

        ``MONOTONIC_USEC`` is required by ``Type=notify-reload`` (systemd 253+) to
        tell this reload from an earlier one; older systemd ignores it.
        """
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify(RELOADING=1, MONOTONIC_USEC=usec)

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for ``seconds`` more before a start/stop timeout fires (slow model load)."""
        return self.notify(EXTEND_TIMEOUT_USEC=max(1, round(seconds * 1_000_000)))

    def notify(self, **fields: FieldValue) -> bool:
        """Send ``KEY=value`` assignments in one datagram, e.g. ``notify(READY=1, STATUS="up")``.

        Field names must be upper case (``ValueError`` otherwise: that is a bug in
        the caller, not a runtime condition). Newlines in values become spaces.
        """
        payload = _encode(fields)
        if self._target is None or not payload:
            return False
        with self._lock:
            try:
                sock = self._socket
                if sock is None:
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    sock.settimeout(SEND_TIMEOUT)
                    self._socket = sock
                sock.sendto(payload, self._target)
            except OSError as exc:
                self._drop_socket()
                if not self._failing:
                    self._failing = True
                    log.warning(
                        "notify_send_failed",
                        address=self.address,
                        error=str(exc),
                        fields=sorted(fields),
                    )
                return False
            if self._failing:
                self._failing = False
                log.info("notify_send_recovered", address=self.address)
            return True

    def close(self) -> None:
        """Release the socket. Later messages open a new one."""
        with self._lock:
            self._drop_socket()

    def _drop_socket(self) -> None:
        # A socket that failed once may be in a bad state (peer gone, restarted
        # PID 1 listening on a new inode); a fresh one costs nothing.
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()

    def __repr__(self) -> str:
        target = self.address or "disabled"
        return f"<SystemdNotifier {target}>"


class Watchdog:
    """Sends ``WATCHDOG=1`` from the main loop, but only while the daemon is healthy.

    The main loop calls :meth:`beat` once per iteration with ``frames_flowing``
    True when the camera delivered a frame since the previous beat. A ping goes out
    at most every ``interval / 2`` seconds and only when the last frame is younger
    than ``stall_after`` seconds. So:

    * a stuck main loop stops calling ``beat``: no pings, systemd restarts us
      after ``WatchdogSec``;
    * a camera that stops delivering (unplugged, driver hang, a grabber stuck in
      reconnects) keeps the loop running but stops the pings after ``stall_after``:
      systemd restarts us ``stall_after + WatchdogSec`` later at the latest.

    The clock for "last frame" starts at construction, so the camera gets
    ``stall_after`` seconds to deliver its first frame. ``interval`` defaults to
    the notifier's :func:`watchdog_interval`; with no watchdog configured every
    beat is a cheap no-op.
    """

    def __init__(
        self,
        notifier: SystemdNotifier,
        interval: float | None = None,
        *,
        stall_after: float = DEFAULT_STALL_AFTER,
        monotonic: Clock = time.monotonic,
    ) -> None:
        if stall_after <= 0:
            raise ValueError(f"stall_after must be positive, got {stall_after}")
        if interval is None:
            interval = notifier.watchdog_interval()
        if interval is not None and interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        self.notifier = notifier
        self.interval = interval
        self.stall_after = stall_after
        self._monotonic = monotonic
        self._last_frame = monotonic()
        self._last_ping: float | None = None
        self._withheld = False
        self.pings = 0

    @property
    def enabled(self) -> bool:
        return self.interval is not None and self.notifier.enabled

    @property
    def ping_every(self) -> float | None:
        """Seconds between pings while healthy: half the systemd interval."""
        return None if self.interval is None else self.interval / 2

    def frame_age(self) -> float:
        """Seconds since the last beat that reported flowing frames (or since start)."""
        return self._monotonic() - self._last_frame

    def beat(self, frames_flowing: bool) -> bool:
        """Record one main-loop iteration; returns True when a ping was sent."""
        now = self._monotonic()
        if frames_flowing:
            self._last_frame = now
        if self.interval is None:
            return False
        stalled = now - self._last_frame >= self.stall_after
        if stalled:
            if not self._withheld:
                self._withheld = True
                log.warning(
                    "watchdog_withheld",
                    reason="frames_stalled",
                    frame_age=round(now - self._last_frame, 3),
                    stall_after=self.stall_after,
                    restart_within=self.interval,
                )
            return False
        if self._withheld:
            self._withheld = False
            log.info("watchdog_resumed")
        if self._last_ping is not None and now - self._last_ping < self.interval / 2:
            return False
        self._last_ping = now
        sent = self.notifier.watchdog()
        if sent:
            self.pings += 1
        return sent
