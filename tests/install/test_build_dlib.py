"""scripts/build-dlib.sh and install-edge.sh --fast-dlib: options, plans, and dry runs.

A real build takes many minutes and CI keeps dlib-bin, so the build itself is not run
here (docs/recognition.md, "A fast dlib", has the measured build). The script runs for
real as a subprocess: with ``--dry-run`` (the plan, for a given CPU through ``--machine``
and ``--cpuinfo``), and for real where it stops before building (bad options, no venv,
the build already installed). Its venvs are real (``python -m venv``) and its dlib is
named by a real dist-info folder. dpkg-query is stood in for, so the plan does not depend
on the build packages this machine happens to have; every command that could change the
system is shadowed by a sentinel that logs its call, and the log must stay empty.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.install.test_install_scripts import (
    EDGE,
    MUTATING,
    PLATFORMS,
    SENTINEL,
    Sandbox,
    commands,
    dry_run,
    one,
    snapshot,
)

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "scripts" / "build-dlib.sh"

X86 = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz
flags\t\t: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx avx2 f16c
"""
X86_OTHER_MODEL = X86.replace("E5-2680 v4 @ 2.40GHz", "E3-1230 v5 @ 3.40GHz")
X86_SSE4 = """processor\t: 0
model name\t: Intel(R) Atom(TM) CPU C2750 @ 2.40GHz
flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2
"""
PI4 = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3
"""
PI5 = PI4.replace("0xd08", "0xd0b").replace("cpuid", "cpuid asimdrdm lrcpc dcpop asimddp")

INSTALLED = "install ok installed"
FAKE_DPKG_QUERY = """#!/bin/sh
# Stands in for dpkg-query -W -f='${{Status}}' PACKAGE: every package is {state}.
{body}
"""


def make_venv(where: Path, dist: str | None = "dlib-bin", version: str = "20.0.1.post1") -> Path:
    """A real venv (no pip: nothing here installs) whose dlib is the dist-info ``dist``."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    if dist is not None:
        (site,) = where.glob("lib/python3*/site-packages")
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    return where


def set_packages(box: Sandbox, installed: bool) -> None:
    body = f"printf '%s' '{INSTALLED}'" if installed else "exit 1"
    state = "installed" if installed else "missing"
    path = box.bin / "dpkg-query"
    path.write_text(FAKE_DPKG_QUERY.format(state=state, body=body))
    path.chmod(0o755)


def build(box: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(BUILD), *args],
        capture_output=True,
        text=True,
        env=box.env(),
        timeout=60,
        check=False,
    )


def plan(
    box: Sandbox, venv: Path, cpuinfo: str, machine: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """A dry run for the CPU ``cpuinfo`` describes; it must succeed and change nothing."""
    info = box.root / "cpuinfo"
    info.write_text(cpuinfo)
    cache = box.root / "cache"
    before_venv, before_root = snapshot(venv), snapshot(box.root)
    result = build(
        box, "--dry-run", "--venv", str(venv), "--cache", str(cache),
        "--machine", machine, "--cpuinfo", str(info), *args,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert not box.log.exists(), f"a dry run executed: {box.log.read_text()}"
    assert snapshot(venv) == before_venv, "a dry run changed the venv"
    assert snapshot(box.root) == before_root, "a dry run changed the cache"
    return result


def wheel_of(output: str) -> str:
    (line,) = [ln for ln in output.splitlines() if ln.startswith("wheel ")]
    return Path(line.split(" ", 1)[1]).name


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    """As in test_install_scripts.py: sentinels for every command that changes a system."""
    if shutil.which("dpkg-query") is None:
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


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    return make_venv(tmp_path / "venv")


# -------------------------------------------------------------------------------- options


def test_help_names_every_option(sandbox: Sandbox) -> None:
    result = build(sandbox, "--help")
    assert result.returncode == 0, result.stderr
    for option in ("--venv", "--version", "--jobs", "--cpu", "--cache", "--rebuild", "--dry-run"):
        assert option in result.stdout
    assert not sandbox.log.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--frobnicate"], "unknown option: --frobnicate"),
        (["--jobs"], "--jobs needs a value"),
        (["--jobs", "0"], "--jobs must be a whole number from 1 to 999, not '0'"),
        (["--jobs", "two"], "--jobs must be a whole number from 1 to 999, not 'two'"),
        (["--cpu", "fast"], "--cpu must be native or generic"),
        (["--version", "20.x"], "--version must be a release such as 20.0.1, not '20.x'"),
        (["--venv="], "--venv needs a path"),
        (["--machine", "aarch64"], "--machine and --cpuinfo are for tests and need --dry-run"),
    ],
)
def test_usage_errors_exit_2_and_name_the_problem(
    sandbox: Sandbox, args: list[str], message: str
) -> None:
    result = build(sandbox, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "(see --help)" in result.stderr
    assert not sandbox.log.exists()


def test_a_missing_venv_stops_a_real_run_before_anything(sandbox: Sandbox, tmp_path: Path) -> None:
    result = build(sandbox, "--venv", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert f"no virtualenv at {tmp_path / 'nowhere'}" in result.stderr
    assert not sandbox.log.exists()


def test_without_dlib_in_the_venv_the_version_must_be_given(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    bare = make_venv(tmp_path / "bare", dist=None)
    set_packages(sandbox, installed=True)
    info = tmp_path / "cpuinfo"
    info.write_text(X86)
    args = ["--dry-run", "--venv", str(bare), "--machine", "x86_64", "--cpuinfo", str(info)]
    result = build(sandbox, *args)
    assert result.returncode == 1
    assert "no dlib-bin or dlib in" in result.stderr
    assert "pass --version" in result.stderr
    result = build(sandbox, *args, "--version", "19.24.6")
    assert result.returncode == 0, result.stderr
    assert "dlib==19.24.6" in result.stdout
    assert "dlib_bin-19.24.6+hadir.openblas.avx2.native." in wheel_of(result.stdout)


def test_an_unknown_architecture_is_refused(sandbox: Sandbox, venv: Path) -> None:
    info = sandbox.root / "cpuinfo"
    info.write_text("processor\t: 0\n")
    result = build(
        sandbox, "--dry-run", "--venv", str(venv), "--machine", "riscv64", "--cpuinfo", str(info)
    )
    assert result.returncode == 1
    assert "architecture riscv64" in result.stderr


# -------------------------------------------------------------------------------- plans


def test_x86_plan_builds_with_openblas_and_this_cpus_simd(sandbox: Sandbox, venv: Path) -> None:
    set_packages(sandbox, installed=True)
    out = plan(sandbox, venv, X86, "x86_64", "--jobs", "3").stdout
    cmds = commands(out)
    py = str(venv / "bin" / "python")

    assert "dlib 20.0.1 for x86_64 (native): OpenBLAS, SIMD avx2" in out
    assert not [c for c in cmds if "apt-get" in c], "every build package is there"
    wheel = one(cmds, r"pip wheel")
    # The source package of dlib-bin 20.0.1.post1 is dlib 20.0.1; only dlib from source.
    assert wheel.endswith("dlib==20.0.1")
    assert "--no-binary dlib" in wheel
    assert ":all:" not in wheel
    assert "--no-deps" in wheel
    settings = (
        "DLIB_USE_BLAS=ON", "DLIB_USE_LAPACK=ON", "DLIB_NO_GUI_SUPPORT=ON", "DLIB_USE_CUDA=OFF",
        "CMAKE_BUILD_PARALLEL_LEVEL=3", "CXXFLAGS=-march=native",
    )  # fmt: skip
    for setting in settings:
        assert setting in wheel.split(), setting
    assert f"{py} -m pip" in wheel

    name = wheel_of(out)
    match = re.fullmatch(
        r"dlib_bin-20\.0\.1\.post1\+hadir\.openblas\.avx2\.native\.([0-9a-f]{8})"
        r"-(cp3\d+)-(cp3\d+)-linux_x86_64\.whl",
        name,
    )
    assert match, name
    assert match.group(2) == match.group(3) == f"cp3{sys.version_info.minor}"
    cached = sandbox.root / "cache" / f"20.0.1-x86_64-openblas.avx2.native.{match.group(1)}" / name
    install = one(cmds, r"pip .*install")
    assert install.endswith(f"install --no-deps --no-index --force-reinstall {cached}")
    assert not [c for c in cmds if "uninstall" in c], "pip replaces dlib-bin by itself"
    # Build, check, install: in that order.
    assert cmds.index(wheel) < cmds.index(install)


def test_aarch64_plan_uses_neon_and_mcpu_native(sandbox: Sandbox, venv: Path) -> None:
    set_packages(sandbox, installed=True)
    out = plan(sandbox, venv, PI4, "aarch64").stdout
    wheel = one(commands(out), r"pip wheel")
    assert "CXXFLAGS=-mcpu=native" in wheel.split()
    assert "-march=native" not in wheel
    assert "SIMD neon" in out
    assert re.fullmatch(
        r"dlib_bin-20\.0\.1\.post1\+hadir\.openblas\.neon\.native\.[0-9a-f]{8}-cp3\d+-cp3\d+"
        r"-linux_aarch64\.whl",
        wheel_of(out),
    )


def test_each_cpu_model_gets_its_own_native_wheel(sandbox: Sandbox, venv: Path) -> None:
    set_packages(sandbox, installed=True)
    names = {
        wheel_of(plan(sandbox, venv, info, machine).stdout)
        for info, machine in ((X86, "x86_64"), (X86_OTHER_MODEL, "x86_64"),
                              (PI4, "aarch64"), (PI5, "aarch64"))
    }  # fmt: skip
    assert len(names) == 4, names


def test_generic_cpu_leaves_simd_to_dlib(sandbox: Sandbox, venv: Path) -> None:
    set_packages(sandbox, installed=True)
    out = plan(sandbox, venv, X86, "x86_64", "--cpu", "generic").stdout
    wheel = one(commands(out), r"pip wheel")
    assert "CXXFLAGS" not in wheel
    assert "native" not in wheel
    assert re.match(r"dlib_bin-20\.0\.1\.post1\+hadir\.openblas\.avx2-cp", wheel_of(out))
    # And the same wheel name on any CPU of that SIMD level: it is portable across them.
    assert wheel_of(plan(sandbox, venv, X86_OTHER_MODEL, "x86_64", "--cpu", "generic").stdout) == (
        wheel_of(out)
    )
    sse4 = plan(sandbox, venv, X86_SSE4, "x86_64", "--cpu", "generic").stdout
    assert "openblas.sse4-" in wheel_of(sse4)


def test_missing_build_packages_are_installed_with_apt(sandbox: Sandbox, venv: Path) -> None:
    set_packages(sandbox, installed=False)
    out = plan(sandbox, venv, X86, "x86_64").stdout
    cmds = commands(out)
    assert cmds[0] == "apt-get update"
    install = one(cmds, r"apt-get install")
    apt = install.split()
    for package in ("g++", "make", "pkg-config", "libopenblas-dev", "liblapack-dev"):
        assert package in apt, package
    # Debian's Python has its headers in python3.X-dev; another (pyenv, a build) brings them.
    dev = f"python{sys.version_info.major}.{sys.version_info.minor}-dev"
    if sys.base_prefix == "/usr":
        assert dev in apt
    else:
        assert dev not in apt
        assert f"= Python headers {sysconfig.get_path('include')}" in out
    assert cmds.index(install) < cmds.index(one(cmds, r"pip wheel"))


def test_a_cached_wheel_is_installed_without_building(sandbox: Sandbox, venv: Path) -> None:
    set_packages(sandbox, installed=False)
    first = plan(sandbox, venv, X86, "x86_64").stdout
    wheel_line = next(ln for ln in first.splitlines() if ln.startswith("wheel "))
    cached = Path(wheel_line.split(" ", 1)[1])
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"a wheel")
    out = plan(sandbox, venv, X86, "x86_64").stdout
    cmds = commands(out)
    assert f"= {cached}" in out
    assert not [c for c in cmds if "apt-get" in c or "pip wheel" in c], cmds
    assert one(cmds, r"pip .*install").endswith(str(cached))
    # --rebuild builds it again.
    rebuilt = commands(plan(sandbox, venv, X86, "x86_64", "--rebuild").stdout)
    one(rebuilt, r"pip wheel")


def test_a_source_built_dlib_is_uninstalled_first(sandbox: Sandbox, tmp_path: Path) -> None:
    set_packages(sandbox, installed=True)
    venv = make_venv(tmp_path / "with-dlib", dist="dlib", version="19.24.6")
    cmds = commands(plan(sandbox, venv, X86, "x86_64").stdout)
    assert one(cmds, r"pip wheel").endswith("dlib==19.24.6")
    uninstall = one(cmds, r"uninstall")
    assert uninstall.endswith("uninstall --yes dlib")
    assert cmds.index(uninstall) < cmds.index(one(cmds, r"pip .*install --no-deps"))


def test_the_installed_build_is_left_alone_for_real(sandbox: Sandbox, tmp_path: Path) -> None:
    """A real run (this machine's CPU) when the venv already has this very build: nothing."""
    set_packages(sandbox, installed=True)
    probe = make_venv(tmp_path / "probe")
    result = build(sandbox, "--dry-run", "--venv", str(probe), "--cache", str(tmp_path / "c"))
    assert result.returncode == 0, result.stderr
    version = wheel_of(result.stdout).split("-")[1]
    assert "+hadir.openblas." in version
    venv = make_venv(tmp_path / "built", version=version)
    before = snapshot(venv)
    result = build(sandbox, "--venv", str(venv), "--cache", str(tmp_path / "c"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "this build is installed already" in result.stdout
    assert not commands(result.stdout)
    assert snapshot(venv) == before
    assert not (tmp_path / "c").exists()
    assert not sandbox.log.exists()


# -------------------------------------------------------------------------------- installer


@pytest.mark.parametrize("platform", PLATFORMS)
def test_install_edge_fast_dlib_builds_after_installing_hadir(
    sandbox: Sandbox, platform: str
) -> None:
    out = dry_run(sandbox, EDGE, "--platform", platform, "--fast-dlib").stdout
    cmds = commands(out)
    r = str(sandbox.root)
    apt = one(cmds, r"apt-get install").split()
    for package in ("g++", "make", "pkg-config", "libopenblas-dev", "liblapack-dev", "python3-dev"):
        assert package in apt, package
    fast = one(cmds, r"build-dlib\.sh")
    assert fast == (
        f"{ROOT}/scripts/build-dlib.sh --venv {r}/opt/hadir/venv --cache {r}/var/cache/hadir/dlib"
    )
    hadir = [i for i, c in enumerate(cmds) if "/bin/pip install" in c]
    compile_all = cmds.index(one(cmds, r"compileall"))
    assert hadir
    assert max(hadir) < cmds.index(fast) < compile_all


def test_install_edge_without_fast_dlib_keeps_dlib_bin(sandbox: Sandbox) -> None:
    cmds = commands(dry_run(sandbox, EDGE, "--platform", "pi").stdout)
    assert not [c for c in cmds if "build-dlib" in c]
    assert "libopenblas-dev" not in one(cmds, r"apt-get install")


def test_install_edge_fast_dlib_asks_for_the_headers_of_its_python(sandbox: Sandbox) -> None:
    out = dry_run(
        sandbox, EDGE, "--platform", "generic", "--fast-dlib", "--python", "python3.11"
    ).stdout
    assert "python3.11-dev" in one(commands(out), r"apt-get install").split()


def test_the_script_is_executable() -> None:
    assert os.access(BUILD, os.X_OK)
