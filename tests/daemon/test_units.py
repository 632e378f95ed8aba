"""The systemd units: the properties the daemon relies on, and systemd's own verdict on them."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli import build_parser
from edge.config import EdgeConfig

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "systemd"
EDGE = UNITS / "hadir-edge.service"
SERVER = UNITS / "hadir-server.service"

Unit = dict[str, dict[str, list[str]]]


def parse_unit(text: str) -> Unit:
    """A systemd unit as {section: {key: [values in order]}}.

    configparser cannot hold repeated keys (Environment=, SystemCallFilter=), which
    systemd accumulates, so this is the small subset of systemd.syntax(7) we use:
    sections, comments, backslash continuations, repeated keys.
    """
    unit: Unit = {}
    section: dict[str, list[str]] | None = None
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip() if pending else raw.strip()
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1].rstrip() + " "
            continue
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], {})
            continue
        assert section is not None, f"assignment outside a section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"not an assignment: {line!r}"
        section.setdefault(key.strip(), []).append(value.strip())
    return unit


def one(unit: Unit, section: str, key: str) -> str:
    values = unit[section].get(key, [])
    assert len(values) == 1, f"[{section}] {key}= set {len(values)} times: {values}"
    return values[0]


def words(unit: Unit, section: str, key: str) -> list[str]:
    return [word for value in unit[section].get(key, []) for word in value.split()]


def environment(unit: Unit) -> dict[str, str]:
    result = {}
    for value in unit["Service"].get("Environment", []):
        for assignment in shlex.split(value):
            name, _, setting = assignment.partition("=")
            result[name] = setting
    return result


def is_yes(value: str) -> bool:
    return value.lower() in {"yes", "true", "on", "1"}


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="module")
def edge() -> Unit:
    return parse_unit(EDGE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def server() -> Unit:
    return parse_unit(SERVER.read_text(encoding="utf-8"))


HARDENING_BOTH = [
    "NoNewPrivileges",
    "PrivateTmp",
    "ProtectHome",
    "ProtectKernelTunables",
    "ProtectKernelModules",
    "ProtectControlGroups",
    "RestrictSUIDSGID",
    "LockPersonality",
    "RestrictRealtime",
]


# -- hadir-edge.service -------------------------------------------------------------


def test_edge_is_a_notify_service_with_a_watchdog(edge: Unit) -> None:
    service = edge["Service"]
    assert one(edge, "Service", "Type") == "notify"
    assert one(edge, "Service", "NotifyAccess") == "main"
    assert one(edge, "Service", "WatchdogSec") == "30"
    assert one(edge, "Service", "Restart") == "on-failure"
    assert one(edge, "Service", "RestartSec") == "5"
    assert one(edge, "Service", "TimeoutStopSec") == "10"
    assert "WatchdogSignal" not in service  # SIGABRT: faulthandler dumps the stuck stacks
    assert environment(edge)["PYTHONFAULTHANDLER"] == "1"
    assert environment(edge)["OPENBLAS_NUM_THREADS"] == "1"
    assert one(edge, "Unit", "StartLimitIntervalSec") == "0"
    assert one(edge, "Install", "WantedBy") == "multi-user.target"


def test_edge_runs_the_cli_with_the_etc_config(edge: Unit) -> None:
    command = one(edge, "Service", "ExecStart")
    assert command == "/opt/hadir/venv/bin/hadir edge run --config /etc/hadir/edge.toml"
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert args.handler.__name__ == "cmd_edge_run"
    assert args.config == Path("/etc/hadir/edge.toml")


def test_edge_timeouts_fit_the_daemon_defaults(edge: Unit) -> None:
    daemon = EdgeConfig().daemon
    watchdog = float(one(edge, "Service", "WatchdogSec"))
    # The camera-stall rule must trip well inside systemd's patience for the loop.
    assert daemon.stall_after_s < watchdog
    # SIGTERM handling waits for a stuck camera read; systemd must not SIGKILL first.
    assert daemon.capture_stop_timeout_s + 5 <= float(one(edge, "Service", "TimeoutStopSec"))


def test_edge_identity_directories_and_logging(edge: Unit) -> None:
    assert one(edge, "Service", "User") == "hadir"
    assert one(edge, "Service", "Group") == "hadir"
    assert {"video", "gpio"} <= set(words(edge, "Service", "SupplementaryGroups"))
    assert one(edge, "Service", "StateDirectory") == "hadir"
    assert one(edge, "Service", "ConfigurationDirectory") == "hadir"
    assert one(edge, "Service", "WorkingDirectory") == "/var/lib/hadir"
    # EdgeConfig.data_dir is relative by default: it must land in the state directory.
    assert not EdgeConfig().data_dir.is_absolute()
    env = environment(edge)
    assert env["HADIR_LOG_FORMAT"] == "json"
    assert env["HADIR_LOGGING__FORMAT"] == "json"


def test_edge_waits_for_neither_network_nor_clock(edge: Unit) -> None:
    ordering = words(edge, "Unit", "After") + words(edge, "Unit", "Wants")
    ordering += words(edge, "Unit", "Requires")
    assert "network-online.target" not in ordering
    assert "time-sync.target" not in ordering


def test_edge_hardening_keeps_camera_and_gpio_devices(edge: Unit) -> None:
    service = edge["Service"]
    for key in HARDENING_BOTH:
        assert is_yes(one(edge, "Service", key)), key
    assert one(edge, "Service", "ProtectSystem") == "strict"
    assert "/var/lib/hadir" in words(edge, "Service", "ReadWritePaths")
    # libcamera (/dev/dma_heap, /dev/media*, /dev/video*) and GPIO (/dev/gpiochip*)
    # need the real /dev: no private /dev, no device allow-list (ProtectClock= and
    # DevicePolicy= create one too).
    assert not is_yes(service.get("PrivateDevices", ["no"])[-1])
    assert "DeviceAllow" not in service
    assert "DevicePolicy" not in service
    assert not is_yes(service.get("ProtectClock", ["no"])[-1])
    assert "PrivateNetwork" not in service
    assert "AF_NETLINK" in words(edge, "Service", "RestrictAddressFamilies")
    assert one(edge, "Service", "SystemCallErrorNumber") == "EPERM"


# -- hadir-server.service -----------------------------------------------------------


def test_server_service(server: Unit) -> None:
    command = one(server, "Service", "ExecStart")
    assert command == "/opt/hadir/venv/bin/hadir server run --config /etc/hadir/server.toml"
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert (args.handler.__module__, args.handler.__name__) == ("sync_server.cli", "cmd_run")
    assert one(server, "Service", "Type") == "simple"
    assert one(server, "Service", "Restart") == "on-failure"
    assert is_yes(one(server, "Service", "DynamicUser"))
    assert one(server, "Service", "StateDirectory") == "hadir-server"
    assert one(server, "Service", "WorkingDirectory") == "/var/lib/hadir-server"
    assert environment(server)["HADIR_LOG_FORMAT"] == "json"
    assert one(server, "Install", "WantedBy") == "multi-user.target"


def test_server_admin_token_comes_as_a_credential(server: Unit) -> None:
    from sync_server.config import CREDENTIAL_NAME

    credential = one(server, "Service", "LoadCredential")
    assert credential == f"{CREDENTIAL_NAME}:/etc/hadir/admin_token"
    assert all("TOKEN" not in name for name in environment(server))


def test_server_hardening(server: Unit) -> None:
    for key in [*HARDENING_BOTH, "PrivateDevices", "ProtectClock", "ProtectKernelLogs"]:
        assert is_yes(one(server, "Service", key)), key
    assert one(server, "Service", "ProtectSystem") == "strict"
    assert one(server, "Service", "CapabilityBoundingSet") == ""
    assert "AF_NETLINK" not in words(server, "Service", "RestrictAddressFamilies")


# -- the parser itself --------------------------------------------------------------


def test_parser_keeps_repeated_keys_and_continuations() -> None:
    unit = parse_unit(
        "# c\n[Service]\nEnvironment=A=1\n; c\nEnvironment=B=2 'C=3 4'\n"
        "ExecStart=/bin/x \\\n  --flag\n"
    )
    assert environment(unit) == {"A": "1", "B": "2", "C": "3 4"}
    assert one(unit, "Service", "ExecStart") == "/bin/x --flag"


# -- systemd-analyze ----------------------------------------------------------------


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        message = "systemd-analyze not installed (Debian: apt-get install systemd)"
        if _in_ci():
            pytest.fail(message + "; CI requires it")
        pytest.skip(message)
    return path


def installable_copy(unit: Path, directory: Path) -> Path:
    """The unit with ExecStart pointing at a binary that exists here.

    ``verify`` refuses a unit whose ExecStart is not executable on this machine,
    and /opt/hadir/venv exists only on a terminal. Nothing else needs changing:
    verify does not look up User=, Group= or SupplementaryGroups=.
    """
    text = unit.read_text(encoding="utf-8")
    text, count = re.subn(
        r"^ExecStart=/opt/hadir/venv/bin/hadir ",
        f"ExecStart={sys.executable} ",
        text,
        flags=re.MULTILINE,
    )
    assert count == 1
    copy = directory / unit.name
    copy.write_text(text, encoding="utf-8")
    return copy


def run_verify(analyze: str, *units: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [analyze, "verify", "--man=no", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": ""},
        check=False,
    )


def problems(result: subprocess.CompletedProcess[str], *units: Path) -> list[str]:
    # verify exits 0 for unknown keys and unparsable values, printing only a
    # warning: any line naming one of our units is a problem.
    names = [unit.name for unit in units]
    output = (result.stdout + result.stderr).splitlines()
    return [line for line in output if any(name in line for name in names)]


def test_systemd_analyze_verify_accepts_both_units(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    units = [installable_copy(EDGE, tmp_path), installable_copy(SERVER, tmp_path)]
    result = run_verify(analyze, *units)
    assert result.returncode == 0, result.stderr
    assert problems(result, *units) == []


def test_systemd_analyze_verify_catches_a_misspelt_key(tmp_path: Path) -> None:
    """The check above is only worth something if verify reports mistakes like this."""
    analyze = systemd_analyze()
    unit = installable_copy(EDGE, tmp_path)
    text = unit.read_text(encoding="utf-8")
    unit.write_text(text.replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"), encoding="utf-8")
    found = problems(run_verify(analyze, unit), unit)
    assert any("Unknown key" in line and "NoNewPrivilege" in line for line in found), found


@pytest.mark.parametrize(("unit", "max_exposure"), [(EDGE, 2.5), (SERVER, 2.0)])
def test_systemd_analyze_security_exposure(tmp_path: Path, unit: Path, max_exposure: float) -> None:
    """Hardening regressions show up as a higher exposure score (0 best, 10 worst)."""
    analyze = systemd_analyze()
    copy = installable_copy(unit, tmp_path)
    result = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(copy)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_COLORS": "0"},
        check=False,
    )
    if "--offline" in result.stderr and "unrecognized option" in result.stderr:
        pytest.skip("systemd-analyze security --offline needs systemd 250 or newer")
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= max_exposure, result.stdout
