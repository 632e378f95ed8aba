"""scripts/install-edge.sh and scripts/install-server.sh: dry runs, idempotence, templates.

The scripts run for real as subprocesses, always with ``--dry-run`` and ``--root DIR``
(existing files are looked up below DIR; the system's users, packages and units are not
consulted). Two guards prove that a dry run changes nothing: DIR must be byte-for-byte
the same afterwards, and every command that could change the system (apt-get, useradd,
install, systemctl, ...) is shadowed on PATH by a sentinel that logs its call; the log
must stay empty. The templates the scripts would write are loaded with the real config
models, and shellcheck lints every script (mandatory when ``CI=true``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge.capture.config import (
    JetsonCSICameraConfig,
    OpenCVCameraConfig,
    Picamera2CameraConfig,
)
from edge.config import EdgeConfig, load_config
from edge.feedback.config import GPIOFeedbackConfig, LogFeedbackConfig
from sync_server.config import ServerConfig

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
EDGE = SCRIPTS / "install-edge.sh"
SERVER = SCRIPTS / "install-server.sh"
PLATFORMS = ("pi", "jetson", "generic")

# Everything the scripts may use to change a system. In a dry run none of them may run.
MUTATING = (
    "apt-get", "apt", "dpkg", "useradd", "usermod", "groupadd", "install", "systemctl",
    "systemd-run", "runuser", "createuser", "createdb", "psql", "rm", "mkdir", "cp", "mv",
    "ln", "chown", "chmod", "timedatectl", "udevadm", "pip", "pip3",
)  # fmt: skip
# dpkg --print-architecture is a read-only probe, but only without --root: shadowing
# dpkg is safe here because every run below uses --root.

SENTINEL = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
echo "sentinel: $(basename "$0") must not run in a dry run" >&2
exit 97
"""


@dataclass
class Sandbox:
    root: Path
    bin: Path
    log: Path
    home: Path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HADIR_")}
        env["PATH"] = f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}"
        env["HOME"] = str(self.home)
        return env


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    if shutil.which("dpkg-query") is None:  # the scripts are for Debian and its derivatives
        if os.environ.get("CI") == "true":
            pytest.fail("dpkg-query is missing: CI runs on Debian")
        pytest.skip("not a Debian-based system (no dpkg-query)")
    box = Sandbox(tmp_path / "root", tmp_path / "bin", tmp_path / "calls.log", tmp_path / "home")
    for d in (box.root, box.bin, box.home):
        d.mkdir()
    for name in MUTATING:
        path = box.bin / name
        path.write_text(SENTINEL.format(log=box.log))
        path.chmod(0o755)
    return box


def snapshot(root: Path) -> dict[str, tuple[int, bytes | str]]:
    """Every entry below root: mode and content (or link target)."""
    out: dict[str, tuple[int, bytes | str]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if path.is_symlink():
            out[str(path.relative_to(root))] = (st.st_mode, os.readlink(path))
        elif path.is_file():
            out[str(path.relative_to(root))] = (st.st_mode, path.read_bytes())
        else:
            out[str(path.relative_to(root))] = (st.st_mode, "")
    return out


def run(
    script: Path, *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        timeout=60,
        check=False,
    )


def dry_run(
    box: Sandbox, script: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """A dry run below box.root that must succeed and change nothing."""
    before = snapshot(box.root)
    result = run(script, "--dry-run", "--root", str(box.root), *args, env=box.env(), stdin=stdin)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not box.log.exists(), f"a dry run executed: {box.log.read_text()}"
    assert snapshot(box.root) == before, "a dry run changed files below --root"
    return result


def commands(output: str) -> list[str]:
    """The steps a run would execute: lines starting with '+ '."""
    return [line[2:] for line in output.splitlines() if line.startswith("+ ")]


def one(cmds: list[str], pattern: str) -> str:
    found = [c for c in cmds if re.search(pattern, c)]
    assert len(found) == 1, f"{pattern!r} in {found or cmds}"
    return found[0]


def heredoc(output: str, dest_suffix: str) -> str:
    """The content a dry run shows for `install ... /dev/stdin DEST <<EOF`."""
    lines = output.splitlines()
    start = next(
        i for i, line in enumerate(lines) if line.startswith("+ install") and
        line.endswith(f"{dest_suffix}  <<EOF")
    )  # fmt: skip
    body: list[str] = []
    for line in lines[start + 1 :]:
        if line == "  EOF":
            return "".join(f"{b}\n" for b in body)
        assert line.startswith("  | ") or line == "  | ", line
        body.append(line[4:])
    raise AssertionError("unterminated heredoc")


# -------------------------------------------------------------------------------- shellcheck


def _shellcheck() -> str:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        if os.environ.get("CI") == "true":
            pytest.fail("shellcheck is missing in CI (apt-get install shellcheck)")
        pytest.skip("shellcheck not installed (apt-get install shellcheck)")
    return shellcheck


def _lint(*args: str) -> None:
    # From the repository root, as .ci/run runs it (demo.sh and test.sh source scripts/_lib.sh).
    result = subprocess.run(
        [_shellcheck(), "--external-sources", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_install_scripts_pass_shellcheck_at_every_severity() -> None:
    _lint(str(EDGE), str(SERVER))


def test_every_script_passes_shellcheck() -> None:
    scripts = sorted(str(p) for p in SCRIPTS.glob("*.sh"))
    assert str(EDGE) in scripts
    _lint("--severity=warning", *scripts)


# -------------------------------------------------------------------------------- edge


@pytest.mark.parametrize("platform", PLATFORMS)
def test_edge_dry_run_shows_every_step_and_changes_nothing(sandbox: Sandbox, platform: str) -> None:
    out = dry_run(sandbox, EDGE, "--platform", platform).stdout
    cmds = commands(out)
    r = str(sandbox.root)

    apt = one(cmds, r"apt-get install")
    assert "python3-venv" in apt
    assert ("python3-picamera2" in apt) == (platform == "pi")
    assert ("python3-lgpio" in apt) == (platform == "pi")
    assert "systemd-timesyncd" in apt
    if platform == "jetson":
        assert re.search(r"\b(nvidia-opencv|python3-opencv)\b", apt)
        assert "nvidia-l4t-gstreamer" in apt

    one(cmds, r"^groupadd --system gpio$")
    useradd = one(cmds, r"^useradd ")
    assert "--system" in useradd
    assert "--groups video,gpio" in useradd
    assert "--shell /usr/sbin/nologin" in useradd
    assert "--home-dir /var/lib/hadir" in useradd
    assert useradd.endswith(" hadir")
    one(cmds, rf"^install -d -m 0750 -o hadir -g hadir {r}/var/lib/hadir$")

    venv = one(cmds, r" -m venv ")
    assert venv.endswith(f"{r}/opt/hadir/venv")
    assert ("--system-site-packages" in venv) == (platform in ("pi", "jetson"))
    pip = [c for c in cmds if c.startswith(f"{r}/opt/hadir/venv/bin/pip install")]
    assert pip, cmds
    assert all(f"--constraint {r}/opt/hadir/constraints.txt" in c for c in pip)
    constraints = heredoc(out, "/opt/hadir/constraints.txt")
    assert ("numpy<2" in constraints.splitlines()) == (platform in ("pi", "jetson"))
    if platform == "jetson":
        # hadir without dependencies, then its dependencies minus pip's OpenCV.
        assert len(pip) == 2
        assert "--no-deps" in pip[0]
        assert pip[0].endswith(str(ROOT))
        assert "--requirement" in pip[1]
        assert "except opencv-python" in out
        assert "cv2 is the system one, with GStreamer" in out
    else:
        assert len(pip) == 1
        assert "--no-deps" not in pip[0]
        assert pip[0].endswith(f"--upgrade {ROOT}")
    one(cmds, r"-m compileall -q -j 0 .*/opt/hadir/venv$")

    one(cmds, rf"^install -m 0640 -o root -g hadir /dev/stdin {r}/etc/hadir/edge.toml")
    one(cmds, rf"^install -m 0600 -o root -g root /dev/stdin {r}/etc/hadir/terminal_token")
    one(cmds, rf"hadir config check --role edge {r}/etc/hadir/edge.toml$")
    one(cmds, rf"^install -m 0644 {ROOT}/systemd/hadir-edge.service {r}/etc/systemd/system/")
    argus = [c for c in cmds if c.endswith("hadir-edge.service.d/10-jetson-argus.conf  <<EOF")]
    assert len(argus) == (platform == "jetson")
    if argus:
        assert "PrivateTmp=no" in heredoc(out, "10-jetson-argus.conf").splitlines()
    one(cmds, r"^systemctl daemon-reload$")
    one(cmds, r"^systemctl enable hadir-edge.service$")
    one(cmds, r"^systemctl enable --now systemd-timesyncd.service$")
    assert not [c for c in cmds if "restart" in c or re.search(r"systemctl start", c)]

    config = heredoc(out, "/etc/hadir/edge.toml")
    camera = tomllib.loads(config)["capture"]["camera"]
    assert (
        camera["type"] == {"pi": "picamera2", "jetson": "jetson_csi", "generic": "opencv"}[platform]
    )


def test_edge_start_restarts_the_service(sandbox: Sandbox) -> None:
    cmds = commands(dry_run(sandbox, EDGE, "--platform", "generic", "--start").stdout)
    assert cmds[-1] == "systemctl restart hadir-edge.service"


def test_edge_token_is_installed_but_never_printed(sandbox: Sandbox, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("tok-SECRET-never-printed\n")
    for source, stdin in ((str(token), ""), ("-", "tok-SECRET-never-printed\n")):
        result = dry_run(sandbox, EDGE, "--platform", "pi", "--token-file", source, stdin=stdin)
        assert "SECRET" not in result.stdout + result.stderr
        line = one(commands(result.stdout), r"/etc/hadir/terminal_token")
        assert line.startswith("install -m 0600 -o root -g root /dev/stdin")
        assert ("stdin" if source == "-" else source) in line


def _fake_installed_edge(box: Sandbox, platform: str) -> None:
    """What a finished install leaves behind, built from the scripts' own dry-run output."""
    first = dry_run(box, EDGE, "--platform", platform).stdout
    root = box.root
    apt = one(commands(first), r"apt-get install")
    packages = apt.split("--no-install-recommends ", 1)[1].split()
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(
        "".join(
            f"Package: {p}\nStatus: install ok installed\nMaintainer: x <x@example.org>\n"
            f"Version: 1\nArchitecture: all\nDescription: {p}\n\n"
            for p in packages
        )
    )
    (root / "etc/hadir").mkdir(parents=True)
    (root / "etc/passwd").write_text(
        "root:x:0:0::/root:/bin/sh\nhadir:x:999:999::/var/lib/hadir:/usr/sbin/nologin\n"
    )
    (root / "etc/group").write_text("root:x:0:\nvideo:x:44:hadir\ngpio:x:997:hadir\nhadir:x:999:\n")
    (root / "var/lib/hadir").mkdir(parents=True)
    venv = root / "opt/hadir/venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin/python").symlink_to(sys.executable)
    site = "true" if platform in ("pi", "jetson") else "false"
    (venv / "pyvenv.cfg").write_text(f"home = /usr/bin\ninclude-system-site-packages = {site}\n")
    (root / "opt/hadir/constraints.txt").write_text(heredoc(first, "/opt/hadir/constraints.txt"))
    (root / "etc/hadir/edge.toml").write_text("# the admin's own config\n")
    (root / "etc/hadir/terminal_token").write_text("")
    units = root / "etc/systemd/system"
    (units / "multi-user.target.wants").mkdir(parents=True)
    (units / "sysinit.target.wants").mkdir(parents=True)
    shutil.copy(ROOT / "systemd/hadir-edge.service", units / "hadir-edge.service")
    if platform == "jetson":
        (units / "hadir-edge.service.d").mkdir()
        (units / "hadir-edge.service.d/10-jetson-argus.conf").write_text(
            heredoc(first, "10-jetson-argus.conf")
        )
    (units / "multi-user.target.wants/hadir-edge.service").symlink_to(
        "/etc/systemd/system/hadir-edge.service"
    )
    (units / "sysinit.target.wants/systemd-timesyncd.service").symlink_to(
        "/lib/systemd/system/systemd-timesyncd.service"
    )
    _fake_link(root)


def _fake_link(root: Path) -> None:
    (root / "usr/local/bin").mkdir(parents=True, exist_ok=True)
    (root / "usr/local/bin/hadir").symlink_to("/opt/hadir/venv/bin/hadir")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_edge_second_run_only_reinstalls_the_package(sandbox: Sandbox, platform: str) -> None:
    _fake_installed_edge(sandbox, platform)
    result = dry_run(sandbox, EDGE, "--platform", platform, "--server-url", "https://x.example")
    cmds = commands(result.stdout)
    # Always: the package (an upgrade when --source is newer), bytecode, and a check that
    # the installed version accepts the config, whoever wrote it.
    others = [
        c for c in cmds
        if "/opt/hadir/venv/bin/pip install" not in c
        and " -m compileall " not in c
        and "hadir config check" not in c
        and "/opt/hadir/requirements-jetson.txt" not in c
        and "cv2 is the system one" not in c
    ]  # fmt: skip
    assert others == [], others
    assert "edge.toml exists: left as it is" in result.stdout
    assert "--server-url/--device-id only shape a new edge.toml" in result.stderr


def test_edge_repairs_a_venv_without_system_site_packages(sandbox: Sandbox) -> None:
    _fake_installed_edge(sandbox, "generic")
    cmds = commands(dry_run(sandbox, EDGE, "--platform", "pi").stdout)
    one(cmds, r"-m venv --system-site-packages .*/opt/hadir/venv$")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"proc/device-tree/model": b"Raspberry Pi 5 Model B Rev 1.0\x00"}, "pi"),
        ({"etc/rpi-issue": b"Raspberry Pi reference 2024-11-19\n"}, "pi"),
        ({"etc/nv_tegra_release": b"# R36 (release), REVISION: 4.0\n"}, "jetson"),
        ({"proc/device-tree/model": b"NVIDIA Jetson Orin Nano Developer Kit\x00"}, "jetson"),
        ({}, "generic"),
    ],
)
def test_edge_detects_the_platform(
    sandbox: Sandbox, files: dict[str, bytes], expected: str
) -> None:
    for name, content in files.items():
        path = sandbox.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    out = dry_run(sandbox, EDGE).stdout
    assert f"platform {expected} (detected)" in out


# -------------------------------------------------------------------------------- templates


def _print_config(script: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = run(script, "--print-config", *args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("platform", PLATFORMS)
def test_edge_template_is_a_valid_config(tmp_path: Path, platform: str) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(_print_config(EDGE, "--platform", platform))
    config = load_config(EdgeConfig, path, environ={})
    camera, feedback = config.capture.camera, config.feedback
    assert str(config.data_dir) == "/var/lib/hadir"
    assert config.sync.server_url is None
    if platform == "pi":
        assert isinstance(camera, Picamera2CameraConfig)
        assert isinstance(feedback, GPIOFeedbackConfig)
        assert (feedback.green_pin, feedback.red_pin, feedback.buzzer_pin) == (17, 27, 22)
    elif platform == "jetson":
        assert isinstance(camera, JetsonCSICameraConfig)
        assert (camera.sensor_id, camera.width, camera.height) == (0, 1280, 720)
        assert isinstance(feedback, LogFeedbackConfig)
    else:
        assert isinstance(camera, OpenCVCameraConfig)
        assert camera.device == 0
        assert isinstance(feedback, LogFeedbackConfig)


def test_edge_template_takes_the_options(tmp_path: Path) -> None:
    text = _print_config(
        EDGE, "--platform", "pi", "--server-url", "https://hadir.example.com:8600/",
        "--device-id", "door-1", "--timezone", "Africa/Cairo",
    )  # fmt: skip
    path = tmp_path / "edge.toml"
    path.write_text(text)
    config = load_config(EdgeConfig, path, environ={})
    assert config.sync.server_url == "https://hadir.example.com:8600"
    assert config.device.id == "door-1"
    assert config.device.timezone == "Africa/Cairo"
    assert config.sync.token is None  # the token never goes into the file


def test_edge_template_takes_the_system_time_zone(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/localtime").symlink_to("/usr/share/zoneinfo/Europe/Berlin")
    text = _print_config(EDGE, "--platform", "generic", "--root", str(tmp_path))
    assert tomllib.loads(text)["device"]["timezone"] == "Europe/Berlin"


@pytest.mark.parametrize(
    ("args", "url"),
    [
        ((), "sqlite:////var/lib/hadir-server/hadir-server.db"),
        (("--with-postgres",), "postgresql+psycopg://hadir-server@/hadir?host=/var/run/postgresql"),
        (("--postgres", "postgresql+psycopg://hadir@db.example/hadir"),
         "postgresql+psycopg://hadir@db.example/hadir"),
    ],
)  # fmt: skip
def test_server_template_is_a_valid_config(tmp_path: Path, args: tuple[str, ...], url: str) -> None:
    path = tmp_path / "server.toml"
    path.write_text(
        _print_config(SERVER, *args, "--listen", "0.0.0.0:8700", "--timezone", "Africa/Cairo")
    )
    config = load_config(ServerConfig, path, environ={})
    assert config.database_url == url
    assert (config.listen.host, config.listen.port) == ("0.0.0.0", 8700)
    assert config.site_timezone == "Africa/Cairo"
    assert config.admin_token is None  # never in the world-readable file


def test_server_template_keeps_a_database_password_out(tmp_path: Path) -> None:
    text = _print_config(SERVER, "--postgres", "postgresql+psycopg://hadir:pw-SECRET@db/hadir")
    assert "SECRET" not in text
    path = tmp_path / "server.toml"
    path.write_text(text)
    default = ServerConfig.model_fields["database_url"].default
    assert load_config(ServerConfig, path, environ={}).database_url == default


# -------------------------------------------------------------------------------- server


def test_server_dry_run_shows_every_step_and_changes_nothing(sandbox: Sandbox) -> None:
    out = dry_run(sandbox, SERVER).stdout
    cmds = commands(out)
    r = str(sandbox.root)
    apt = one(cmds, r"apt-get install")
    assert "python3-venv" in apt
    assert "postgresql" not in apt
    venv = one(cmds, r" -m venv ")
    assert "--system-site-packages" not in venv
    pip = one(cmds, r"/opt/hadir/venv/bin/pip install")
    assert pip.endswith(f"--upgrade '{ROOT}[server]'")
    one(cmds, rf"^install -m 0644 -o root -g root /dev/stdin {r}/etc/hadir/server.toml")
    token = one(cmds, r"/etc/hadir/admin_token$")
    assert "secrets.token_urlsafe(32)" in token
    assert token.endswith(f"| install -m 0600 -o root -g root /dev/stdin {r}/etc/hadir/admin_token")
    one(cmds, rf"hadir config check --role server {r}/etc/hadir/server.toml$")
    one(cmds, r"^install -m 0644 .*/systemd/hadir-server.service .*/etc/systemd/system/")
    one(cmds, r"^systemctl enable hadir-server.service$")
    migrate = one(cmds, r"hadir server migrate")
    assert migrate.startswith("systemd-run ")
    assert "--property=DynamicUser=yes --property=User=hadir-server" in migrate
    assert migrate.endswith(
        "/opt/hadir/venv/bin/hadir server migrate --config /etc/hadir/server.toml"
    )
    assert not [c for c in cmds if "createuser" in c or "server.env" in c]


def test_server_with_postgres_creates_a_peer_role(sandbox: Sandbox) -> None:
    cmds = commands(dry_run(sandbox, SERVER, "--with-postgres").stdout)
    assert "postgresql" in one(cmds, r"apt-get install").split()
    one(cmds, r"^runuser -u postgres -- createuser .*hadir-server  # only if")
    one(cmds, r"^runuser -u postgres -- createdb --owner hadir-server hadir  # only if")
    assert cmds.index(one(cmds, "-- createdb")) < cmds.index(one(cmds, "hadir server migrate"))


def test_server_postgres_password_goes_to_a_root_only_file(sandbox: Sandbox) -> None:
    url = "postgresql+psycopg://hadir:pw-SECRET@db.example/hadir"
    result = dry_run(sandbox, SERVER, "--postgres", url)
    assert "SECRET" not in result.stdout + result.stderr
    cmds = commands(result.stdout)
    one(cmds, r"^install -m 0600 -o root -g root /dev/stdin .*/etc/hadir/server.env")
    one(cmds, r"hadir-server.service.d/10-database-env.conf  <<EOF$")
    assert "EnvironmentFile=/etc/hadir/server.env" in heredoc(result.stdout, "10-database-env.conf")
    assert "--property=EnvironmentFile=/etc/hadir/server.env" in one(cmds, "server migrate")


def test_server_source_extra_follows_the_requirement_name(sandbox: Sandbox) -> None:
    cmds = commands(dry_run(sandbox, SERVER, "--source", "hadir==1.2.0").stdout)
    assert one(cmds, r"/venv/bin/pip install").endswith("--upgrade 'hadir[server]==1.2.0'")


def test_server_second_run_keeps_config_and_token(sandbox: Sandbox) -> None:
    first = dry_run(sandbox, SERVER).stdout
    root = sandbox.root
    packages = one(commands(first), "apt-get install").split("--no-install-recommends ", 1)[1]
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(
        "".join(
            f"Package: {p}\nStatus: install ok installed\nMaintainer: x <x@example.org>\n"
            f"Version: 1\nArchitecture: all\nDescription: {p}\n\n"
            for p in packages.split()
        )
    )
    (root / "opt/hadir/venv/bin").mkdir(parents=True)
    (root / "opt/hadir/venv/bin/python").symlink_to(sys.executable)
    (root / "opt/hadir/venv/pyvenv.cfg").write_text("include-system-site-packages = false\n")
    (root / "etc/hadir").mkdir(parents=True)
    (root / "etc/hadir/server.toml").write_text("# the admin's\n")
    (root / "etc/hadir/admin_token").write_text("x" * 43 + "\n")
    units = root / "etc/systemd/system"
    (units / "multi-user.target.wants").mkdir(parents=True)
    shutil.copy(ROOT / "systemd/hadir-server.service", units)
    (units / "multi-user.target.wants/hadir-server.service").symlink_to(
        "/etc/systemd/system/hadir-server.service"
    )
    _fake_link(root)
    result = dry_run(sandbox, SERVER)
    cmds = commands(result.stdout)
    # Always: the package, bytecode, the config check and the migrations (no-ops when current).
    assert len(cmds) == 4, cmds
    assert [c for c in cmds if "pip install" in c]
    assert [c for c in cmds if "compileall" in c]
    assert [c for c in cmds if "config check" in c]
    assert [c for c in cmds if "server migrate" in c]
    assert "admin_token (kept" in result.stdout
    assert "server.toml exists: left as it is" in result.stdout


# -------------------------------------------------------------------------------- both


@pytest.mark.parametrize("script", [EDGE, SERVER], ids=["edge", "server"])
def test_help(script: Path) -> None:
    result = run(script, "--help")
    assert result.returncode == 0
    for option in ("--dry-run", "--source", "--start", "--print-config", "--root"):
        assert option in result.stdout


@pytest.mark.parametrize("script", [EDGE, SERVER], ids=["edge", "server"])
@pytest.mark.parametrize(
    "args",
    [("--bogus",), ("--root", "/tmp"), ("--source",)],
    ids=["unknown-option", "root-without-dry-run", "missing-value"],
)
def test_usage_errors_exit_2(sandbox: Sandbox, script: Path, args: tuple[str, ...]) -> None:
    result = run(script, *args, env=sandbox.env())
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--help" in result.stderr
    assert not sandbox.log.exists()


def _as_nobody() -> list[str]:
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv(1) to drop privileges")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.mark.parametrize("script", [EDGE, SERVER], ids=["edge", "server"])
def test_a_real_run_needs_root(sandbox: Sandbox, script: Path) -> None:
    sandbox.log.touch()
    sandbox.log.chmod(0o666)  # the sentinels run as nobody, if at all
    env = sandbox.env()
    env["HOME"] = "/nonexistent"
    result = subprocess.run(
        [*_as_nobody(), "bash", str(script), "--platform", "generic"]
        if script == EDGE
        else [*_as_nobody(), "bash", str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "must run as root" in result.stderr
    assert "--dry-run" in result.stderr
    assert sandbox.log.read_text() == ""


@pytest.mark.parametrize("script", [EDGE, SERVER], ids=["edge", "server"])
def test_a_dry_run_needs_no_root(sandbox: Sandbox, script: Path) -> None:
    env = sandbox.env()
    sandbox.root.chmod(0o755)
    result = subprocess.run(
        [*_as_nobody(), "bash", str(script), "--dry-run", "--root", str(sandbox.root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not sandbox.log.exists()


# -------------------------------------------------------------------------------- issue 11


def _dpkg_status(root: Path, *packages: str) -> None:
    (root / "var/lib/dpkg").mkdir(parents=True, exist_ok=True)
    (root / "var/lib/dpkg/status").write_text(
        "".join(
            f"Package: {p}\nStatus: install ok installed\nMaintainer: x <x@example.org>\n"
            f"Version: 1\nArchitecture: all\nDescription: {p}\n\n"
            for p in packages
        )
    )


def _interleaved(box: Sandbox, script: Path, *args: str) -> str:
    """A dry run's stdout and stderr in the order they were written."""
    result = subprocess.run(
        ["bash", str(script), "--dry-run", "--root", str(box.root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=box.env(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout
    assert not box.log.exists(), box.log.read_text()
    return result.stdout


def _platform_args(script: Path) -> tuple[str, ...]:
    return ("--platform", "generic") if script == EDGE else ()


@pytest.mark.parametrize("script", [EDGE, SERVER], ids=["edge", "server"])
def test_hadir_is_linked_onto_the_path(sandbox: Sandbox, script: Path) -> None:
    r = sandbox.root
    cmds = commands(dry_run(sandbox, script, *_platform_args(script)).stdout)
    link = one(cmds, r"^ln ")
    assert link == f"ln -s /opt/hadir/venv/bin/hadir {r}/usr/local/bin/hadir"
    # after the venv it points into
    assert cmds.index(link) > cmds.index(one(cmds, r"-m compileall"))

    _fake_link(r)
    result = dry_run(sandbox, script, *_platform_args(script))
    assert not [c for c in commands(result.stdout) if c.startswith("ln ")]
    assert f"= {r}/usr/local/bin/hadir -> /opt/hadir/venv/bin/hadir" in result.stdout

    # someone else's hadir there is left alone, with a word
    (r / "usr/local/bin/hadir").unlink()
    (r / "usr/local/bin/hadir").write_text("#!/bin/sh\n")
    result = dry_run(sandbox, script, *_platform_args(script))
    assert not [c for c in commands(result.stdout) if c.startswith("ln ")]
    assert "usr/local/bin/hadir exists and is not a link" in result.stderr


@pytest.mark.parametrize("script", [EDGE, SERVER], ids=["edge", "server"])
def test_a_missing_python_is_installed_not_a_stop(sandbox: Sandbox, script: Path) -> None:
    # python3.99 stands for the python3 a minimal Debian lacks: apt can install it by name.
    result = dry_run(sandbox, script, *_platform_args(script), "--python", "python3.99")
    assert "would stop here" not in result.stderr, result.stderr
    assert "python3.99 is not installed: the next step installs python3.99" in result.stdout
    packages = one(commands(result.stdout), "apt-get install").split()
    assert "python3.99" in packages
    assert "python3.99-venv" in packages

    # a path apt does not provide still stops a real run, with the reason
    result = dry_run(sandbox, script, *_platform_args(script), "--python", "/opt/py/bin/python3")
    assert "a real run would stop here: /opt/py/bin/python3 not found" in result.stderr


def _fake_cluster(root: Path, port: int = 5432) -> None:
    conf = root / "etc/postgresql/15/main/postgresql.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(f"data_directory = '/var/lib/postgresql/15/main'\nport = {port}\t# (restart)\n")


def test_with_postgres_starts_a_stopped_cluster(sandbox: Sandbox) -> None:
    _dpkg_status(sandbox.root, "python3-venv", "sqlite3", "postgresql")
    _fake_cluster(sandbox.root)
    cmds = commands(dry_run(sandbox, SERVER, "--with-postgres").stdout)
    start = one(cmds, r"^systemctl start postgresql@15-main.service$")
    assert cmds.index(start) < cmds.index(one(cmds, "createuser"))

    # running: its socket is there
    socket_file = sandbox.root / "var/run/postgresql/.s.PGSQL.5432"
    socket_file.parent.mkdir(parents=True)
    socket_file.write_text("")
    result = dry_run(sandbox, SERVER, "--with-postgres")
    assert not [c for c in commands(result.stdout) if "postgresql@" in c]
    assert "= PostgreSQL runs on /var/run/postgresql, port 5432" in result.stdout


def test_with_postgres_without_a_cluster_says_how_to_make_one(sandbox: Sandbox) -> None:
    _dpkg_status(sandbox.root, "python3-venv", "sqlite3", "postgresql")
    _fake_cluster(sandbox.root, port=5433)  # not the one the URL reaches
    result = dry_run(sandbox, SERVER, "--with-postgres")
    assert "a real run would stop here: no PostgreSQL cluster on port 5432" in result.stderr
    assert "pg_createcluster --start" in result.stderr


def test_dry_run_says_it_cannot_see_roles_and_databases(sandbox: Sandbox) -> None:
    cmds = commands(dry_run(sandbox, SERVER, "--with-postgres").stdout)
    for what, pattern in (("role hadir-server", "createuser"), ("database hadir", "-- createdb")):
        line = one(cmds, pattern)
        assert f"# only if {what} is missing; unknown here (--root" in line

    # A normal user on the real system (read-only probes; the sentinels guard the rest):
    # only root may ask the cluster, so the dry run says it cannot know.
    sandbox.log.touch()
    sandbox.log.chmod(0o666)
    env = sandbox.env()
    env["HOME"] = "/nonexistent"
    result = subprocess.run(
        [*_as_nobody(), "bash", str(SERVER), "--dry-run", "--with-postgres"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert sandbox.log.read_text() == ""
    for pattern in ("-- createuser", "-- createdb"):
        line = one(commands(result.stdout), pattern)
        assert "unknown here (not root: this dry run cannot ask PostgreSQL)" in line


def _fake_installed_server(box: Sandbox, toml: str, *args: str) -> None:
    first = dry_run(box, SERVER, *args).stdout
    root = box.root
    packages = one(commands(first), "apt-get install").split("--no-install-recommends ", 1)[1]
    _dpkg_status(root, *packages.split())
    (root / "opt/hadir/venv/bin").mkdir(parents=True)
    (root / "opt/hadir/venv/bin/python").symlink_to(sys.executable)
    (root / "opt/hadir/venv/pyvenv.cfg").write_text("include-system-site-packages = false\n")
    (root / "etc/hadir").mkdir(parents=True)
    (root / "etc/hadir/server.toml").write_text(toml)
    (root / "etc/hadir/admin_token").write_text("x" * 43 + "\n")
    _fake_link(root)


@pytest.mark.parametrize(
    "args",
    [("--with-postgres",), ("--postgres", "postgresql+psycopg://hadir@db.example/hadir")],
    ids=["with-postgres", "postgres-url"],
)
def test_rerun_with_the_same_database_url_does_not_warn(
    sandbox: Sandbox, args: tuple[str, ...]
) -> None:
    url = (
        "postgresql+psycopg://hadir-server@/hadir?host=/var/run/postgresql"
        if args == ("--with-postgres",)
        else args[1]
    )
    _fake_installed_server(sandbox, f'# the admin\'s\ndatabase_url = "{url}"  # same\n', *args)
    result = dry_run(sandbox, SERVER, *args)
    assert "is not changed" not in result.stderr, result.stderr
    assert f"= database_url in {sandbox.root}/etc/hadir/server.toml is {url}" in result.stdout

    (sandbox.root / "etc/hadir/server.toml").write_text('database_url = "sqlite:///x.db"\n')
    result = dry_run(sandbox, SERVER, *args)
    assert f"is not changed: set it to {url} yourself" in result.stderr


def _fake_version(root: Path, version: str) -> None:
    site = root / "opt/hadir/venv/lib/python3.11/site-packages"
    (site / f"hadir-{version}.dist-info").mkdir(parents=True)
    (site / f"hadir-{version}.dist-info/METADATA").write_text(f"Name: hadir\nVersion: {version}\n")


def _current_version() -> str:
    from edge import __version__

    return __version__


@pytest.mark.parametrize("script", [EDGE, SERVER], ids=["edge", "server"])
def test_a_downgrade_is_announced_before_anything_changes(sandbox: Sandbox, script: Path) -> None:
    current = _current_version()
    _fake_version(sandbox.root, "999.0.0")
    out = _interleaved(sandbox, script, *_platform_args(script))
    warning = f"--source is hadir {current}, older than the installed 999.0.0: a downgrade"
    assert warning in out
    first_step = next(i for i, line in enumerate(out.splitlines()) if line.startswith("+ "))
    assert any(warning in line for line in out.splitlines()[:first_step])
    assert "Downgrades" in out  # where the docs say how to go back

    # from PyPI or a wheel, by the version it names
    for source in ("hadir==1.2.0", str(_wheel(sandbox, "hadir-1.2.0-py3-none-any.whl"))):
        out = _interleaved(sandbox, script, *_platform_args(script), "--source", source)
        assert "--source is hadir 1.2.0, older than the installed 999.0.0" in out


def _wheel(box: Sandbox, name: str) -> Path:
    path = box.home / name
    path.write_bytes(b"PK")
    return path


@pytest.mark.parametrize("script", [EDGE, SERVER], ids=["edge", "server"])
def test_an_upgrade_or_a_rerun_is_not_a_downgrade(sandbox: Sandbox, script: Path) -> None:
    current = _current_version()
    _fake_version(sandbox.root, current)
    result = dry_run(sandbox, script, *_platform_args(script))
    assert "downgrade" not in result.stderr
    assert f"= installed: hadir {current}; --source: {current}" in result.stdout
    result = dry_run(sandbox, script, *_platform_args(script), "--source", "hadir==1000.1")
    assert "downgrade" not in result.stderr


def test_server_next_steps_work_on_a_minimal_debian(sandbox: Sandbox, tmp_path: Path) -> None:
    from sync_server.process import ServerProcess

    server = ServerProcess(tmp_path / "srv", f"sqlite:///{tmp_path}/srv.db", "t" * 32)
    out = dry_run(sandbox, SERVER, "--listen", f"0.0.0.0:{server.port}").stdout
    assert "curl" not in out  # not on a minimal Debian; python3 is, after the install
    check = next(line.strip() for line in out.splitlines() if "urlopen" in line)
    assert check.startswith("python3 -c ")
    with server:  # the printed command, as printed, against a real server
        result = subprocess.run(
            ["bash", "-c", check], capture_output=True, text=True, timeout=30, check=False
        )
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout.lower(), result.stdout


def test_edge_rerun_with_the_same_flags_does_not_warn(sandbox: Sandbox) -> None:
    _fake_installed_edge(sandbox, "generic")
    config = sandbox.root / "etc/hadir/edge.toml"
    config.write_text('[device]\nid = "door-1"\n\n[sync]\nserver_url = "https://x.example:8600"\n')
    args = ("--platform", "generic", "--device-id", "door-1")
    result = dry_run(sandbox, EDGE, *args, "--server-url", "https://x.example:8600/")
    assert "only shape a new edge.toml" not in result.stderr, result.stderr
    assert "edge.toml has this server_url and device id" in result.stdout

    result = dry_run(sandbox, EDGE, *args, "--server-url", "https://y.example:8600")
    assert "--server-url/--device-id only shape a new edge.toml" in result.stderr
