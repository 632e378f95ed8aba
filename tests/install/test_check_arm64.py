"""scripts/check-arm64.sh: options, the cache key, and dry runs that change nothing.

The real check (debootstrap, qemu, the install and the answers in the emulated arm64
system) takes minutes and root: .ci/run runs it after the suite. Here the script runs as a
subprocess with ``--dry-run``, every command that could change the system shadowed on PATH
by a sentinel that logs its call (the log must stay empty), as in test_install_scripts.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.install.test_install_scripts import SENTINEL, _lint, commands

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "scripts" / "check-arm64.sh"
EDGE = ROOT / "scripts" / "install-edge.sh"

MUTATING = (
    "apt-get", "apt", "debootstrap", "mount", "umount", "chroot", "tar", "zstd", "install",
    "mkdir", "rm", "mv", "cp", "ln", "update-binfmts", "dpkg-deb", "useradd", "systemctl",
)  # fmt: skip
FACE_FILES = (
    "people/barack_obama/obama.jpg",
    "people/joe_biden/biden.jpg",
    "people/lin_manuel_miranda/lmm1.png",
    "scenes/two_people.jpg",
    "scenes/kit_with_rose.jpg",
    "video/short_hamilton_clip.mp4",
)


class Box:
    """A PATH of sentinels, a HOME, and a stand-in faces folder (files need only exist)."""

    def __init__(self, tmp: Path) -> None:
        if shutil.which("dpkg") is None:
            if os.environ.get("CI") == "true":
                pytest.fail("dpkg is missing: CI runs on Debian")
            pytest.skip("not a Debian-based system (no dpkg)")
        self.bin = tmp / "bin"
        self.home = tmp / "home"
        self.tmp = tmp / "tmp"
        self.faces = tmp / "faces"
        self.log = tmp / "calls.log"
        for d in (self.bin, self.home, self.tmp):
            d.mkdir()
        for name in MUTATING:
            (self.bin / name).write_text(SENTINEL.format(log=self.log))
            (self.bin / name).chmod(0o755)
        for rel in FACE_FILES:
            (self.faces / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.faces / rel).write_bytes(b"x")

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("HADIR_") and k != "XDG_CACHE_HOME"
        }
        env.update(PATH=f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}")
        env.update(HOME=str(self.home), TMPDIR=str(self.tmp), HADIR_FACES_DIR=str(self.faces))
        env.update(extra)
        return env

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(CHECK), *args],
            capture_output=True,
            text=True,
            env=self.env(**env),
            timeout=60,
            check=False,
        )

    def dry_run(self, *args: str, **env: str) -> str:
        result = self.run("--dry-run", *args, **env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert not self.log.exists(), f"a dry run executed: {self.log.read_text()}"
        return result.stdout


@pytest.fixture
def box(tmp_path: Path) -> Box:
    return Box(tmp_path)


def tarball(output: str) -> Path:
    found = re.search(r"^check-arm64: cache: (\S+\.tar\.zst) \(", output, re.M)
    assert found, output
    return Path(found.group(1))


def test_help_names_every_option_and_exit_status(box: Box) -> None:
    result = box.run("--help")
    assert result.returncode == 0, result.stderr
    for option in ("--cache-dir", "--faces", "--mirror", "--keep", "--dry-run", "--help"):
        assert option in result.stdout
    assert "HADIR_ARM64_CHECK" in result.stdout
    assert not box.log.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--frobnicate"], "unknown option: --frobnicate"),
        (["--cache-dir"], "--cache-dir needs a value"),
        (["--cache-dir="], "--cache-dir must not be empty"),
        (["--mirror", "ftp://deb.debian.org/debian"], "--mirror must be an http:// or https://"),
    ],
)
def test_usage_errors_exit_2_naming_the_problem(box: Box, args: list[str], message: str) -> None:
    result = box.run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert not box.log.exists()


def test_dry_run_plans_every_step_and_changes_nothing(box: Box) -> None:
    cache = box.home / "cache"
    out = box.dry_run("--cache-dir", str(cache))
    cmds = commands(out)
    assert tarball(out).parent == cache
    assert any(c.startswith("debootstrap ") for c in cmds), out
    # install-edge.sh runs inside, as on a Pi; then the answers are checked there.
    assert any("/src/scripts/install-edge.sh --platform pi" in c for c in cmds), out
    check = [c for c in cmds if c.startswith("chroot ") and "arm64_check.py" in c]
    assert len(check) == 1, out
    assert "--faces /faces" in check[0]
    # pip's cache is the cache dir's, bind-mounted where root's pip looks.
    assert any(
        c.startswith("mount --bind ") and c.endswith("/root/.cache/pip") and str(cache) in c
        for c in cmds
    ), out
    assert not cache.exists()
    assert list(box.tmp.iterdir()) == []


def test_cache_dir_defaults_to_xdg_cache_home_then_home(box: Box) -> None:
    xdg = box.home / "xdg"
    assert tarball(box.dry_run(XDG_CACHE_HOME=str(xdg))).parent == xdg / "hadir" / "arm64"
    assert tarball(box.dry_run()).parent == box.home / ".cache" / "hadir" / "arm64"


def test_the_rootfs_key_follows_what_shapes_it(box: Box) -> None:
    first = tarball(box.dry_run()).name
    assert tarball(box.dry_run()).name == first
    other = tarball(box.dry_run("--mirror", "http://mirror.example/debian")).name
    assert other != first


def test_a_cached_rootfs_is_unpacked_instead_of_bootstrapped(box: Box) -> None:
    cache = box.home / "cache"
    cache.mkdir()
    cached = tarball(box.dry_run("--cache-dir", str(cache)))
    cached.write_bytes(b"")
    out = box.dry_run("--cache-dir", str(cache))
    cmds = commands(out)
    assert f"cache: {cached} (present)" in out
    assert not any(c.startswith("debootstrap") for c in cmds), out
    assert any(c.startswith("tar ") and "-xpf" in c and str(cached) in c for c in cmds), out


def test_os_packages_are_the_ones_install_edge_asks_for_on_a_pi(box: Box, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    edge = subprocess.run(
        ["bash", str(EDGE), "--dry-run", "--platform", "pi", "--root", str(root)],
        capture_output=True,
        text=True,
        env=box.env(),
        timeout=60,
        check=False,
    )
    assert edge.returncode == 0, edge.stderr
    apt = next(c for c in commands(edge.stdout) if "apt-get install" in c).split()
    wanted = {p for p in apt if not p.startswith("-") and "=" not in p}
    wanted -= {"env", "apt-get", "install"}
    out = box.dry_run()
    debian, standins = (
        set(found.group(1).split())
        for found in (
            re.search(r"^check-arm64: OS packages .*: (.*)$", out, re.M),
            re.search(r"^check-arm64: stand-ins .*: (.*)$", out, re.M),
        )
        if found is not None
    )
    assert debian | standins == wanted | {"ca-certificates"}
    # Raspberry Pi OS's own packages, which Debian lacks, are the stand-ins.
    assert standins == {"python3-picamera2", "python3-lgpio", "rpicam-apps-lite"}


def test_missing_face_data_fails_naming_the_files(box: Box) -> None:
    (box.faces / "scenes/two_people.jpg").unlink()
    result = box.run("--dry-run")
    assert result.returncode == 1
    assert "scenes/two_people.jpg" in result.stderr
    assert "HADIR_FACES_DIR" in result.stderr
    assert not box.log.exists()


def test_a_machine_that_cannot_emulate_exits_3_loudly_before_any_change(box: Box) -> None:
    # Not root: the first thing a real run cannot do without. id is read-only; faking it
    # reaches this path on a machine where the tests run as root.
    (box.bin / "id").write_text("#!/bin/sh\necho 1000\n")
    (box.bin / "id").chmod(0o755)
    result = box.run()
    assert result.returncode == 3, result.stdout + result.stderr
    assert "CANNOT RUN: this machine cannot emulate arm64: it needs root" in result.stderr
    assert "nothing about the project was checked" in result.stderr
    assert not box.log.exists()


def test_check_script_passes_shellcheck_at_every_severity() -> None:
    _lint(str(CHECK))


def test_a_complete_wheelhouse_installs_without_the_index(box: Box) -> None:
    cache = box.home / "cache"
    out = box.dry_run("--cache-dir", str(cache))
    found = re.search(r"^check-arm64: wheelhouse: (\S+) \(not complete", out, re.M)
    assert found, out
    wheels = Path(found.group(1))
    assert wheels.parent == cache
    cmds = commands(out)
    assert any(
        c.startswith("mount --bind ") and c.endswith("/var/cache/hadir-wheels") and str(wheels) in c
        for c in cmds
    ), out
    # Not complete: installed from the index, then the venv's wheels are fetched into it.
    install = [c for c in cmds if "/src/scripts/install-edge.sh --platform pi" in c]
    assert len(install) == 1, out
    assert "PIP_NO_INDEX" not in install[0]
    wheel = [c for c in cmds if "pip wheel" in c and "-w /var/cache/hadir-wheels" in c]
    # The venv's own one by one; an sdist (face_recognition_models) built in isolation, since
    # bookworm's pip would need the wheel package in the venv for "setup.py bdist_wheel".
    assert any("--use-pep517 --no-deps" in c for c in wheel), out
    assert f"touch {wheels}/complete" in cmds, out

    wheels.mkdir(parents=True)
    (wheels / "complete").write_text("")
    out = box.dry_run("--cache-dir", str(cache))
    assert f"wheelhouse: {wheels} (complete" in out
    cmds = commands(out)
    install = [c for c in cmds if "/src/scripts/install-edge.sh --platform pi" in c]
    assert len(install) == 1, out
    assert "PIP_NO_INDEX=1 PIP_FIND_LINKS=/var/cache/hadir-wheels" in install[0]
    assert not any("pip wheel" in c for c in cmds), out

    # Another requirement is another wheelhouse: nothing of the old one is trusted.
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"httpx>=0.27,<1"' in pyproject
    copy = box.home / "src"
    for folder in ("scripts", "systemd"):  # what its dry run and install-edge.sh's read
        shutil.copytree(ROOT / folder, copy / folder)
    (copy / "pyproject.toml").write_text(pyproject.replace('"httpx>=0.27,<1"', '"httpx>=0.28,<1"'))
    result = subprocess.run(
        ["bash", str(copy / "scripts" / "check-arm64.sh"), "--dry-run", "--cache-dir", str(cache)],
        capture_output=True,
        text=True,
        env=box.env(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not box.log.exists()
    other = re.search(r"^check-arm64: wheelhouse: (\S+) \(not complete", result.stdout, re.M)
    assert other, result.stdout
    assert Path(other.group(1)) != wheels
