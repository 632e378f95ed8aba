""".ci/run: the arm64 check runs beside the suite, in its own log, and both results decide.

The real steps take half an hour and root, so .ci/run runs here in a copy of the checkout whose
scripts are stand-ins: apt-get logs its call, the venv is a link to this interpreter, and the
suite (scripts/test.sh) and the check (scripts/check-arm64.sh) each wait until the other has
started, so they pass only when they run at the same time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Each waits (up to a generous bound, never timed) for the other to have started.
WAIT = """\
for _ in $(seq 600); do [ -e "$MARKS/{other}" ] && break; sleep 0.05; done
[ -e "$MARKS/{other}" ] || {{ echo "{me}: {other} never started beside me"; exit 1; }}
"""
SUITE = (
    '#!/usr/bin/env bash\ntouch "$MARKS/suite"\n'
    + WAIT.format(me="suite", other="arm64")
    + 'echo "SUITE OUTPUT"\nexit "${FAKE_SUITE_EXIT:-0}"\n'
)
ARM64 = (
    '#!/usr/bin/env bash\ntouch "$MARKS/arm64"\n'
    + WAIT.format(me="arm64", other="suite")
    + 'echo "ARM64 OUTPUT"\nexit "${FAKE_ARM64_EXIT:-0}"\n'
)
PG = '#!/usr/bin/env bash\n[ "${1:-}" = stop ] || echo "postgresql://fake"\n'
LIB = """\
ensure_venv() {
    VENV=${HADIR_VENV:-.venv}
    mkdir -p "$VENV/bin"
    ln -sf "$FAKE_PYTHON" "$VENV/bin/python"
    printf '#!/bin/sh\necho "$*" >> "$MARKS/pip.log"\n' > "$VENV/bin/pip"
    chmod +x "$VENV/bin/pip"
    echo "venv PIP_NO_INDEX=${PIP_NO_INDEX:-}" >> "$MARKS/venv.log"
}
"""
WHEELHOUSE = """\
import sys
print({"key": "k", "missing": "numpy==1.26.4", "build": "setuptools>=77"}[sys.argv[1]])
"""


class Checkout:
    """A copy of .ci/run with stand-in scripts, and what they leave behind."""

    def __init__(self, tmp: Path) -> None:
        self.repo = tmp / "repo"
        self.marks = tmp / "marks"
        self.bin = tmp / "bin"
        self.cache = tmp / "cache"
        for folder in (self.repo / ".ci", self.repo / "scripts", self.marks, self.bin):
            folder.mkdir(parents=True)
        shutil.copy(ROOT / ".ci" / "run", self.repo / ".ci" / "run")
        scripts = {
            "test.sh": SUITE,
            "check-arm64.sh": ARM64,
            "pg_test_cluster.sh": PG,
            "_lib.sh": LIB,
            "wheelhouse.py": WHEELHOUSE,
        }
        for name, text in scripts.items():
            (self.repo / "scripts" / name).write_text(text)
            (self.repo / "scripts" / name).chmod(0o755)
        apt = self.bin / "apt-get"
        apt.write_text(f'#!/bin/sh\necho "$*" >> {self.marks}/apt.log\n')
        apt.chmod(0o755)

    def run(self, **env: str) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("HADIR_", "FAKE_"))}
        environ.update(
            PATH=f"{self.bin}:{os.environ['PATH']}",
            MARKS=str(self.marks),
            FAKE_PYTHON=sys.executable,
            HADIR_CI_CACHE=str(self.cache),
            HADIR_VENV=str(self.repo / ".venv"),
            **env,
        )
        return subprocess.run(
            ["bash", str(self.repo / ".ci" / "run")],
            capture_output=True,
            text=True,
            env=environ,
            timeout=120,
            check=False,
        )


@pytest.fixture
def checkout(tmp_path: Path) -> Checkout:
    if shutil.which("setsid") is None or shutil.which("nice") is None:
        pytest.skip("needs setsid and nice (util-linux, coreutils)")
    return Checkout(tmp_path)


def test_the_check_runs_beside_the_suite_in_its_own_log(checkout: Checkout) -> None:
    result = checkout.run()
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    # The suite's output as it comes; the check's whole log after it, between banners.
    assert out.index("SUITE OUTPUT") < out.index("the arm64 check (scripts/check-arm64.sh")
    assert out.index("the arm64 check (scripts/check-arm64.sh") < out.index("ARM64 OUTPUT")
    log = (checkout.repo / "test-output" / "arm64-check.log").read_text()
    assert "ARM64 OUTPUT" in log
    assert "SUITE OUTPUT" not in log
    assert "== CI: suite passed in" in out
    assert "arm64 check passed in" in out
    assert "SKIPPED" not in result.stderr
    # The tools were asked of apt; the venv came from the index, then the wheelhouse was kept.
    assert "install" in (checkout.marks / "apt.log").read_text()
    assert (checkout.cache / "wheels" / "host-k" / "complete").is_file()
    wheel = (checkout.marks / "pip.log").read_text().splitlines()
    wheels = checkout.cache / "wheels" / "host-k"
    # What the venv holds one by one; the build backend with its dependencies.
    assert wheel == [
        f"wheel --quiet --no-deps -w {wheels} numpy==1.26.4",
        f"wheel --quiet -w {wheels} setuptools>=77",
    ]


def test_the_next_run_installs_the_venv_from_the_wheelhouse(checkout: Checkout) -> None:
    assert checkout.run().returncode == 0
    shutil.rmtree(checkout.repo / ".venv")
    second = checkout.run()
    assert second.returncode == 0, second.stdout + second.stderr
    assert "installed from the wheelhouse" in second.stdout
    installs = (checkout.marks / "venv.log").read_text().splitlines()
    assert installs == ["venv PIP_NO_INDEX=", "venv PIP_NO_INDEX=1"]


@pytest.mark.parametrize(
    ("suite", "arm64", "required", "status"),
    [
        ("1", "0", "", 1),  # a failed suite fails CI
        ("0", "1", "", 1),  # wrong answers on arm64 fail CI
        ("1", "1", "", 1),
        ("0", "3", "", 0),  # cannot emulate: a loud skip
        ("0", "3", "required", 3),  # ... or a failure, for a release
    ],
)
def test_both_results_decide(
    checkout: Checkout, suite: str, arm64: str, required: str, status: int
) -> None:
    result = checkout.run(
        FAKE_SUITE_EXIT=suite, FAKE_ARM64_EXIT=arm64, HADIR_ARM64_CHECK=required
    )
    assert result.returncode == status, result.stdout + result.stderr
    # Whatever failed, both results are shown.
    assert "SUITE OUTPUT" in result.stdout
    assert "ARM64 OUTPUT" in result.stdout
    summary = next(line for line in result.stdout.splitlines() if line.startswith("== CI:"))
    assert ("suite passed" in summary) == (suite == "0")
    assert ("arm64 check passed" in summary) == (arm64 == "0")
    skipped = "!!! SKIPPED: the arm64 check could not run" in result.stderr
    assert skipped == (arm64 == "3" and not required)
