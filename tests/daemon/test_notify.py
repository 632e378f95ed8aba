"""sd_notify against real AF_UNIX datagram sockets, and the watchdog's cadence on a fake clock."""

from __future__ import annotations

import itertools
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from edge.daemon.notify import SystemdNotifier, Watchdog, watchdog_interval
from tests.support.clock import FakeClock

# sockaddr_un.sun_path holds 108 bytes; pytest's tmp_path can be longer.
MAX_SUN_PATH = 100
# The cadences below are sums of float steps from here (another start rounds them otherwise).
CLOCK_START = 500.0


class Receiver:
    """The systemd side: a bound datagram socket that collects what the service sends."""

    def __init__(self, sock: socket.socket, address: str) -> None:
        self.sock = sock
        self.address = address

    def recv(self, timeout: float = 2.0) -> str:
        self.sock.settimeout(timeout)
        return self.sock.recv(4096).decode()

    def drain(self) -> list[str]:
        self.sock.setblocking(False)
        messages = []
        try:
            while True:
                messages.append(self.sock.recv(4096).decode())
        except BlockingIOError:
            return messages


@pytest.fixture
def short_dir(tmp_path: Path) -> Iterator[Path]:
    if len(str(tmp_path / "notify.sock")) <= MAX_SUN_PATH:
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(prefix="hadir-") as name:
        yield Path(name)


@pytest.fixture
def receiver(short_dir: Path) -> Iterator[Receiver]:
    path = short_dir / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    try:
        yield Receiver(sock, str(path))
    finally:
        sock.close()


@pytest.fixture
def abstract_receiver() -> Iterator[Receiver]:
    name = f"hadir-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    try:
        yield Receiver(sock, "@" + name)
    finally:
        sock.close()


# -- the notifier ------------------------------------------------------------------


def test_unset_notify_socket_makes_every_call_a_silent_no_op() -> None:
    notifier = SystemdNotifier(environ={})
    assert not notifier.enabled
    with capture_logs() as logs:
        results = [
            notifier.ready("up"),
            notifier.status("x"),
            notifier.watchdog(),
            notifier.stopping(),
            notifier.reloading(),
            notifier.notify(FOO=1),
        ]
    assert results == [False] * 6
    assert logs == []


def test_messages_arrive_on_a_filesystem_socket(receiver: Receiver) -> None:
    notifier = SystemdNotifier(environ={"NOTIFY_SOCKET": receiver.address})
    assert notifier.enabled
    assert notifier.ready()
    assert receiver.recv() == "READY=1"
    assert notifier.ready("gallery: 12 people")
    assert receiver.recv() == "READY=1\nSTATUS=gallery: 12 people"
    assert notifier.status("camera reconnecting")
    assert receiver.recv() == "STATUS=camera reconnecting"
    assert notifier.watchdog()
    assert receiver.recv() == "WATCHDOG=1"
    assert notifier.stopping()
    assert receiver.recv() == "STOPPING=1"
    assert notifier.stopping("finishing the last write")
    assert receiver.recv() == "STOPPING=1\nSTATUS=finishing the last write"
    assert notifier.extend_timeout(20)
    assert receiver.recv() == "EXTEND_TIMEOUT_USEC=20000000"
    notifier.close()


def test_reloading_carries_the_monotonic_time_in_microseconds(receiver: Receiver) -> None:
    notifier = SystemdNotifier(receiver.address)
    before = time.monotonic_ns() // 1000
    assert notifier.reloading()
    after = time.monotonic_ns() // 1000
    lines = receiver.recv().split("\n")
    assert lines[0] == "RELOADING=1"
    key, value = lines[1].split("=")
    assert key == "MONOTONIC_USEC"
    assert before <= int(value) <= after


def test_abstract_socket(abstract_receiver: Receiver) -> None:
    notifier = SystemdNotifier(environ={"NOTIFY_SOCKET": abstract_receiver.address})
    assert notifier.enabled
    assert notifier.notify(READY=1, STATUS="abstract")
    assert abstract_receiver.recv() == "READY=1\nSTATUS=abstract"


def test_notify_sends_fields_in_order_in_one_datagram(receiver: Receiver) -> None:
    notifier = SystemdNotifier(receiver.address)
    assert notifier.notify(STATUS="a", ERRNO=5, READY=True, WATCHDOG=False)
    assert receiver.drain() == ["STATUS=a\nERRNO=5\nREADY=1\nWATCHDOG=0"]


def test_newlines_in_values_cannot_inject_assignments(receiver: Receiver) -> None:
    notifier = SystemdNotifier(receiver.address)
    notifier.status("camera error:\nREADY=1\r\nWATCHDOG=1")
    assert receiver.recv() == "STATUS=camera error: READY=1  WATCHDOG=1"


@pytest.mark.parametrize("name", ["ready", "Status", "1X", "A-B", ""])
def test_invalid_field_names_are_a_programming_error(receiver: Receiver, name: str) -> None:
    notifier = SystemdNotifier(receiver.address)
    with pytest.raises(ValueError, match="field name"):
        notifier.notify(**{name: 1})
    assert receiver.drain() == []


@pytest.mark.parametrize("address", ["vsock:2:1234", "relative/notify.sock"])
def test_unsupported_addresses_disable_the_notifier(address: str) -> None:
    with capture_logs() as logs:
        notifier = SystemdNotifier(environ={"NOTIFY_SOCKET": address})
    assert not notifier.enabled
    assert not notifier.ready()
    assert [entry["event"] for entry in logs] == ["notify_socket_unsupported"]


def test_send_errors_are_logged_once_and_never_raised(short_dir: Path) -> None:
    path = short_dir / "later.sock"
    notifier = SystemdNotifier(str(path))
    with capture_logs() as logs:
        # Nobody listens yet: ENOENT, then the same again, quietly.
        assert not notifier.ready()
        assert not notifier.watchdog()
        assert not notifier.status("still nobody")
    assert [entry["event"] for entry in logs] == ["notify_send_failed"]
    assert logs[0]["log_level"] == "warning"
    assert logs[0]["fields"] == ["READY"]

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    try:
        with capture_logs() as logs:
            assert notifier.watchdog()
        assert [entry["event"] for entry in logs] == ["notify_send_recovered"]
        sock.settimeout(2)
        assert sock.recv(4096) == b"WATCHDOG=1"
    finally:
        sock.close()

    # The listener went away (systemd re-executed): one new warning, no exception.
    path.unlink()
    with capture_logs() as logs:
        assert not notifier.watchdog()
        assert not notifier.watchdog()
    assert [entry["event"] for entry in logs] == ["notify_send_failed"]


def test_a_closed_notifier_reopens_its_socket(receiver: Receiver) -> None:
    notifier = SystemdNotifier(receiver.address)
    notifier.close()
    assert notifier.watchdog()
    notifier.close()
    notifier.close()
    assert notifier.watchdog()
    assert receiver.drain() == ["WATCHDOG=1", "WATCHDOG=1"]


def test_a_child_process_sends_as_itself(receiver: Receiver) -> None:
    """What systemd sees with NotifyAccess=main: the sender's real pid."""
    sock = receiver.sock
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    import subprocess
    import sys

    code = "from edge.daemon.notify import SystemdNotifier; SystemdNotifier().ready('child')"
    env = {**os.environ, "NOTIFY_SOCKET": receiver.address}
    child = subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    assert child.returncode == 0
    sock.settimeout(2)
    data, ancillary, _flags, _addr = sock.recvmsg(4096, socket.CMSG_SPACE(12))
    assert data == b"READY=1\nSTATUS=child"
    level, kind, creds = ancillary[0]
    assert (level, kind) == (socket.SOL_SOCKET, socket.SCM_CREDENTIALS)
    sender_pid = int.from_bytes(creds[:4], sys.byteorder)
    assert sender_pid not in (0, os.getpid())


# -- watchdog_interval -------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 30.0),
        ({"WATCHDOG_USEC": "500000"}, 0.5),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4243"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "thirty"}, None),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "me"}, None),
        ({"WATCHDOG_PID": "4242"}, None),
    ],
)
def test_watchdog_interval(environ: dict[str, str], expected: float | None) -> None:
    assert watchdog_interval(environ, pid=4242) == expected


def test_watchdog_interval_checks_our_own_pid_by_default() -> None:
    mine = {"WATCHDOG_USEC": "8000000", "WATCHDOG_PID": str(os.getpid())}
    assert watchdog_interval(mine) == 8.0
    assert SystemdNotifier(environ=mine).watchdog_interval() == 8.0
    parent = {"WATCHDOG_USEC": "8000000", "WATCHDOG_PID": str(os.getppid())}
    assert watchdog_interval(parent) is None


# -- Watchdog ----------------------------------------------------------------------


def make_watchdog(
    receiver: Receiver, clock: FakeClock, *, usec: int = 30_000_000, stall_after: float = 10.0
) -> Watchdog:
    environ = {"NOTIFY_SOCKET": receiver.address, "WATCHDOG_USEC": str(usec)}
    notifier = SystemdNotifier(environ=environ)
    return Watchdog(notifier, stall_after=stall_after, monotonic=clock)


def run_loop(watchdog: Watchdog, clock: FakeClock, seconds: float, step: float, flowing: bool):
    """Beat like a main loop for ``seconds``; return the times a ping was sent (from start)."""
    start = clock()
    sent = []
    while clock() - start < seconds - 1e-9:
        if watchdog.beat(flowing):
            sent.append(round(clock() - start, 6))
        clock.advance(step)
    return sent


def test_pings_at_half_the_interval_while_frames_flow(receiver: Receiver) -> None:
    clock = FakeClock(mono=CLOCK_START)
    watchdog = make_watchdog(receiver, clock)
    assert watchdog.enabled
    assert (watchdog.interval, watchdog.ping_every) == (30.0, 15.0)
    # A 15 fps loop for two minutes: the first beat pings, then every 15 s.
    sent = run_loop(watchdog, clock, 120, 1 / 15, flowing=True)
    assert len(sent) == 8
    assert sent[0] == 0
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert all(15 <= gap < 15 + 1 / 15 + 1e-6 for gap in gaps)
    assert receiver.drain() == ["WATCHDOG=1"] * 8
    assert watchdog.pings == 8


def test_pings_stop_when_frames_stop_and_resume_when_they_return(receiver: Receiver) -> None:
    clock = FakeClock(mono=CLOCK_START)
    watchdog = make_watchdog(receiver, clock, usec=4_000_000, stall_after=5.0)
    assert run_loop(watchdog, clock, 10, 0.1, flowing=True) == [0, 2, 4, 6, 8]
    assert len(receiver.drain()) == 5

    # The loop keeps running (latest() times out), but no frame comes: pings go on
    # only while the last frame is younger than stall_after, then stop for good.
    with capture_logs() as logs:
        sent = run_loop(watchdog, clock, 60, 0.5, flowing=False)
    assert sent == [0.0, 2.0, 4.0]
    assert len(receiver.drain()) == 3
    assert [entry["event"] for entry in logs] == ["watchdog_withheld"]
    assert logs[0]["reason"] == "frames_stalled"
    assert watchdog.frame_age() >= 60

    # The camera comes back (before systemd acted): a ping at once, then the cadence.
    with capture_logs() as logs:
        assert run_loop(watchdog, clock, 5, 0.1, flowing=True) == [0, 2, 4]
    assert [entry["event"] for entry in logs] == ["watchdog_resumed"]


def test_occasional_empty_iterations_do_not_stop_the_pings(receiver: Receiver) -> None:
    clock = FakeClock(mono=CLOCK_START)
    watchdog = make_watchdog(receiver, clock, usec=2_000_000, stall_after=3.0)
    sent = []
    for i in range(200):
        # A frame every 5th iteration at 10 iterations/s: 2 fps, well inside 3 s.
        if watchdog.beat(frames_flowing=i % 5 == 0):
            sent.append(i)
            # Read as PID 1 does: an unread queue (net.unix.max_dgram_qlen, 10 by
            # default) would make the sender wait for SEND_TIMEOUT and give up.
            assert receiver.drain() == ["WATCHDOG=1"]
        clock.advance(0.1)
    assert sent == list(range(0, 200, 10))


def test_the_camera_gets_stall_after_to_deliver_its_first_frame(receiver: Receiver) -> None:
    clock = FakeClock(mono=CLOCK_START)
    watchdog = make_watchdog(receiver, clock, usec=2_000_000, stall_after=3.0)
    assert run_loop(watchdog, clock, 10, 0.5, flowing=False) == [0, 1.0, 2.0]


def test_a_stuck_loop_sends_nothing(receiver: Receiver) -> None:
    clock = FakeClock(mono=CLOCK_START)
    watchdog = make_watchdog(receiver, clock, usec=2_000_000)
    assert watchdog.beat(True)
    clock.advance(3600)  # the loop hung inside a driver call
    assert receiver.drain() == ["WATCHDOG=1"]


def test_without_watchdog_usec_beats_do_nothing(receiver: Receiver) -> None:
    clock = FakeClock(mono=CLOCK_START)
    watchdog = Watchdog(SystemdNotifier(receiver.address, environ={}), monotonic=clock)
    assert not watchdog.enabled
    assert watchdog.ping_every is None
    assert run_loop(watchdog, clock, 60, 1, flowing=True) == []
    assert receiver.drain() == []


def test_explicit_interval_overrides_the_environment(receiver: Receiver) -> None:
    clock = FakeClock(mono=CLOCK_START)
    watchdog = Watchdog(SystemdNotifier(receiver.address, environ={}), 1.0, monotonic=clock)
    assert run_loop(watchdog, clock, 2, 0.25, flowing=True) == [0, 0.5, 1.0, 1.5]


def test_without_notify_socket_the_watchdog_is_inert() -> None:
    clock = FakeClock(mono=CLOCK_START)
    watchdog = Watchdog(SystemdNotifier(environ={"WATCHDOG_USEC": "2000000"}), monotonic=clock)
    assert not watchdog.enabled
    assert run_loop(watchdog, clock, 10, 0.5, flowing=True) == []


@pytest.mark.parametrize(("interval", "stall_after"), [(0.0, 10.0), (-1.0, 10.0), (30.0, 0.0)])
def test_invalid_watchdog_settings(interval: float, stall_after: float) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        Watchdog(SystemdNotifier(environ={}), interval, stall_after=stall_after)
